/**
 * A VLM query: a dialog with an image encoder (Genie's image-encoder config: encoder and projector
 * graphs) takes an image where the prompt says `<image>`; the image is read with sharp,
 * preprocessed like FastVLM's processor, encoded, and its rows spliced into the prompt's.
 *
 *   npx tsx examples/image-query.ts [IMAGE]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Dialog, writeDemoBundle } from '../src/index.js'; // in an app: from 'genie-ts'

const image = process.argv[2] ?? fileURLToPath(new URL('house.png', import.meta.url));
// A tiny random-weight VLM demo: a ViT image encoder and projector in front of a decoder.
const bundle = await writeDemoBundle(mkdtempSync(join(tmpdir(), 'genie-ts-example-')), { vision: true, layers: 2, hidden: 32, heads: 2, kvHeads: 1, ar: [1, 16], cl: 128 });
await using dialog = await Dialog.create(bundle.configPath, { imageEncoder: join(bundle.dir, 'image-encoder.json') });

const reply = dialog.query('<|im_start|>user\n<image>\nWhat is in this picture?<|im_end|>\n<|im_start|>assistant\n', {
  images: [image], // a path, bytes, or a preprocessed pixel tensor; one per <image>
  maxTokens: 8,
});
let text = '';
for await (const piece of reply) text += piece;
const { kpis } = await reply.result;
console.log(JSON.stringify(text));
console.log(`${kpis['num-images']} image: preprocess ${((kpis['image-preprocess-time'] ?? 0) / 1e3).toFixed(1)} ms, ` +
  `encoder ${((kpis['image-encoder-time'] ?? 0) / 1e3).toFixed(1)} ms; ${kpis['num-prompt-tokens']} prompt rows`);
if (kpis['num-images'] !== 1) process.exit(1);
