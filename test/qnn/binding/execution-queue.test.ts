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
import { QnnExecutionNotRunError } from '../../../src/qnn/binding/errors.js';
import { createExecutionQueue, newGraphExecutions, QUEUE_CAPACITY, type ExecutionQueue, type GraphExecutions } from '../../../src/qnn/binding/execution-queue.js';
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

const timing = (name = 'g'): GraphExecutions => newGraphExecutions(name);
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

/** A promise's outcome once settled: its value, or its error. */
const outcome = <T>(promise: Promise<T>): Promise<T | unknown> => promise.then((value) => value, (error: unknown) => error);

const notRun = (graph: string, after: string): QnnExecutionNotRunError =>
  new QnnExecutionNotRunError(`graph "${graph}" was not executed: graph "${after}", which it was submitted to follow, failed or was not executed`);

describe.each(variants)('execution queue ($name): a submission that follows another (submitAfter)', ({ options, runs }) => {
  it.skipIf(!runs)('is submitted when the one it follows is seen ending (before that one\'s promise continuations run, but for a Koffi callback); a chain of three in order', async () => {
    const { queue, backend } = open(options);
    const [a, b, c] = ['a', 'b', 'c'].map((name) => timing(name));
    const submittedAtSettle: number[] = [];
    const first = queue.submit(backend.submit, a).then((status) => (submittedAtSettle.push(backend.params.length), status));
    const second = queue.submitAfter(backend.submit, b, a).then((status) => (submittedAtSettle.push(backend.params.length), status));
    const third = queue.submitAfter(backend.submit, c, b);
    // Only the first is submitted; the others wait (in slots of their own, not in flight).
    expect(backend.params.length).toBe(1);
    expect(queue.inFlight).toBe(1);
    await sleep(3);
    expect(backend.params.length).toBe(1);
    backend.end(0, 0);
    expect(Number(await first)).toBe(0);
    // When the first one's continuation ran, the second had been submitted already. Not with a
    // Koffi callback: QNN's thread waits in the notify, so the follower comes in the next macrotask.
    const deferred = options.completion === 'callback';
    expect(submittedAtSettle).toEqual([deferred ? 1 : 2]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(backend.params.length).toBe(2);
    backend.end(1, 0);
    expect(Number(await second)).toBe(0);
    expect(submittedAtSettle).toEqual(deferred ? [1, 2] : [2, 3]);
    await new Promise((resolve) => setImmediate(resolve));
    backend.end(2, 7);
    expect(Number(await third)).toBe(7);
    // Each submission has a notifyParam of its own.
    expect(new Set(backend.params).size).toBe(3);
    expect(queue.inFlight).toBe(0);
    await expectSettles(queue, backend);
  });

  it.skipIf(!runs)('is never submitted when the one it follows fails: it rejects as not run, and so does its own follower', async () => {
    const { queue, backend } = open(options);
    const [a, b, c] = ['split_1', 'split_2', 'split_3'].map((name) => timing(name));
    const first = queue.submit(backend.submit, a);
    const second = outcome(queue.submitAfter(backend.submit, b, a));
    const third = outcome(queue.submitAfter(backend.submit, c, b));
    backend.end(0, 6004);
    expect(Number(await first)).toBe(6004);
    expect(await second).toEqual(notRun('split_2', 'split_1'));
    expect(await second).toBeInstanceOf(QnnExecutionNotRunError);
    expect(await third).toEqual(notRun('split_3', 'split_2'));
    expect(backend.params.length).toBe(1);
    expect(queue.inFlight).toBe(0);
    // Their graphs' latest executions count as failed: a follower of them is not run either.
    expect(await outcome(queue.submitAfter(backend.submit, timing('d'), c))).toEqual(notRun('d', 'split_3'));
    await expectSettles(queue, backend);
  });

  it.skipIf(!runs)('follows an execution that has already ended: at once after a success, not at all after a failure or a refusal', async () => {
    const { queue, backend } = open(options);
    const [ok, failed, refused] = ['ok', 'failed', 'refused'].map((name) => timing(name));
    const done = queue.submit(backend.submit, ok);
    backend.end(0, 0);
    await done;
    const after = queue.submitAfter(backend.submit, timing('next'), ok);
    expect(backend.params.length).toBe(2);
    backend.end(1, 0);
    expect(Number(await after)).toBe(0);
    const failing = queue.submit(backend.submit, failed);
    backend.end(2, 6001);
    await failing;
    expect(await outcome(queue.submitAfter(backend.submit, timing('x'), failed))).toEqual(notRun('x', 'failed'));
    expect(Number(await queue.submit(() => 6000, refused))).toBe(6000);
    expect(await outcome(queue.submitAfter(backend.submit, timing('y'), refused))).toEqual(notRun('y', 'refused'));
    expect(backend.params.length).toBe(3);
    await expectSettles(queue, backend);
  });

  it.skipIf(!runs)('a follower whose submission throws rejects with that error, its own follower as not run; a second follower is refused', async () => {
    const { queue, backend } = open(options);
    const [a, b, c] = ['a', 'b', 'c'].map((name) => timing(name));
    const first = queue.submit(backend.submit, a);
    const second = outcome(
      queue.submitAfter(() => {
        throw new TypeError('bad argument');
      }, b, a),
    );
    const third = outcome(queue.submitAfter(backend.submit, c, b));
    await expect(queue.submitAfter(backend.submit, timing('d'), a)).rejects.toThrow(
      new InvalidArgumentError('graph "a"\'s latest execution already has a follower; "d" cannot follow it too'),
    );
    backend.end(0, 0);
    expect(Number(await first)).toBe(0);
    expect(await second).toEqual(new TypeError('bad argument'));
    expect(await third).toEqual(notRun('c', 'b'));
    expect(queue.inFlight).toBe(0);
    await expectSettles(queue, backend);
  });

  it.skipIf(!runs)('a backend that notifies before graphExecuteAsync returns: the submission settles, a follower of it too, nothing stays in flight', async () => {
    const { queue, backend } = open(options);
    const early = (param: unknown): number => {
      backend.submit(param);
      backend.end(backend.params.length - 1, 0);
      return 0;
    };
    const [a, b, c] = ['a', 'b', 'c'].map((name) => timing(name));
    const first = queue.submit(early, a);
    const second = queue.submitAfter(early, b, a);
    const third = queue.submitAfter(backend.submit, c, b);
    expect(Number(await first)).toBe(0);
    expect(Number(await second)).toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    backend.end(backend.params.length - 1, 0);
    expect(Number(await third)).toBe(0);
    expect(queue.inFlight).toBe(0);
    await expectSettles(queue, backend);
  });

  it.skipIf(!runs)('a submission that throws undefined rejects with undefined, and its follower is not run', async () => {
    const { queue, backend } = open(options);
    const [a, b] = ['a', 'b'].map((name) => timing(name));
    const first = outcome(
      queue.submit(() => {
        throw undefined;
      }, a),
    );
    const second = outcome(queue.submitAfter(backend.submit, b, a));
    const rejected = await queue.submit(() => {
      throw undefined;
    }, timing('c')).then(() => 'resolved', (error: unknown) => ['rejected', error]);
    expect(rejected).toEqual(['rejected', undefined]);
    expect(await first).toBeUndefined();
    expect(a.failed).toBe(true);
    expect(await second).toEqual(notRun('b', 'a'));
    expect(backend.params.length).toBe(0);
    await expectSettles(queue, backend);
  });

  it.skipIf(!runs)('a success is any status whose low 16 bits are 0 (QNN keeps its own bits above): the follower runs; an error code there is kept', async () => {
    const { queue, backend } = open(options);
    for (const [status, ok] of [[0x1000_0000_0000_0000n, true], [0x8000_0000_0001_0000n, true], [0x1000_0000_0000_1771n, false]] as const) {
      const [a, b] = ['a', 'b'].map((name) => timing(name));
      const first = queue.submit(backend.submit, a);
      const second = outcome(queue.submitAfter(backend.submit, b, a));
      backend.end(backend.params.length - 1, status);
      expect(BigInt(await first)).toBe(status);
      expect(a.failed).toBe(!ok);
      if (ok) {
        await new Promise((resolve) => setImmediate(resolve));
        backend.end(backend.params.length - 1, 0);
        expect(Number(await second)).toBe(0);
      } else {
        expect(await second).toEqual(notRun('b', 'a'));
      }
    }
    expect(queue.inFlight).toBe(0);
  });

  it.skipIf(!runs)('dispose rejects a follower still waiting (the one it follows can end no more) as not run', async () => {
    const { queue, backend } = open(options);
    const [a, b] = ['a', 'b'].map((name) => timing(name));
    void queue.submit(backend.submit, a);
    const waiting = outcome(queue.submitAfter(backend.submit, b, a));
    queue.dispose();
    expect(await waiting).toEqual(new QnnExecutionNotRunError('graph "b" was not executed: the queue was disposed while it waited to follow another execution'));
    expect(backend.params.length).toBe(1);
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
    const graph: GraphExecutions = { ...timing(), durationMs: 200, chainMs: 200 };
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

  it('adaptive: a graph that got faster is seen ending in time from its next execution on (an end seen after a sleep counts from the look before)', async () => {
    const { queue, backend } = open({ poll: false, completion: 'polled' });
    const graph: GraphExecutions = { ...timing(), durationMs: 200, chainMs: 200 };
    // Expected to take 200 ms, it takes 5: seen at a halving look, about 100 ms in.
    const first = queue.submit(backend.submit, graph);
    await sleep(5);
    backend.end(0, 0);
    await first;
    // The next execution, as fast, is seen within a few milliseconds of its end, not another halving
    // look later (an estimate of what the late look saw would put the next look about 50 ms in).
    const lags: number[] = [];
    for (let i = 1; i <= 2; i++) {
      const next = queue.submit(backend.submit, graph);
      await sleep(5);
      backend.end(i, 0);
      const endedAt = performance.now();
      await next;
      lags.push(performance.now() - endedAt);
    }
    expect(Math.max(...lags)).toBeLessThan(25);
  });

  it('adaptive: an execution submitted into an empty queue is expected from its submission, not from the last one\'s expected end', async () => {
    const { queue, backend } = open({ poll: false, completion: 'polled' });
    // The first ends long before its expected end (300 ms): seen at a halving look, ~150 ms in.
    const first = queue.submit(backend.submit, { ...timing(), durationMs: 300 });
    await sleep(5);
    backend.end(0, 0);
    await first;
    // Submitted at once, the second is expected 20 ms on: the looks come from there, so its end at
    // 25 ms is seen while polling (not ~85 ms on, as when expected after the first one's 300 ms).
    const second = queue.submit(backend.submit, { ...timing(), durationMs: 20 });
    await sleep(25);
    backend.end(1, 0);
    const endedAt = performance.now();
    await second;
    expect(performance.now() - endedAt).toBeLessThan(30);
  });

  it(`refuses a submission beyond ${QUEUE_CAPACITY} in flight, naming the limit, and keeps the others`, async () => {
    const { queue, backend } = open({ poll: false, completion: 'polled' });
    const results = Array.from({ length: QUEUE_CAPACITY }, () => queue.submit(backend.submit, timing()));
    await expect(queue.submit(backend.submit, timing())).rejects.toThrow(
      new InvalidArgumentError(`graphExecuteAsync: ${QUEUE_CAPACITY} executions are already in flight or waiting to follow one; await some before submitting more`),
    );
    expect(new Set(backend.params).size).toBe(QUEUE_CAPACITY);
    for (let i = 0; i < QUEUE_CAPACITY; i++) backend.end(i, i);
    expect((await Promise.all(results)).map(Number)).toEqual(Array.from({ length: QUEUE_CAPACITY }, (_, i) => i));
  });
});
