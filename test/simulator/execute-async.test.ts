/**
 * graphExecuteAsync of the simulated provider, called raw (docs/qnn-abi.md#queued-execution): the
 * submission checks the arguments and returns at once; the graph runs later, executions in
 * submission order, each followed by one notify call with its status; a graphExecute runs after
 * what is queued; contextFree refuses a context with queued executions.
 */
import koffi from 'koffi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulatedQnn, type SimulatedQnn } from '../../src/simulator/index.js';
import { ctxBin, Session } from './fixtures.js';
import { codeOf, encodeTensors, NULL, type Ptr } from './raw-client.js';

const SLOT_EXECUTE_ASYNC = 22;
const ExecuteAsync = koffi.proto('uint64_t (void *, void *, uint32_t, void *, uint32_t, void *, void *, void *, void *)');
const Notify = koffi.proto('void (void *, uint64_t)');
const ContextFree = koffi.proto('uint64_t (void *, void *)');

let bytes: Uint8Array;
const sims: SimulatedQnn[] = [];
const sessions: Session[] = [];
/** Every notify call: [notifyParam, status]. */
const notified: [number, number][] = [];
const waiters: (() => void)[] = [];
const notify = koffi.register((param: bigint | null, status: number | bigint) => {
  notified.push([param === null ? 0 : Number(param), Number(status)]);
  for (const wake of waiters.splice(0)) wake();
}, koffi.pointer(Notify));

beforeAll(async () => {
  bytes = (await ctxBin('execute-async')).bytes;
});
afterAll(() => {
  sessions.forEach((s) => s.close());
  for (const sim of sims) {
    expect(sim.liveHandles()).toBe(0);
    sim.dispose();
  }
  koffi.unregister(notify);
});

async function open(options?: Parameters<typeof createSimulatedQnn>[0]): Promise<{ s: Session; graph: string; sim: SimulatedQnn }> {
  const sim = createSimulatedQnn(options);
  sims.push(sim);
  const s = await Session.open(sim, bytes);
  sessions.push(s);
  const graph = s.names.find((n) => n.includes('ar4'))!;
  s.setIds(graph, [1, 2, 3, 4]);
  return { s, graph, sim };
}

function submit(s: Session, graph: string, param: number, options: { handle?: Ptr; notifyFn?: Ptr | null } = {}): number {
  const open = s.graph(graph);
  const ins = encodeTensors(s.qnn.heap, s.wire(graph, 'inputs'));
  const outs = encodeTensors(s.qnn.heap, s.wire(graph, 'outputs'));
  const fn = options.notifyFn === undefined ? notify : options.notifyFn;
  return s.qnn.call(SLOT_EXECUTE_ASYNC, ExecuteAsync, options.handle ?? open.handle, ins.ptr, open.meta.inputs.length, outs.ptr, open.meta.outputs.length, NULL, NULL, fn, param);
}

async function notifications(count: number): Promise<[number, number][]> {
  while (notified.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
  return notified.splice(0, count);
}

const outputBytes = (s: Session, graph: string): string =>
  s.graph(graph).meta.outputs.map((t) => Buffer.from(s.graph(graph).buffers.get(t.name)!.bytes).toString('hex')).join('|');

describe('graphExecuteAsync (simulated provider)', () => {
  it('returns before the graph runs, runs it as graphExecute would, and notifies each execution once, in submission order', async () => {
    const { s, graph } = await open();
    expect(codeOf(s.execute(graph))).toBe(0);
    const want = outputBytes(s, graph);
    for (const t of s.graph(graph).meta.outputs) s.graph(graph).buffers.get(t.name)!.bytes.fill(0);
    const zeroed = outputBytes(s, graph);
    expect(zeroed).not.toBe(want);
    expect([submit(s, graph, 7), submit(s, graph, 8), submit(s, graph, 9)]).toEqual([0, 0, 0]);
    // Nothing ran inside the calls.
    expect(notified).toEqual([]);
    expect(outputBytes(s, graph)).toBe(zeroed);
    expect(await notifications(3)).toEqual([[7, 0], [8, 0], [9, 0]]);
    expect(outputBytes(s, graph)).toBe(want);
  });

  it('refuses a bad submission with its error and no notify: unknown graph handle, NULL notifyFn', async () => {
    const { s, graph } = await open();
    const badHandle = submit(s, graph, 1, { handle: 0x1234n });
    expect(s.qnn.failure(badHandle, 6001)).toBe('graphExecuteAsync: graph 0x1234 is not a live graph handle');
    const noNotify = submit(s, graph, 2, { notifyFn: null });
    expect(s.qnn.failure(noNotify, 6000)).toBe('graphExecuteAsync: notifyFn is NULL (the simulated provider reports every end)');
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(notified).toEqual([]);
  });

  it('a failing execution is reported through the notify status, with its message; the queue goes on', async () => {
    const { s, graph, sim } = await open();
    sim.setFailExecute({ graph, code: 6004 });
    expect(submit(s, graph, 1)).toBe(0);
    const [[param, status]] = await notifications(1);
    expect(param).toBe(1);
    expect(s.qnn.failure(status, 6004)).toBe(`graphExecuteAsync: graph "${graph}" fails with 6004 (failExecute test hook)`);
    sim.setFailExecute(null);
    expect(submit(s, graph, 2)).toBe(0);
    expect(await notifications(1)).toEqual([[2, 0]]);
    expect(() => sim.setFailExecute({ graph, code: 0 })).toThrow('failExecute.code');
  });

  it('contextFree refuses a context with queued executions; graphExecute runs what is queued first', async () => {
    const { s, graph } = await open();
    expect(submit(s, graph, 3)).toBe(0);
    const refused = s.qnn.call(14, ContextFree, s.context, NULL);
    expect(s.qnn.failure(refused, 5000)).toMatch(/^contextFree: context 0x[0-9a-f]+ has 1 queued execution\(s\) \(graphExecuteAsync\) not yet ended$/);
    expect(codeOf(s.execute(graph))).toBe(0);
    // The queued execution ran inside graphExecute: the context may go now; its notify still follows.
    s.qnn.ok(s.qnn.call(14, ContextFree, s.context, NULL));
    s.context = NULL;
    expect(notified).toEqual([]);
    expect(await notifications(1)).toEqual([[3, 0]]);
  });
});
