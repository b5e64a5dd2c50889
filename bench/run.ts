/**
 * `npm run bench`: every suite in this folder, printed as markdown tables (medians in microseconds,
 * ratios to a floor measured in the same run). Runs with `--expose-gc` so the heap-delta probe is
 * meaningful. `npm run bench -- kv engine` runs only the named suites; `--json FILE` also writes
 * every row as JSON (see `jsonRows` in harness.ts) so tools can track the figures across commits.
 */
import { writeFileSync } from 'node:fs';
import { jsonRows, printTable, type JsonRow, type Measurement } from './harness.js';

type Suite = { title: string; load: () => Promise<{ run: () => Promise<Measurement[]> }> };

const suites: Record<string, Suite> = {
  sampler: { title: 'Sampler (vocab 151936 and 128256, uint16 logits unless float32 is named; ratios to a floor of one pass)', load: () => import('./sampler.js') },
  kv: { title: 'Per-step KV update, mask and cos/sin (Qwen2-0.5B, CL 4096)', load: () => import('./kv.js') },
  engine: { title: 'Engine host overhead (Qwen2-0.5B shapes, null executor)', load: () => import('./engine.js') },
  'npu-idle': { title: 'NPU idle: host time the NPU waits for (Llama-3.2-1B shapes, Genie default sampler, native test provider sleeping 6200 us per execute = 18.6 ms / 3 splits per token)', load: () => import('./npu-idle.js') },
  mmap: { title: 'use-mmap: a 1 GiB ctx-bin mapped vs read (Llama-3.2-1B shapes, native test provider reading the binary through the pointer, a child process per mode, median of 3)', load: () => import('./mmap.js') },
  qnn: { title: 'QNN binding: graph execute overhead (101 IO tensors, simulated provider, no graph work)', load: () => import('./qnn.js') },
  fidelity: { title: 'Quantized demo bundles vs float (teacher-forced, 64 steps)', load: () => import('./fidelity.js') },
  demo: { title: 'Reference backend on the demo model (median per token)', load: () => import('./demo.js') },
  reference: { title: 'Reference executor at Qwen2-0.5B size (random weights, CL 4096; ratios to a naive single-threaded pass over the weights)', load: () => import('./reference.js') },
  vision: { title: 'Image preprocessing: JPEG to pixel_values (genie-ts/vision)', load: () => import('./vision.js') },
};

const args = process.argv.slice(2);
let jsonFile: string | undefined;
const selected: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--json') {
    jsonFile = args[++i];
    if (jsonFile === undefined || jsonFile === '' || jsonFile.startsWith('--')) throw new Error('--json needs a file path');
  } else if (args[i].startsWith('--json=')) {
    jsonFile = args[i].slice('--json='.length);
    if (jsonFile === '') throw new Error('--json needs a file path');
  } else {
    selected.push(args[i]);
  }
}
for (const name of selected) {
  if (!(name in suites)) throw new Error(`unknown bench suite "${name}" (known: ${Object.keys(suites).join(', ')})`);
}
const json: JsonRow[] = [];
for (const [name, suite] of Object.entries(suites)) {
  if (selected.length > 0 && !selected.includes(name)) continue;
  const rows = await (await suite.load()).run();
  printTable(suite.title, rows);
  json.push(...jsonRows(name, suite.title, rows));
  // Written after every suite, so a later suite's failure keeps the figures already measured.
  if (jsonFile !== undefined) writeFileSync(jsonFile, `${JSON.stringify(json, null, 2)}\n`);
}
if (jsonFile !== undefined) {
  writeFileSync(jsonFile, `${JSON.stringify(json, null, 2)}\n`);
  console.log(`\n${json.length} rows written to ${jsonFile}`);
}
