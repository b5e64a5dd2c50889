/**
 * The queued-execution queue (src/qnn/binding/execution-queue.ts), driven by a fake backend: each
 * submission's notify function is called later, as QNN would, with the submission's notifyParam
 * and a status. Both ways the end reaches JS (the polled native store and the Koffi callback) must
 * settle every submission with its own status, in any completion order, refuse and recover as the
 * submission says, keep the event loop free while executions are in flight, and learn how long a
 * graph's executions take (the polled queue sleeps on that).
 */
import koffi from 'koffi';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/errors.js';
import { createExecutionQueue, newExecutionTiming, POLLED_CAPACITY, type ExecutionQueue, type ExecutionTiming } from '../../../src/qnn/binding/execution-queue.js';
import { statusStore } from '../../../src/qnn/binding/status-store.js';

type Notify = (param: unknown, status: number | bigint) => void;
const NotifyProto = koffi.proto('void notify_queue_test(void *param, uint64_t status)');

/** A fake backend: `submit` records each notifyParam; `end(i, status)` notifies submission i (0-based). */
class FakeBackend {
  readonly params: unknown[] = [];
  private readonly notify: Notify;

  constructor(queue: ExecutionQueue) {
    this.notify = koffi.decode(queue.notifyFn, NotifyProto) as Notify;
  }

  readonly submit = (param: unknown): number => {
    this.params.push(param);
    return 0;
  };

  end(i: number, status: number | bigint = 0): void {
    this.notify(this.params[i], status);
  }
}

const timing = newExecutionTiming;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const polledHere = statusStore().fn !== undefined;
const variants = [
  { name: 'polled, poll', options: { poll: true, completion: 'polled' as const }, runs: polledHere },
  { name: 'polled, adaptive', options: { poll: false, completion: 'polled' as const }, runs: polledHere },
  { name: 'Koffi callback', options: { poll: false, completion: 'callback' as const }, runs: true },
];

let queues: ExecutionQueue[] = [];
afterEach(() => {
  for (const queue of queues) queue.dispose();
  queues = [];
});

function open(options: (typeof variants)[number]['options']): { queue: ExecutionQueue; backend: FakeBackend } {
  const queue = createExecutionQueue(options);
  queues.push(queue);
  return { queue, backend: new FakeBackend(queue) };
}

/** A next submission goes through and settles (after a refusal or a failure, nothing is stuck). */
async function expectSettles(queue: ExecutionQueue, backend: FakeBackend): Promise<void> {
  const next = queue.submit(backend.submit, timing());
  backend.end(backend.params.length - 1, 0);
  expect(Number(await next)).toBe(0);
}

describe.each(variants)('execution queue ($name)', ({ options, runs }) => {
  it.skipIf(!runs)('settles each submission with its own status, whatever order they end in', async () => {
    const { queue, backend } = open(options);
    const results = [queue.submit(backend.submit, timing()), queue.submit(backend.submit, timing()), queue.submit(backend.submit, timing())];
    expect(queue.inFlight).toBe(3);
    await sleep(3);
    backend.end(2, 6001);
    await sleep(3);
    backend.end(0, 0);
    backend.end(1, 0x1_0000_0002n);
    const statuses = (await Promise.all(results)).map((s) => BigInt(s));
    expect(statuses).toEqual([0n, 0x1_0000_0002n, 6001n]);
    expect(queue.inFlight).toBe(0);
  });

  it.skipIf(!runs)('a refused submission settles at once with its status, and its slot is reused', async () => {
    const { queue, backend } = open(options);
    const refused = await queue.submit(() => 6000, timing());
    expect(Number(refused)).toBe(6000);
    expect(queue.inFlight).toBe(0);
    await expectSettles(queue, backend);
  });

  it.skipIf(!runs)('a submission that throws rejects with its error and leaves nothing in flight', async () => {
    const { queue, backend } = open(options);
    await expect(
      queue.submit(() => {
        throw new TypeError('bad argument');
      }, timing()),
    ).rejects.toThrow(new TypeError('bad argument'));
    expect(queue.inFlight).toBe(0);
    await expectSettles(queue, backend);
  });

  it.skipIf(!runs)('the event loop stays free while an execution is in flight: timers and I/O callbacks run', async () => {
    const { queue, backend } = open(options);
    const result = queue.submit(backend.submit, timing());
    const fired: number[] = [];
    for (const ms of [1, 5, 10]) setTimeout(() => fired.push(ms), ms);
    await sleep(25);
    expect(fired).toEqual([1, 5, 10]);
    backend.end(0, 0);
    expect(Number(await result)).toBe(0);
  });
});

describe.skipIf(!polledHere)('polled execution queue', () => {
  it('learns each graph\'s duration, and the last one\'s time from the first submission (its chain)', async () => {
    const { queue, backend } = open({ poll: true, completion: 'polled' });
    const first = timing();
    const second = timing();
    const started = performance.now();
    const results = [queue.submit(backend.submit, first), queue.submit(backend.submit, second)];
    await sleep(10);
    backend.end(0, 0);
    await results[0];
    const firstSeen = performance.now();
    await sleep(10);
    backend.end(1, 0);
    await results[1];
    const elapsed = performance.now() - started;
    expect(first.durationMs).toBeGreaterThanOrEqual(9);
    expect(first.durationMs).toBeLessThanOrEqual(firstSeen - started);
    // The second ran from the first one's end: its duration excludes the first's, its chain does not.
    expect(second.durationMs).toBeGreaterThanOrEqual(9);
    expect(second.durationMs).toBeLessThanOrEqual(elapsed - first.durationMs + 0.5);
    expect(second.chainMs).toBeGreaterThanOrEqual(19);
    expect(second.chainMs).toBeLessThanOrEqual(elapsed);
    expect(first.chainMs).toBeNaN(); // it never ended last in flight
  });

  it('adaptive: an execution that ends long before its expected end is seen within half of it', async () => {
    const { queue, backend } = open({ poll: false, completion: 'polled' });
    const graph: ExecutionTiming = { durationMs: 200, chainMs: 200 };
    const result = queue.submit(backend.submit, graph);
    await sleep(5);
    backend.end(0, 0);
    const seenAt = performance.now();
    expect(Number(await result)).toBe(0);
    // The looks before the expected end halve the time left: an early end is seen within half the
    // expected duration, not held until it, and the estimate shrinks to what was seen.
    expect(performance.now() - seenAt).toBeLessThan(150);
    expect(graph.chainMs).toBeLessThan(200);
  });

  it('adaptive: an execution submitted into an empty queue is expected from its submission, not from the last one\'s expected end', async () => {
    const { queue, backend } = open({ poll: false, completion: 'polled' });
    // The first ends long before its expected end (300 ms): seen at a halving look, ~150 ms in.
    const first = queue.submit(backend.submit, { durationMs: 300, chainMs: Number.NaN });
    await sleep(5);
    backend.end(0, 0);
    await first;
    // Submitted at once, the second is expected 20 ms on: the looks come from there, so its end at
    // 25 ms is seen while polling (not ~85 ms on, as when expected after the first one's 300 ms).
    const second = queue.submit(backend.submit, { durationMs: 20, chainMs: Number.NaN });
    await sleep(25);
    backend.end(1, 0);
    const endedAt = performance.now();
    await second;
    expect(performance.now() - endedAt).toBeLessThan(30);
  });

  it(`refuses a submission beyond ${POLLED_CAPACITY} in flight, naming the limit, and keeps the others`, async () => {
    const { queue, backend } = open({ poll: false, completion: 'polled' });
    const results = Array.from({ length: POLLED_CAPACITY }, () => queue.submit(backend.submit, timing()));
    await expect(queue.submit(backend.submit, timing())).rejects.toThrow(
      new InvalidArgumentError(`graphExecuteAsync: ${POLLED_CAPACITY} executions are already in flight; await some before submitting more`),
    );
    expect(new Set(backend.params).size).toBe(POLLED_CAPACITY);
    for (let i = 0; i < POLLED_CAPACITY; i++) backend.end(i, i);
    expect((await Promise.all(results)).map(Number)).toEqual(Array.from({ length: POLLED_CAPACITY }, (_, i) => i));
  });
});
