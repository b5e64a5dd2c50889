/**
 * Float against quantised, step by step: the same prompt on the demo model in float32 and on its
 * HTP-quantised twin (uint8 KV, uint16 activations), both teacher-forced to the same tokens so their
 * steps align, each traced by a `TraceWriter`; `diffTraces` then reports per step and tensor the
 * SQNR, max error and argmax agreement, and where (if anywhere) the quantised run parts from the
 * float one. `genie-ts trace diff A B --html report.html` prints the same from the command line.
 *
 *   npx tsx examples/trace-diff.ts
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dialog, TraceWriter, diffTraces, readTrace, writeDemoBundle } from '../src/index.js'; // in an app: from 'genie-ts'

const work = mkdtempSync(join(tmpdir(), 'genie-ts-example-'));
// A tiny random-weight demo model (its text is gibberish by design) and its quantised twin.
const shape = { layers: 1, hidden: 32, heads: 2, kvHeads: 1, ar: [1, 8], cl: 64 };
const float = await writeDemoBundle(join(work, 'float'), shape);
const htp = await writeDemoBundle(join(work, 'htp'), { ...shape, quant: 'htp' });
const prompt = '<|im_start|>user\nCount to five.<|im_end|>\n<|im_start|>assistant\n';
const tokens = [16, 11, 220, 17, 11, 220, 18]; // what both runs generate, whatever they would sample

async function traced(config: string, dir: string): Promise<void> {
  await using dialog = await Dialog.create(config);
  const trace = new TraceWriter(dir);
  try {
    for await (const _piece of dialog.query(prompt, { forceTokens: tokens, onStep: trace.listener }));
  } finally {
    trace.finish();
  }
}
await traced(float.configPath, join(work, 'trace-float'));
await traced(htp.configPath, join(work, 'trace-htp'));

const diff = await diffTraces(await readTrace(join(work, 'trace-float')), await readTrace(join(work, 'trace-htp')), { minSqnrDb: 20 });
for (const step of diff.steps) {
  const logits = step.tensors.find((t) => t.role === 'logits');
  const worst = step.tensors.reduce((a, b) => (a.sqnrDb <= b.sqnrDb ? a : b));
  console.log(`step ${step.index} (${step.kind}): lowest SQNR ${worst.sqnrDb.toFixed(1)} dB (${worst.name})` +
    (logits === undefined ? '' : `, logits ${logits.sqnrDb.toFixed(1)} dB, argmax ${logits.argmax?.a} vs ${logits.argmax?.b}`));
}
console.log(diff.firstParting === null ? 'the quantised run never parts from the float one at 20 dB' : `parts at step ${diff.firstParting.step}, ${diff.firstParting.tensor}: ${diff.firstParting.why}`);
if (diff.steps.length === 0) process.exit(1);
