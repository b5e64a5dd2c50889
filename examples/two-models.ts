/**
 * Two models in one process: two dialogs open side by side, one tokenizer shared (loading the Qwen
 * vocabulary once), their queries running at the same time. Each dialog owns its backend and
 * buffers; the event loop interleaves their steps.
 *
 *   npx tsx examples/two-models.ts
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dialog, loadTokenizer, writeDemoBundle } from '../src/index.js'; // in an app: from 'genie-ts'

const work = mkdtempSync(join(tmpdir(), 'genie-ts-example-'));
const small = { layers: 1, hidden: 32, heads: 2, kvHeads: 1, ar: [1, 8], cl: 64 };
const [a, b] = await Promise.all([
  writeDemoBundle(join(work, 'a'), { ...small, seed: 1 }),
  writeDemoBundle(join(work, 'b'), { ...small, seed: 2, quant: 'htp' }), // a quantised twin with other weights
]);
const tokenizer = await loadTokenizer(join(a.dir, 'tokenizer.json'));
await using first = await Dialog.create(a.configPath, { tokenizer });
await using second = await Dialog.create(b.configPath, { tokenizer });

async function answer(dialog: Dialog, name: string): Promise<string> {
  const reply = dialog.query('<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n', { maxTokens: 6 });
  let text = '';
  for await (const piece of reply) text += piece;
  const { kpis } = await reply.result;
  return `${name}: ${JSON.stringify(text)} (${kpis['token-generation-rate'].toFixed(1)} tokens/s)`;
}

console.log((await Promise.all([answer(first, 'model a'), answer(second, 'model b')])).join('\n'));
