/**
 * Child of test/reliability/qnn-memory-lifetime.test.ts (run with `--expose-gc` in NODE_OPTIONS):
 * memory from the QnnHtp backend's `allocate()` used in ways that once crashed the process.
 *
 * `node qnn-memory-after-dispose.ts <scenario> <ctx-bin>...`, scenarios:
 * - `rpcmem-kept`: the IO buffers are rpcmem blocks (the simulated provider's rpcmem, as on a
 *   device); the engine-sized buffers are bound and one graph runs; a 4 MiB and a 16-byte buffer are
 *   kept past `dispose()` (called three times, two of them at once), read and written, other memory
 *   is allocated and collected, and they are read and written again. Before the fix the blocks were
 *   freed under these views: the 4 MiB read segfaulted.
 * - `raw-transferred`: raw client buffers whose ArrayBuffers the caller transfers away with
 *   `structuredClone` and drops; the graph then runs 20 times with collections in between. Before the
 *   fix the transfer moved JS-owned memory QNN had the address of, and GC freed it under QNN
 *   (glibc "unaligned tcache chunk", SIGSEGV or SIGABRT).
 * - `rpcmem-aliased`: the caller reads a stream into a kept rpcmem buffer through a BYOB reader,
 *   which moves the buffer's memory to a new ArrayBuffer (the `value` it returns) that the backend
 *   cannot reach; after dispose that alias must still read live memory (the block is kept, not freed).
 *
 * Prints one JSON line: what each kept view read and did after dispose, and the provider's counters.
 */
import type { GraphBackend } from '../../../src/backends/backend.js';
import { openQnnBackend } from '../../../src/backends/qnn/index.js';
import { rpcmemAllocator } from '../../../src/qnn/binding/index.js';
import { createSimulatedQnn } from '../../../src/simulator/index.js';
import { byteSize } from '../../../src/tensor/dtype.js';
import { elementCount } from '../../../src/tensor/shape.js';

const [scenario, ...paths] = process.argv.slice(2);
const collect = (globalThis as { gc?: () => void }).gc;
if (collect === undefined) throw new Error('run with NODE_OPTIONS=--expose-gc');

const sim = createSimulatedQnn();
const shared = scenario === 'raw-transferred' ? undefined : rpcmemAllocator(sim.rpcmem);
const backend: GraphBackend = await openQnnBackend(paths, { simulated: sim, ...(shared ? { sharedMemory: shared } : {}) });

/** One buffer per tensor name, as large as its largest use, bound to every graph. */
const io = new Map<string, Uint8Array>();
const sizes = new Map<string, number>();
for (const graph of backend.graphs) {
  for (const t of [...graph.inputs, ...graph.outputs]) {
    sizes.set(t.name, Math.max(sizes.get(t.name) ?? 0, elementCount(t.shape) * byteSize(t.dtype)));
  }
}
for (const [name, bytes] of sizes) io.set(name, backend.allocate(bytes));
for (const graph of backend.graphs) backend.bind(graph.name, io);
const first = backend.graphs[0].name;

/** Allocates and drops about 64 MiB in small and large pieces, then collects, `rounds` times. */
function churn(rounds: number): void {
  for (let r = 0; r < rounds; r++) {
    let junk: unknown[] = [];
    for (let i = 0; i < 64; i++) junk.push(new Float64Array(128 * 1024 / 8).fill(r), { i, s: `x${i}`.repeat(32) });
    junk.push(new ArrayBuffer(8 << 20));
    junk = [];
    collect!();
  }
}

const describeView = (view: Uint8Array) => {
  let sum = 0;
  for (let i = 0; i < 16; i++) sum += view[i] ?? 0;
  view[1] = 3; // an indexed write: a no-op on a detached view
  let fill = 'ok';
  try {
    view.fill(1);
  } catch (error) {
    fill = (error as Error).constructor.name;
  }
  return { byteLength: view.byteLength, first: view[0] ?? null, sum, last: view[view.byteLength - 1] ?? null, fill };
};

const counters = () => ({
  rpcmemAlloc: sim.calls('rpcmemAlloc'),
  rpcmemFree: sim.calls('rpcmemFree'),
  liveHandles: sim.liveHandles(),
});

let report: Record<string, unknown>;
if (scenario === 'rpcmem-kept') {
  await backend.execute(first);
  const kept = [backend.allocate(4 << 20), backend.allocate(16)];
  for (const view of kept) view.fill(0xa5);
  await Promise.all([backend.dispose(), backend.dispose()]);
  await backend.dispose();
  const afterDispose = kept.map(describeView);
  churn(4);
  const afterGc = kept.map(describeView);
  report = { afterDispose, afterGc, ...counters() };
} else if (scenario === 'raw-transferred') {
  for (const view of io.values()) structuredClone(view.buffer, { transfer: [view.buffer as ArrayBuffer] });
  churn(2);
  for (let i = 0; i < 20; i++) {
    await backend.execute(first);
    churn(1);
  }
  const intact = [...io].every(([name, view]) => view.byteLength === sizes.get(name));
  await backend.dispose();
  report = { executes: 20, intact, afterDispose: [...io.values()].slice(0, 2).map(describeView), ...counters() };
} else if (scenario === 'rpcmem-aliased') {
  const kept = backend.allocate(4 << 20);
  kept.fill(0x11);
  const source = new ReadableStream({
    type: 'bytes',
    pull(controller) {
      const request = controller.byobRequest!;
      (request.view as Uint8Array).set([1, 2, 3, 4], 0);
      request.respond(4);
    },
  });
  const { value } = await source.getReader({ mode: 'byob' }).read(kept.subarray(0, 1 << 20));
  const alias = new Uint8Array(value!.buffer);
  const movedAway = kept.byteLength === 0;
  await backend.dispose();
  churn(2);
  let sum = 0;
  for (let i = 0; i < 8; i++) sum += alias[i];
  alias.fill(0x22);
  report = { movedAway, alias: { byteLength: alias.byteLength, sum, last: alias[alias.byteLength - 1] }, ...counters() };
} else {
  throw new Error(`unknown scenario ${scenario}`);
}
sim.dispose();
churn(1);
process.stdout.write(`${JSON.stringify(report)}\n`);
