/**
 * Watching every graph step: an engine opened from a config without a dialog (`Engine.open`), a
 * step listener that prints what each step ran (variant, positions, KV entries, timings, the logits'
 * argmax), and a `TraceWriter` that writes each step's tensors as safetensors with a JSON index
 * (what `genie-ts run --trace DIR` writes; `genie-ts trace diff` compares two such folders).
 *
 *   npx tsx examples/step-trace.ts [TRACE_DIR]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, TraceWriter, writeDemoBundle, type StepEvent } from '../src/index.js'; // in an app: from 'genie-ts'

const work = mkdtempSync(join(tmpdir(), 'genie-ts-example-'));
const bundle = await writeDemoBundle(join(work, 'model'), { layers: 1, hidden: 32, heads: 2, kvHeads: 1, ar: [1, 8], cl: 64 });
const engine = await Engine.open(bundle.configPath);
const trace = new TraceWriter(process.argv[2] ?? join(work, 'trace'));
try {
  const steps: string[] = [];
  engine.setStepListener((event: StepEvent) => {
    trace.listener(event); // the event and its views are valid only during the call
    const ms = event.splits.reduce((sum, split) => sum + split.executeUs, 0) / 1e3;
    const next = event.logits === null ? '' : `, argmax ${event.logits.argmax()}`;
    steps.push(`#${event.index} ${event.kind} on ${event.variant.id}: positions ${event.positions.first}..${event.positions.end - 1}, ` +
      `${event.nValid} entries before it, ${ms.toFixed(2)} ms${next}`);
  });
  // Token ids straight into the graphs: prefill in AR-8 chunks, then greedy decode steps.
  let logits = await engine.prefill([9707, 11, 1879, 0, 358, 1079, 264, 1273, 315, 279]);
  for (let i = 0; i < 3; i++) logits = await engine.decode(logits!.argmax());
  console.log(steps.join('\n'));
  const summary = trace.finish();
  console.log(`trace: ${summary.steps} steps in ${summary.dir}`);
} finally {
  await engine.dispose();
}
