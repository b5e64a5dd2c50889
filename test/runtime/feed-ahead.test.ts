/**
 * Feeding ahead (`feedsAhead` in src/runtime/query-run.ts): the decode loop submits a sampled token's
 * step before it delivers the token, awaits it only when the consumer asks for the next one, and
 * takes the entry back when a delivery-stage criterion or a cancel ends the query. Oracle: the same
 * query with a step listener installed, which turns feeding ahead off (documented there): every way
 * a query can end must leave the same result, the same KV cache (token and position of every slot),
 * the same carried-over token (the next turn's prompt) and the same next turn (tokens and logits
 * rows, bit for bit). Execute counts show that feeding ahead happened, and a gate that holds the
 * executes shows a cancel abandoning a step that still runs, and the next query waiting for it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphBackend } from '../../src/backends/backend.js';
import type { Dialog, QueryOptions, QueryResult } from '../../src/runtime/dialog.js';
import { BACKENDS, DialogPool, makeModel, sharedTokenizer, stopFrom, tempDir, tokenIds, tokenTurn, writeBundle, type Bundle } from './fixtures.js';

const model = makeModel({}, 'feed-ahead');
const PROMPT = tokenIds(9, 3, 1, model.config.vocabSize - 1);
const NEXT_PROMPT = tokenIds(4, 4, 1, model.config.vocabSize - 1);
/** Graphs per decode step: the bundle's splits. */
const PARTS = 2;
/** Deliveries before an ending that comes mid-query. */
const AT = 3;

class StepFailure extends Error {}


/** Counts submitted executes and fails the one numbered `failAt` (1-based), if set. */
class CountingBackend {
  executes = 0;
  failAt = 0;

  wrap(inner: GraphBackend): GraphBackend {
    return {
      ...passThrough(inner),
      execute: (graph) => {
        this.executes++;
        if (this.executes === this.failAt) return Promise.reject(new StepFailure(`execute ${this.executes} of ${graph} failed`));
        return inner.execute(graph);
      },
    };
  }
}

/** Holds every execute that ends while it is closed until it opens again. */
class Gate {
  private opened: Promise<void> = Promise.resolve();
  private release: () => void = () => {};

  close(): void {
    this.opened = new Promise((resolve) => (this.release = resolve));
  }

  open(): void {
    this.release();
  }

  wrap(inner: GraphBackend): GraphBackend {
    return { ...passThrough(inner), execute: (graph) => inner.execute(graph).then(() => this.opened) };
  }
}

function passThrough(inner: GraphBackend): GraphBackend {
  return {
    type: inner.type,
    graphs: inner.graphs,
    executesOffThread: inner.executesOffThread,
    allocate: (n) => inner.allocate(n),
    bind: (graph, buffers) => inner.bind(graph, buffers),
    execute: (graph) => inner.execute(graph),
    dispose: () => inner.dispose(),
  };
}

/**
 * What drives the first query: its dialog, the recorders to pass in its options, the backend's
 * counter, and `park`, awaited at each piece the consumer takes (the consumer's own work: one
 * macrotask turn, in which a step waiting for one runs).
 */
interface Drive {
  readonly dialog: Dialog;
  readonly recorders: QueryOptions;
  readonly counter: CountingBackend;
  readonly park: () => Promise<void>;
}

interface Ended {
  readonly result?: QueryResult;
  readonly error?: unknown;
  readonly pieces: string[];
  /** A query left parked for the next turn to cancel. */
  readonly parked?: AsyncGenerator<string, QueryResult>;
}

/** Pulls pieces until the query ends, or until `count` pieces arrived (then the query stays parked). */
async function pull(drive: Drive, generator: AsyncGenerator<string, QueryResult>, pieces: string[], count = Infinity): Promise<QueryResult | undefined> {
  while (pieces.length < count) {
    const next = await generator.next();
    if (next.done) return next.value;
    await drive.park();
    pieces.push(next.value);
  }
  return undefined;
}

/** Runs the prompt with `options` over the recorders until it ends, by a result or an error. */
async function run(drive: Drive, options: QueryOptions): Promise<Ended> {
  const pieces: string[] = [];
  const generator = drive.dialog.tokenQuery(PROMPT, { ...drive.recorders, ...options });
  try {
    return { result: await pull(drive, generator, pieces), pieces };
  } catch (error) {
    return { error, pieces };
  }
}

/** `onToken` that records, then does `then` at the AT-th delivery. */
const atDelivery = (drive: Drive, then: () => void): QueryOptions['onToken'] => (token) => {
  drive.recorders.onToken?.(token);
  if (token.index === AT) then();
};

const ENDINGS: Record<string, (drive: Drive) => Promise<Ended>> = {
  'a token cap': (drive) => run(drive, { maxTokens: 6 }),
  'a stop sequence': (drive) => run(drive, { maxTokens: 16 }),
  'an abort from onToken': (drive) => {
    const controller = new AbortController();
    return run(drive, { maxTokens: 16, signal: controller.signal, onToken: atDelivery(drive, () => controller.abort()) });
  },
  'an abort before the token was fed': (drive) => {
    const controller = new AbortController();
    let sampled = 0;
    return run(drive, {
      maxTokens: 16,
      signal: controller.signal,
      onLogits: (row, token) => {
        drive.recorders.onLogits?.(row, token);
        if (sampled++ === AT) controller.abort();
      },
    });
  },
  'onToken throwing': (drive) =>
    run(drive, {
      maxTokens: 16,
      onToken: atDelivery(drive, () => {
        throw new RangeError('the app failed on this token');
      }),
    }),
  'a break out of the loop': async (drive) => {
    const pieces: string[] = [];
    for await (const piece of drive.dialog.tokenQuery(PROMPT, { ...drive.recorders, maxTokens: 16 })) {
      await drive.park();
      pieces.push(piece);
      if (pieces.length === AT) break;
    }
    return { result: drive.dialog.lastResult, pieces };
  },
  'a new query taking the dialog': async (drive) => {
    const pieces: string[] = [];
    const parked = drive.dialog.tokenQuery(PROMPT, { ...drive.recorders, maxTokens: 16 });
    await pull(drive, parked, pieces, AT);
    return { pieces, parked };
  },
  'reset()': async (drive) => {
    const pieces: string[] = [];
    const generator = drive.dialog.tokenQuery(PROMPT, { ...drive.recorders, maxTokens: 16 });
    await pull(drive, generator, pieces, AT);
    drive.dialog.reset();
    return { result: await pull(drive, generator, pieces), pieces };
  },
  'a failed step': (drive) => {
    let sampled = 0;
    return run(drive, {
      maxTokens: 16,
      onLogits: (row, token) => {
        drive.recorders.onLogits?.(row, token);
        // The step that feeds the AT-th token is the next one submitted after it was sampled.
        if (sampled++ === AT) drive.counter.failAt = drive.counter.executes + 1;
      },
    });
  },
};

interface Observed {
  readonly result: Partial<QueryResult> | undefined;
  readonly error: string | undefined;
  readonly pieces: string[];
  readonly kv: Array<[number, number]>;
  /** The KV cache while the query was parked (a query the next turn cancels). */
  readonly kvAtPark: Array<[number, number]>;
  readonly next: { promptTokens: readonly number[]; generatedTokens: readonly number[]; logits: Float32Array[] };
  /** Executes submitted by the first query (prefill included). */
  readonly executes: number;
  /** Per delivered token: executes submitted between its sampling and its `onToken`. */
  readonly atDelivery: number[];
  /** Per piece the consumer took: executes submitted between the sampling of its token and the consumer taking it. */
  readonly atPark: number[];
}

describe.each(BACKENDS)('%s: a token fed while it is delivered ends every query as one fed after delivery', (backend) => {
  const pool = new DialogPool(backend);
  let bundle: Bundle;
  let stop: string;

  beforeAll(async () => {
    bundle = await writeBundle(tempDir(`feed-ahead-${backend}`), model, { name: 'ahead', arSet: [1, 8], cl: 64, splits: PARTS });
    const free = await tokenTurn(await pool.open(bundle), PROMPT, { maxTokens: 16 });
    expect(free.result.stopReason).toBe('max-tokens');
    ({ stop } = stopFrom(await sharedTokenizer(), free.sampled, AT + 1, 2));
  });
  afterAll(() => pool.disposeAll());

  async function observe(name: string, ahead: boolean): Promise<Observed> {
    const counter = new CountingBackend();
    const dialog = await pool.open(bundle, pool.config(bundle, name === 'a stop sequence' ? { stopSequences: [stop] } : {}), {
      wrapBackend: (inner) => counter.wrap(inner),
    });
    let atSample = 0;
    const atDelivery: number[] = [];
    const atPark: number[] = [];
    const recorders: QueryOptions = {
      onLogits: () => {
        atSample = counter.executes;
      },
      onToken: () => {
        atDelivery.push(counter.executes - atSample);
      },
      ...(ahead ? {} : { onStep: () => {} }),
    };
    const ended = await ENDINGS[name]({ dialog, recorders, counter, park: async () => {
        await new Promise((resolve) => setImmediate(resolve));
        atPark.push(counter.executes - atSample);
      },
    });
    const executes = counter.executes;
    const kv: Array<[number, number]> = [];
    for (let slot = 0; slot < dialog.kvCache.length; slot++) kv.push([dialog.kvCache.token(slot), dialog.kvCache.position(slot)]);
    counter.failAt = 0;
    // A parked query still runs: its KV cache is compared at its end, which the next turn brings (below).
    const kvAtPark = ended.parked === undefined ? [] : kv.splice(0);
    const next = await tokenTurn(dialog, NEXT_PROMPT, { maxTokens: 4 });
    let result = ended.result;
    if (ended.parked !== undefined) {
      const end = await ended.parked.next();
      expect(end.done).toBe(true);
      result = end.value as QueryResult;
    }
    const error = ended.error as Error | undefined;
    return {
      result: result && { stopReason: result.stopReason, promptTokens: result.promptTokens, generatedTokens: result.generatedTokens, text: result.text },
      error: error === undefined ? undefined : `${error.constructor.name}: ${error.message}`,
      pieces: ended.pieces,
      kv,
      kvAtPark,
      next: { promptTokens: next.result.promptTokens, generatedTokens: next.result.generatedTokens, logits: next.logits },
      executes,
      atDelivery,
      atPark,
    };
  }

  const expectedReasons: Record<string, string | undefined> = {
    'a token cap': 'max-tokens',
    'a stop sequence': 'stop-sequence',
    'an abort from onToken': 'abort',
    'an abort before the token was fed': 'abort',
    'onToken throwing': undefined,
    'a break out of the loop': 'cancelled',
    'a new query taking the dialog': 'cancelled',
    'reset()': 'cancelled',
    'a failed step': undefined,
  };

  it.each(Object.keys(ENDINGS))('ended by %s: same result, KV cache, carried-over token and next turn', async (name) => {
    const ahead = await observe(name, true);
    const after = await observe(name, false);
    const { executes: aheadExecutes, atDelivery: aheadAtDelivery, atPark: aheadAtPark, kvAtPark: aheadAtParkKv, ...aheadState } = ahead;
    const { executes: afterExecutes, atDelivery: afterAtDelivery, atPark: afterAtPark, kvAtPark: afterAtParkKv, ...afterState } = after;
    expect(aheadState).toEqual(afterState);
    // While a query is parked, the token it delivered last is already in the KV cache when fed ahead.
    expect(aheadAtParkKv.slice(0, afterAtParkKv.length)).toEqual(afterAtParkKv);
    expect(aheadAtParkKv.length - afterAtParkKv.length).toBe(name === 'a new query taking the dialog' ? 1 : 0);
    expect(ahead.result?.stopReason).toBe(expectedReasons[name]);
    if (name === 'onToken throwing') expect(ahead.error).toBe('CallbackError: the onToken callback threw: the app failed on this token');
    if (name === 'a failed step') expect(ahead.error).toMatch(/^StepFailure: execute \d+ of \S+ failed$/);
    expect(ahead.pieces.length).toBeGreaterThanOrEqual(AT);

    // Without feeding ahead, a token's step is submitted only after the consumer took it.
    expect([...afterAtDelivery, ...afterAtPark].filter((n) => n !== 0)).toEqual([]);
    // Fed ahead, a token's step has begun while the consumer takes it: on Reference it ran in the
    // consumer's macrotask turn, all its splits; on QnnHtp at least its first split was submitted
    // before `onToken` ran. Only a capped query's last token, or one sampled after the signal
    // fired, is not fed; a failed step stops at its first split.
    const lastUnfed = name === 'a token cap' || name === 'an abort before the token was fed' ? [0] : [];
    if (backend === 'Reference') {
      expect(aheadAtPark.filter((n) => n !== PARTS)).toEqual(name === 'a failed step' ? [1] : lastUnfed);
    } else {
      expect(aheadAtDelivery.filter((n) => n !== 1)).toEqual(lastUnfed);
      expect(aheadAtPark.filter((n) => n < 1)).toEqual(lastUnfed);
    }
    // A query ended at a delivery may have run (part of) the step of the token it did not keep fed;
    // a cap, a signal fired before the token was fed or a failed step wasted none.
    const wasted = aheadExecutes - afterExecutes;
    if (name === 'a token cap' || name === 'a failed step' || name === 'an abort before the token was fed') expect(wasted).toBe(0);
    else expect(wasted >= 0 && wasted <= PARTS, `${wasted} executes wasted`).toBe(true);
  });

  /**
   * Pulls the query until token AT was delivered, with the gate closed before that token's step was
   * submitted: the query is parked with its fed-ahead step still running (held by the gate).
   */
  async function parkWithStepHeld(dialog: Dialog, gate: Gate, options: QueryOptions = {}): Promise<AsyncGenerator<string, QueryResult>> {
    let sampled = 0;
    let delivered = -1;
    const generator = dialog.tokenQuery(PROMPT, {
      ...options,
      maxTokens: 16,
      onLogits: () => {
        if (sampled++ === AT) gate.close();
      },
      onToken: (t) => (delivered = t.index),
    });
    while (delivered < AT) {
      const next = await generator.next();
      if (next.done) throw new Error('the query ended before token AT');
    }
    return generator;
  }

  it.each(['reset()', 'a new query', 'restore()'])('%s while the fed-ahead step still runs abandons it; the next query waits for its end', async (cancel) => {
    const gate = new Gate();
    const gated = await pool.open(bundle, pool.config(bundle), { wrapBackend: (inner) => gate.wrap(inner) });
    const oracle = await pool.open(bundle);
    const saves = tempDir(`feed-ahead-save-${backend}`);
    if (cancel === 'restore()') {
      // A conversation to come back to: one turn, saved before the query that will be parked.
      for (const [dialog, name] of [[gated, 'gated'], [oracle, 'oracle']] as const) {
        await tokenTurn(dialog, NEXT_PROMPT, { maxTokens: 3 });
        await dialog.save(`${saves}/${name}`);
      }
    }
    const parked = await parkWithStepHeld(gated, gate);
    const parkedOracle = await parkWithStepHeld(oracle, new Gate(), { onStep: () => {} });
    if (cancel === 'reset()') {
      gated.reset();
      oracle.reset();
      expect(gated.contextUsed).toBe(0);
    }
    if (cancel === 'restore()') {
      await gated.restore(`${saves}/gated`);
      await oracle.restore(`${saves}/oracle`);
      expect(gated.contextUsed).toBe(oracle.contextUsed);
    }
    // The next query starts while the abandoned step is held; it runs once the step has ended.
    const next = tokenTurn(gated, NEXT_PROMPT, { maxTokens: 4 });
    const expected = await tokenTurn(oracle, NEXT_PROMPT, { maxTokens: 4 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    gate.open();
    const turn = await next;
    expect(turn.result.promptTokens).toEqual(expected.result.promptTokens);
    expect(turn.result.generatedTokens).toEqual(expected.result.generatedTokens);
    expect(turn.logits).toEqual(expected.logits);
    const [ended, endedOracle] = [await parked.next(), await parkedOracle.next()];
    expect(ended.done && endedOracle.done).toBe(true);
    const [result, resultOracle] = [ended.value as QueryResult, endedOracle.value as QueryResult];
    expect({ ...result, kpis: undefined }).toEqual({ ...resultOracle, kpis: undefined });
    expect(result.stopReason).toBe('cancelled');
  });

  it('dispose() while the fed-ahead step still runs waits for the step, then frees everything; the parked query ends cancelled', async () => {
    const gate = new Gate();
    const gated = await pool.open(bundle, pool.config(bundle), { wrapBackend: (inner) => gate.wrap(inner) });
    const parked = await parkWithStepHeld(gated, gate);
    let disposed = false;
    const disposing = gated.dispose().then(() => (disposed = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const waited = !disposed;
    gate.open();
    await disposing;
    // On QnnHtp the step's first split was submitted before the park, and is held; on Reference the
    // abandoned step may still have been waiting for its macrotask, and then never runs.
    if (backend === 'QnnHtp') expect(waited).toBe(true);
    const end = await parked.next();
    expect(end.done).toBe(true);
    expect((end.value as QueryResult).stopReason).toBe('cancelled');
    expect((end.value as QueryResult).generatedTokens.length).toBe(AT + 1);
  });
});
