/**
 * A fresh process that restores a dialog save and continues it: `save-restore.ts <spec.json>` where the
 * spec is {config, baseDir, backend, restore, turns: [{tokens, maxTokens}]}. Reports, as one JSON line,
 * every turn's sampled tokens and the sha256 of each logits row they were drawn from.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Dialog, type DialogOptions } from '../../src/runtime/dialog.js';
import { createSimulatedQnn } from '../../src/simulator/index.js';

interface Spec {
  readonly config: string | object;
  readonly baseDir?: string;
  readonly backend: 'Reference' | 'QnnHtp';
  readonly restore: string;
  readonly turns: readonly { readonly tokens: number[]; readonly maxTokens: number }[];
}

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8')) as Spec;
const simulated = spec.backend === 'QnnHtp' ? createSimulatedQnn() : undefined;
const options: DialogOptions = { baseDir: spec.baseDir, ...(simulated === undefined ? {} : { backend: { qnn: { provider: 'simulated', simulated } } }) };
const dialog = await Dialog.create(spec.config, options);
await dialog.restore(spec.restore);
const contextUsed = dialog.contextUsed;
const turns = [];
for (const turn of spec.turns) {
  const sampled: number[] = [];
  const logits: string[] = [];
  const generator = dialog.tokenQuery(turn.tokens, {
    maxTokens: turn.maxTokens,
    onLogits: (row, token) => {
      sampled.push(token);
      logits.push(createHash('sha256').update(new Uint8Array(row.buffer, row.byteOffset, row.byteLength)).digest('hex'));
    },
  });
  for (;;) if ((await generator.next()).done) break;
  turns.push({ sampled, logits });
}
await dialog.dispose();
simulated?.dispose();
process.stdout.write(`${JSON.stringify({ contextUsed, turns })}\n`);
