/**
 * `npm run bench`: every suite in this folder, printed as markdown tables (medians in microseconds,
 * ratios to a floor measured in the same run). Runs with `--expose-gc` so the heap-delta probe is
 * meaningful. `npm run bench -- kv engine` runs only the named suites.
 */
import { printTable, type Measurement } from './harness.js';

type Suite = { title: string; load: () => Promise<{ run: () => Promise<Measurement[]> }> };

const suites: Record<string, Suite> = {
  sampler: { title: 'Sampler (vocab 151936, uint16 logits)', load: () => import('./sampler.js') },
  kv: { title: 'Per-step KV update, mask and cos/sin (Qwen2-0.5B, CL 4096)', load: () => import('./kv.js') },
  engine: { title: 'Engine host overhead (Qwen2-0.5B shapes, null executor)', load: () => import('./engine.js') },
  'npu-idle': { title: 'NPU idle: host time the NPU waits for (Llama-3.2-1B shapes, Genie default sampler, native test provider sleeping 6200 us per execute = 18.6 ms / 3 splits per token)', load: () => import('./npu-idle.js') },
  qnn: { title: 'QNN binding: graph execute overhead (101 IO tensors, simulated provider, no graph work)', load: () => import('./qnn.js') },
  fidelity: { title: 'Quantized demo bundles vs float (teacher-forced, 64 steps)', load: () => import('./fidelity.js') },
  demo: { title: 'Reference backend on the demo model (median per token)', load: () => import('./demo.js') },
  vision: { title: 'Image preprocessing: JPEG to pixel_values (genie-ts/vision)', load: () => import('./vision.js') },
};

const selected = process.argv.slice(2);
for (const name of selected) {
  if (!(name in suites)) throw new Error(`unknown bench suite "${name}" (known: ${Object.keys(suites).join(', ')})`);
}
for (const [name, suite] of Object.entries(suites)) {
  if (selected.length > 0 && !selected.includes(name)) continue;
  printTable(suite.title, await (await suite.load()).run());
}
