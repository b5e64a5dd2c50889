/**
 * `QueryOptions.onStep` through a Dialog, on every backend: the steps of a query against what the
 * query fed (its prompt tokens and each generated token fed back, counted here), the final steps'
 * logits against the rows `onLogits` sampled from, bad input, and a listener that throws.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { CallbackError } from '../../src/runtime/callbacks.js';
import type { Dialog } from '../../src/runtime/dialog.js';
import { StepListenerError, type StepEvent } from '../../src/runtime/engine/index.js';
import { BACKENDS, DialogPool, makeModel, tempDir, tokenIds, tokenTurn, writeBundle, type Bundle } from './fixtures.js';

const model = makeModel({}, 'step-events');
const PROMPT = tokenIds(11, 3, 1, 1000);

interface Seen {
  readonly index: number;
  readonly kind: string;
  readonly ar: number;
  readonly nValid: number;
  readonly nNew: number;
  readonly first: number;
  readonly tokens: number[];
  readonly logits: Float32Array | null;
}

function collect(into: Seen[]): (e: StepEvent) => void {
  return (e) => {
    let logits: Float32Array | null = null;
    if (e.logits !== null) {
      logits = new Float32Array(e.logits.vocab);
      e.logits.dequantizeInto(logits);
    }
    into.push({
      index: e.index, kind: e.kind, ar: e.variant.ar, nValid: e.nValid, nNew: e.nNew, first: e.positions.first, tokens: [...e.tokens], logits,
    });
  };
}

describe.each(BACKENDS)('QueryOptions.onStep (%s)', (backend) => {
  const root = tempDir(`step-events-${backend}`);
  const pool = new DialogPool(backend);
  let bundle: Bundle;
  let dialog: Dialog;

  beforeAll(async () => {
    bundle = await writeBundle(root, model, { name: 'b', arSet: [1, 8], cl: 64, splits: 2 });
    dialog = await pool.open(bundle);
  });
  afterAll(() => pool.disposeAll());

  it('reports each step of the query: what was fed, where, and the logits each token was sampled from', async () => {
    dialog.reset();
    const seen: Seen[] = [];
    const turn = await tokenTurn(dialog, PROMPT, { maxTokens: 4, onStep: collect(seen) });
    const { promptTokens, generatedTokens } = turn.result;
    expect(generatedTokens).toHaveLength(4);

    const prefill = seen.filter((s) => s.kind === 'prefill');
    const decode = seen.filter((s) => s.kind === 'decode');
    expect(seen.map((s) => s.index)).toEqual(seen.map((_, i) => i));
    expect(seen.map((s) => s.kind)).toEqual([...prefill.map(() => 'prefill'), ...decode.map(() => 'decode')]);
    // The prompt in AR-8 chunks (11 = 8 + 3), then the first 3 generated tokens fed back one by one
    // (the 4th hits the cap and is never fed).
    expect(prefill.map((s) => s.nNew)).toEqual([8, 3]);
    expect(prefill.flatMap((s) => s.tokens)).toEqual(promptTokens);
    expect(decode.map((s) => s.tokens)).toEqual(generatedTokens.slice(0, 3).map((t) => [t]));
    expect(decode.map((s) => s.ar)).toEqual([1, 1, 1]);
    let fed = 0;
    for (const s of seen) {
      expect(s.nValid).toBe(fed);
      expect(s.first).toBe(fed);
      fed += s.nNew;
    }
    expect(dialog.contextUsed).toBe(fed);
    // Every token was sampled from the logits of the final step before it.
    const finals = seen.filter((s) => s.logits !== null);
    expect(finals).toHaveLength(turn.logits.length);
    finals.forEach((s, i) => expect(Array.from(s.logits!)).toEqual(Array.from(turn.logits[i])));
  });

  it('counts steps per query and leaves no listener behind', async () => {
    dialog.reset();
    const first: Seen[] = [];
    await tokenTurn(dialog, PROMPT.slice(0, 2), { maxTokens: 1, onStep: collect(first) });
    await tokenTurn(dialog, [5], { maxTokens: 2 });
    const third: Seen[] = [];
    await tokenTurn(dialog, [6], { maxTokens: 1, onStep: collect(third) });
    expect(first.map((s) => s.index)).toEqual([0]);
    expect(third.map((s) => s.index)).toEqual([0]);
    expect(first).toHaveLength(1);
  });

  it('an embedding query: rows are counted as embeddingRows, generated tokens as decode-step ids', async () => {
    const embeds = await writeBundle(root, model, { name: 'embeds', arSet: [1, 4], cl: 64, splits: 2, inputKind: 'embeds' });
    const d = await pool.open(embeds);
    const hidden = model.config.hiddenSize;
    const rows = new Float32Array(6 * hidden).map((_, i) => Math.sin(i) * 0.1);
    const seen: { kind: string; nNew: number; tokens: number[]; rows: number }[] = [];
    const generator = d.embeddingQuery(rows, {
      maxTokens: 3,
      onStep: (e) => seen.push({ kind: e.kind, nNew: e.nNew, tokens: [...e.tokens], rows: e.embeddingRows }),
    });
    let next = await generator.next();
    while (!next.done) next = await generator.next();
    const { generatedTokens } = next.value;
    // 6 rows over AR {1, 4}: chunks of 4 and 2 rows, no token ids; then 2 generated tokens fed back through the LUT.
    expect(seen).toEqual([
      { kind: 'prefill', nNew: 4, tokens: [], rows: 4 },
      { kind: 'prefill', nNew: 2, tokens: [], rows: 2 },
      ...generatedTokens.slice(0, 2).map((t) => ({ kind: 'decode', nNew: 1, tokens: [t], rows: 0 })),
    ]);
  });

  it('rejects an onStep that is not a function at the call', () => {
    expect(() => dialog.query('hi', { onStep: 'yes' as never })).toThrow(InvalidArgumentError);
    expect(() => dialog.tokenQuery([1], { onStep: {} as never })).toThrow(
      'tokenQuery option onStep must be a function (event: StepEvent) => void, got an object (Object)',
    );
  });

  it('a listener that throws ends the query with StepListenerError; the dialog stays usable', async () => {
    dialog.reset();
    const failing = dialog.tokenQuery(PROMPT, {
      maxTokens: 5,
      onStep: (e) => {
        if (e.kind === 'decode') throw new RangeError('no more');
      },
    });
    const error = await (async () => {
      for await (const _ of failing);
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StepListenerError);
    expect(error).toBeInstanceOf(CallbackError);
    expect((error as CallbackError).callback).toBe('onStep');
    expect((error as CallbackError).cause).toBeInstanceOf(RangeError);
    expect((error as Error).message).toMatch(/^the onStep callback threw at step 2 \(decode, ar1_cl64\): no more; the step was cancelled before its KV update$/);
    // The prompt is in the cache, the generated token that failed to feed is not.
    expect(dialog.contextUsed).toBe(PROMPT.length);

    // A fresh conversation matches a dialog that never saw the failure.
    dialog.reset();
    const again = await tokenTurn(dialog, PROMPT, { maxTokens: 3 });
    const other = await pool.open(bundle);
    const clean = await tokenTurn(other, PROMPT, { maxTokens: 3 });
    expect(again.result.generatedTokens).toEqual(clean.result.generatedTokens);
  });
});
