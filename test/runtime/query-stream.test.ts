/**
 * What a query returns besides its text pieces: the `result` promise (however the query ends, the
 * same object the generator returns and `lastResult` holds; rejected with the generator's error) and
 * `onToken`'s token events (ids, the text each released, indices). The oracles: the generator's own
 * return value and error, a second identical run without the option (invariance), `onLogits`'
 * sampled tokens, the streamed pieces. These are Dialog rules: one backend is enough.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { ContextLimitError } from '../../src/graphs/errors.js';
import { CallbackError } from '../../src/runtime/callbacks.js';
import { DisposedError } from '../../src/runtime/engine/engine.js';
import type { Dialog, QueryResult } from '../../src/runtime/dialog.js';
import { QueryNotStartedError, type QueryStream, type TokenEvent } from '../../src/runtime/query-stream.js';
import { exactError } from '../expect-error.js';
import { DialogPool, makeModel, stopFrom, tempDir, tokenIds, tokenTurn, writeBundle, type Bundle } from './fixtures.js';

const CONTEXT = 64;

describe('query() returns a QueryStream: its result promise and onToken events', () => {
  const root = tempDir('runtime-query-stream');
  const dialogs = new DialogPool('Reference');
  const model = makeModel({}, 'query-stream');
  const vocab = model.config.vocabSize;
  const ids = (n: number, seed: number): number[] => tokenIds(n, seed, 1, vocab - 1);
  let bundle: Bundle;

  beforeAll(async () => {
    bundle = await writeBundle(root, model, { name: 'query-stream', arSet: [1, 32], cl: 128, splits: 1 });
  });
  afterAll(() => dialogs.disposeAll());

  function open(options: { stopSequences?: string[]; contextSize?: number } = {}): Promise<Dialog> {
    return dialogs.open(bundle, dialogs.config(bundle, { contextSize: CONTEXT, ...options }));
  }

  async function collect(stream: AsyncGenerator<string, QueryResult>): Promise<{ pieces: string[]; returned: QueryResult }> {
    const pieces: string[] = [];
    for (;;) {
      const step = await stream.next();
      if (step.done) return { pieces, returned: step.value };
      pieces.push(step.value);
    }
  }

  /** What draining `stream` rejects with; its `result` must reject with the very same error. */
  async function failureOf(stream: QueryStream): Promise<unknown> {
    const failure = await collect(stream).then(
      () => new Error('the query did not fail'),
      (error: unknown) => error,
    );
    await expect(stream.result).rejects.toBe(failure);
    return failure;
  }

  /** `stream` fails with a CallbackError of exactly `message`, `thrown` as its cause. */
  async function expectCallbackFailure(stream: QueryStream, message: string, thrown: unknown): Promise<void> {
    const failure = await failureOf(stream);
    expect(failure).toEqual(exactError(CallbackError, message));
    expect((failure as CallbackError).cause).toBe(thrown);
  }

  it('a query run to its end: result resolves with the object the generator returns and lastResult holds', async () => {
    const dialog = await open();
    const stream = dialog.tokenQuery(ids(5, 1), { maxTokens: 6 });
    const { pieces, returned } = await collect(stream);
    const result = await stream.result;
    expect(result).toBe(returned);
    expect(result).toBe(dialog.lastResult);
    expect(result.stopReason).toBe('max-tokens');
    expect(result.generatedTokens).toHaveLength(6);
    expect(result.text).toBe(pieces.join(''));
  });

  it('break out of for await: result resolves with stop reason cancelled and the KPIs of the tokens delivered', async () => {
    const dialog = await open();
    const stream = dialog.tokenQuery(ids(5, 2), { maxTokens: 20 });
    let delivered = 0;
    for await (const piece of stream) {
      expect(typeof piece).toBe('string');
      if (++delivered === 3) break;
    }
    const result = await stream.result;
    expect(result.stopReason).toBe('cancelled');
    expect(result).toBe(dialog.lastResult);
    // Pieces can carry several tokens (held-back UTF-8 bytes): at least one token per piece delivered.
    expect(result.generatedTokens.length).toBeGreaterThanOrEqual(3);
    expect(result.kpis['num-generated-tokens']).toBe(result.generatedTokens.length);
    expect(result.kpis['num-prompt-tokens']).toBe(5);
  });

  it('a query cancelled by the next one: its result resolves cancelled, the next one runs', async () => {
    const dialog = await open();
    const first = dialog.tokenQuery(ids(4, 3), { maxTokens: 20 });
    await first.next();
    const second = dialog.tokenQuery(ids(3, 4), { maxTokens: 2 });
    await collect(second);
    expect((await first.result).stopReason).toBe('cancelled');
    expect((await second.result).stopReason).toBe('max-tokens');
  });

  it('closed before its first next(): result rejects with QueryNotStartedError (return) or the thrown error; never iterated: it waits', async () => {
    const dialog = await open();
    const closed = dialog.tokenQuery(ids(4, 15));
    expect(await closed.return(undefined as never)).toEqual({ done: true, value: undefined });
    await expect(closed.result).rejects.toEqual(
      exactError(QueryNotStartedError, 'the query was closed before its first next(): it never ran, so it has no result'),
    );
    const thrown = new Error('not now');
    const refused = dialog.tokenQuery(ids(4, 16));
    await expect(refused.throw(thrown)).rejects.toBe(thrown);
    await expect(refused.result).rejects.toBe(thrown);
    const waiting = dialog.tokenQuery(ids(4, 17), { maxTokens: 3 });
    const early = await Promise.race([waiting.result, new Promise((resolve) => setTimeout(() => resolve('pending'), 50))]);
    expect(early).toBe('pending');
    expect(dialog.contextUsed).toBe(0);
    await collect(waiting); // it can still run, and then settles
    expect((await waiting.result).stopReason).toBe('max-tokens');
  });

  it('a query the dialog refuses at its first next() (disposed since): result rejects with the same error', async () => {
    const dialog = await open();
    const late = dialog.tokenQuery(ids(4, 18));
    await dialog.dispose();
    const failure = await failureOf(late);
    expect(failure).toBeInstanceOf(DisposedError);
  });

  it('an abort before the first step resolves with stop reason abort, nothing fed', async () => {
    const dialog = await open();
    const stream = dialog.tokenQuery(ids(4, 5), { signal: AbortSignal.abort() });
    await collect(stream);
    const result = await stream.result;
    expect(result.stopReason).toBe('abort');
    expect(result.promptTokens).toEqual([]);
    expect(dialog.contextUsed).toBe(0);
  });

  it('a throwing onLogits: the generator and result reject with the same CallbackError, the thrown value as cause', async () => {
    const dialog = await open();
    const thrown = new RangeError('no logits today');
    const stream = dialog.tokenQuery(ids(4, 6), {
      onLogits: () => {
        throw thrown;
      },
    });
    await expectCallbackFailure(stream, 'the onLogits callback threw: no logits today', thrown);
  });

  it('a reply that fills the context: result rejects with the ContextLimitError that carries the partial result', async () => {
    const dialog = await open({ contextSize: 12 });
    const stream = dialog.tokenQuery(ids(8, 7));
    const failure = await failureOf(stream);
    expect(failure).toBeInstanceOf(ContextLimitError);
    expect(((failure as ContextLimitError).result as QueryResult).stopReason).toBe('context-limit');
    expect((failure as ContextLimitError).result).toBe(dialog.lastResult);
  });

  it('a rejected result nobody awaits is no unhandled rejection (the generator reports the error)', async () => {
    const dialog = await open();
    const unhandled: unknown[] = [];
    const listener = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', listener);
    try {
      const stream = dialog.tokenQuery(ids(4, 8), {
        onToken: () => {
          throw new Error('boom');
        },
      });
      await expect(collect(stream)).rejects.toThrow(CallbackError);
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      process.off('unhandledRejection', listener);
    }
    expect(unhandled).toEqual([]);
  });

  it('onToken reports every generated token: ids as sampled, indices from 0, texts adding up to the pieces; the run is unchanged', async () => {
    const plain = await tokenTurn(await open(), ids(6, 9), { maxTokens: 12 });
    const dialog = await open();
    const events: TokenEvent[] = [];
    const turn = await tokenTurn(dialog, ids(6, 9), { maxTokens: 12, onToken: (event) => events.push(event) });
    expect(turn.result.generatedTokens).toEqual(plain.result.generatedTokens);
    expect(turn.result.text).toBe(plain.result.text);
    expect(events.map((e) => e.id)).toEqual(turn.result.generatedTokens);
    expect(events.map((e) => e.id)).toEqual(turn.sampled);
    expect(events.map((e) => e.index)).toEqual(events.map((_, i) => i));
    expect(new Set(events).size).toBe(events.length); // a new object per token, safe to keep
    const released = events.map((e) => e.text).join('');
    // What the tokens released is what was streamed, but for the held-back text flushed at the end.
    expect(turn.pieces.join('').startsWith(released)).toBe(true);
    expect(turn.pieces.filter((piece) => piece !== '').slice(0, events.filter((e) => e.text !== '').length)).toEqual(
      events.map((e) => e.text).filter((text) => text !== ''),
    );
  });

  it('onToken with a stop sequence: its tokens are reported, then leave generatedTokens', async () => {
    const free = await tokenTurn(await open(), ids(5, 10), { maxTokens: 16 });
    const { stop, start } = stopFrom((await open()).tokenizer, free.result.generatedTokens, 4, 2);
    const dialog = await open({ stopSequences: [stop] });
    const events: TokenEvent[] = [];
    const turn = await tokenTurn(dialog, ids(5, 10), { maxTokens: 16, onToken: (event) => events.push(event) });
    expect(turn.result.stopReason).toBe('stop-sequence');
    const reported = events.map((e) => e.id);
    expect(reported.slice(0, turn.result.generatedTokens.length)).toEqual(turn.result.generatedTokens);
    expect(reported).toEqual(free.result.generatedTokens.slice(0, reported.length));
    expect(reported.length).toBeGreaterThanOrEqual(start + 2 - 1);
    expect(turn.result.text.includes(stop)).toBe(false);
  });

  it('a throwing onToken ends the query with CallbackError (onToken, cause attached); the dialog takes the next query', async () => {
    const dialog = await open();
    const thrown = new Error('stop here');
    const stream = dialog.tokenQuery(ids(4, 11), {
      maxTokens: 8,
      onToken: ({ index }) => {
        if (index === 2) throw thrown;
      },
    });
    await expectCallbackFailure(stream, 'the onToken callback threw: stop here', thrown);
    const next = await tokenTurn(dialog, ids(3, 12), { maxTokens: 2 });
    expect(next.result.stopReason).toBe('max-tokens');
  });

  it('a sampler stage of the caller that throws: CallbackError naming the stage and method, the thrown value as cause', async () => {
    const thrown = new Error('no candidates for me');
    let calls = 0;
    const stage = {
      name: 'flaky',
      apply(): void {
        if (++calls === 3) throw thrown;
      },
    };
    const dialog = await dialogs.open(bundle, dialogs.config(bundle, { contextSize: CONTEXT }), { samplerStages: [stage, 'top-k'] });
    const stream = dialog.tokenQuery(ids(4, 14), { maxTokens: 8 });
    await expectCallbackFailure(stream, 'the sampler stage "flaky" apply callback threw: no candidates for me', thrown);
    expect(calls).toBe(3);
    // A stage whose accept is no function is still refused by the chain's check.
    await expect(
      dialogs.open(bundle, dialogs.config(bundle), { samplerStages: [{ name: 'bad', apply() {}, accept: 5 as never }] }),
    ).rejects.toEqual(
      exactError(InvalidArgumentError, 'Dialog.create option samplerStages[0].accept (stage "bad") must be a function when present, got 5'),
    );
  });

  it('a bad onToken is thrown by the call itself', async () => {
    const dialog = await open();
    expect(() => dialog.tokenQuery(ids(3, 13), { onToken: 5 as never })).toThrow(
      exactError(InvalidArgumentError, 'tokenQuery option onToken must be a function ({ id, text, index }) => void, got 5'),
    );
    expect(() => dialog.query('Hi', { onLogits: 5 as never })).toThrow(
      exactError(InvalidArgumentError, 'query option onLogits must be a function (logits, token) => void, got 5'),
    );
    expect(dialog.contextUsed).toBe(0);
  });

  it('samplerParams read back can be passed whole to configureSampler, greedy included', async () => {
    const dialog = await open();
    const before = dialog.samplerParams;
    expect(before.greedy).toBe(true);
    dialog.configureSampler({ temp: 0.8, topK: 20, seed: 5 });
    const sampling = dialog.samplerParams;
    expect(sampling.greedy).toBe(false);
    dialog.configureSampler(before);
    expect(dialog.samplerParams).toEqual(before);
    dialog.configureSampler(sampling);
    expect(dialog.samplerParams).toEqual(sampling);
  });
});
