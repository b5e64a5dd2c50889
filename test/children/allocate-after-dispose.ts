/**
 * Child of test/backends/dispose.test.ts: opens the ctx-bins `argv[3..]` on backend `argv[2]`
 * (`Reference`, or `QnnHtp` on the simulated provider), allocates a 4 MiB and a 16-byte buffer,
 * writes them, disposes the backend and then uses them. Reports one JSON line per buffer. Before the
 * fix the QnnHtp buffers were Koffi views of freed native memory: the 4 MiB one segfaulted, the
 * small one read freed memory.
 */
import type { GraphBackend } from '../../src/backends/backend.js';
import { openQnnBackend } from '../../src/backends/qnn/index.js';
import { openReferenceBackend } from '../../src/backends/reference/index.js';
import { createSimulatedQnn } from '../../src/simulator/index.js';

const [kind, ...paths] = process.argv.slice(2);
const backend: GraphBackend =
  kind === 'QnnHtp' ? await openQnnBackend(paths, { simulated: createSimulatedQnn(), ownsSimulated: true }) : await openReferenceBackend(paths);
const buffers = [backend.allocate(4 << 20), backend.allocate(16)];
for (const buffer of buffers) buffer.fill(0xa5);
await backend.dispose();

const report = buffers.map((buffer) => {
  let sum = 0;
  for (let i = 0; i < 16; i++) sum += buffer[i] ?? 0;
  let fill = 'ok';
  try {
    buffer.fill(1);
  } catch (error) {
    fill = (error as Error).constructor.name;
  }
  const last = buffer[(4 << 20) - 1];
  return { byteLength: buffer.byteLength, first: buffer[0] ?? null, sum, last: last ?? null, fill };
});
process.stdout.write(`${JSON.stringify(report)}\n`);
