/**
 * Keeping a conversation: `save(dir)` writes it (KV cache, token ledger, sampler RNG and params) and
 * `restore(dir)` brings it back in another dialog (or process) of the same model, which then
 * continues with exactly the tokens the first one would have generated. In memory, `checkpoint()`
 * and `rewindTo()` do the same without files.
 *
 *   npx tsx examples/save-restore.ts
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dialog, writeDemoBundle } from '../src/index.js'; // in an app: from 'genie-ts'

const work = mkdtempSync(join(tmpdir(), 'genie-ts-example-'));
const bundle = await writeDemoBundle(join(work, 'model'), { layers: 1, hidden: 32, heads: 2, kvHeads: 1, ar: [1, 8], cl: 96 });
const sampling = { sampler: { temp: 0.8, topK: 40, seed: 7 } }; // seeded sampling: the RNG state is saved too

/** One turn's generated token ids. */
async function turn(dialog: Dialog, text: string): Promise<readonly number[]> {
  const reply = dialog.query(`<|im_start|>user\n${text}<|im_end|>\n<|im_start|>assistant\n`, { maxTokens: 6 });
  for await (const _ of reply); // eslint-disable-line @typescript-eslint/no-unused-vars
  return (await reply.result).generatedTokens;
}

await using first = await Dialog.create(bundle.configPath, sampling);
await turn(first, 'Hello!');
const saved = join(work, 'conversation');
await first.save(saved);
const point = first.checkpoint();
const continued = await turn(first, 'And then?');

await using second = await Dialog.create(bundle.configPath, sampling); // or another process
await second.restore(saved);
const restored = await turn(second, 'And then?');

first.rewindTo(point); // back to just after the first turn, in memory
const rewound = await turn(first, 'And then?');

console.log(`continued ${continued.join(' ')}`);
console.log(`restored  ${restored.join(' ')}`);
console.log(`rewound   ${rewound.join(' ')}`);
if (restored.join() !== continued.join() || rewound.join() !== continued.join()) process.exit(1);
