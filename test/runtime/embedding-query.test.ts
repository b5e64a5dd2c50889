/**
 * Genie's embedding query (`GenieDialog_embeddingQuery`): rows as the prompt, the dialog's own tokens
 * (carried-over token, EOS between turns, generated tokens) through the LUT or a token-to-embedding
 * callback. Oracles: the same tokens given as ids (`tokenQuery`), the uncached float64 model over the
 * whole sequence (`fullForward`), and quantization formulas written here.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openReferenceBackend } from '../../src/backends/reference/index.js';
import { InvalidArgumentError, NotSupportedError } from '../../src/errors.js';
import { ContextLimitError } from '../../src/graphs/errors.js';
import type { TensorSpec } from '../../src/graphs/spec.js';
import { Dialog, type EmbeddingQueryOptions, type QueryOptions } from '../../src/runtime/dialog.js';
import { writeDemoBundle, type DemoBundle } from '../../src/demo/index.js';
import type { ElementArray, Encoding } from '../../src/tensor/dtype.js';
import { derivedConfig, specsByName, TINY } from './quant/fixtures.js';
import { exactError } from '../expect-error.js';
import { fullForward } from '../backends/reference/qwen2-oracle.js';
import {
  argmax, BACKENDS, DialogPool, drain, expectTurnMatchesRecompute, makeModel, sharedTokenizer, silentEos, tempDir, tokenIds,
  tokenTurn, writeBundle, type Bundle, type Model, type Turn,
} from './fixtures.js';

/** The rows of `tokens` in a float32 `[vocab, size]` table. */
function lutRows(table: Float32Array, size: number, tokens: readonly number[]): Float32Array {
  const rows = new Float32Array(tokens.length * size);
  tokens.forEach((t, i) => rows.set(table.subarray(t * size, (t + 1) * size), i * size));
  return rows;
}

function embeddingTurn<T extends ElementArray>(
  dialog: Dialog,
  rows: T,
  options: EmbeddingQueryOptions<T> = {},
): Promise<Turn> {
  return drain((o: QueryOptions) => dialog.embeddingQuery(rows, { ...options, ...o }), options);
}

/** Same sampled tokens, text and logits rows (bit for bit). */
function expectSameTurn(actual: Turn, expected: Turn): void {
  expect(actual.sampled).toEqual(expected.sampled);
  expect(actual.result.generatedTokens).toEqual(expected.result.generatedTokens);
  expect(actual.result.text).toBe(expected.result.text);
  expect(actual.result.stopReason).toBe(expected.result.stopReason);
  expect(actual.logits).toEqual(expected.logits);
}

/**
 * The uncached model over `context + fed`, where `fed` are the embedding rows' tokens of the sampled
 * tokens that were fed back (all but the last): each logits row and greedy choice must match.
 */
function expectMatchesFedSequence(model: Model, context: readonly number[], fed: readonly number[], turn: Turn): void {
  expect(fed).toHaveLength(turn.sampled.length - 1);
  const expected = fullForward(model.config, model.weights, [...context, ...fed]);
  turn.logits.forEach((row, i) => {
    const want = expected[context.length - 1 + i];
    let worst = 0;
    for (let v = 0; v < want.length; v++) worst = Math.max(worst, Math.abs(row[v] - want[v]));
    expect(worst).toBeLessThanOrEqual(1e-4);
    expect(turn.sampled[i]).toBe(argmax(want));
  });
}

describe.each(BACKENDS)('%s: embeddingQuery on a float32 input_embeds model', (backend) => {
  const root = tempDir('runtime-embedding-query');
  const dialogs = new DialogPool(backend);
  const model = makeModel({}, 'embedding-query');
  const size = model.config.hiddenSize;
  const vocab = model.config.vocabSize;
  const table = model.weights.get('model.embed_tokens.weight')!.data;
  const eos = silentEos(model);
  const prompt = tokenIds(7, 11, 1, vocab - 1);
  let bundle: Bundle;
  let ids: Bundle;
  let dialog: Dialog;

  /** The dialog still answers an embedding query exactly as the uncached model says. */
  async function expectUsable(d: Dialog = dialog): Promise<void> {
    d.reset();
    const turn = await embeddingTurn(d, lutRows(table, size, prompt), { maxTokens: 3 });
    expect(turn.result.stopReason).toBe('max-tokens');
    expectTurnMatchesRecompute(model, prompt, turn);
  }

  beforeAll(async () => {
    // AR 4 and CL 64: a 7-row prompt takes two chunks, the second padded.
    bundle = await writeBundle(root, model, { name: 'embeds', arSet: [1, 4], cl: 64, splits: 2, inputKind: 'embeds' });
    ids = await writeBundle(root, model, { name: 'ids', arSet: [1, 4], cl: 64, splits: 2 });
    dialog = await dialogs.open(bundle);
  });
  afterAll(() => dialogs.disposeAll());

  it('LUT rows of tokens T give exactly the tokens, text and logits of tokenQuery(T)', async () => {
    dialog.reset();
    const byIds = await tokenTurn(dialog, prompt, { maxTokens: 6 });
    dialog.reset();
    const byRows = await embeddingTurn(dialog, lutRows(table, size, prompt), { maxTokens: 6 });
    expectSameTurn(byRows, byIds);
    expect(byRows.result.promptTokens).toEqual([]);
    expect(byRows.result.kpis['num-prompt-tokens']).toBe(prompt.length);
    expect(dialog.contextUsed).toBe(prompt.length + 5);
    expectTurnMatchesRecompute(model, prompt, byRows);
  });

  it('adds no BOS: the caller puts its row in the embeddings', async () => {
    const bos = 3;
    const withBos = await dialogs.open(bundle, dialogs.config(bundle, { bos }));
    const byIds = await tokenTurn(withBos, prompt, { maxTokens: 4 });
    withBos.reset();
    const byRows = await embeddingTurn(withBos, lutRows(table, size, [bos, ...prompt]), { maxTokens: 4 });
    expectSameTurn(byRows, byIds);
    expectTurnMatchesRecompute(model, [bos, ...prompt], byRows);
  });

  it('turns mixing embeddingQuery and tokenQuery equal one uncached pass over the whole conversation', async () => {
    dialog.reset();
    const [t1, t2, t3] = [tokenIds(5, 21, 1, vocab - 1), tokenIds(3, 22, 1, vocab - 1), tokenIds(6, 23, 1, vocab - 1)];
    const first = await embeddingTurn(dialog, lutRows(table, size, t1), { maxTokens: 3 });
    expectTurnMatchesRecompute(model, t1, first);
    // The last sampled token of each turn was never fed: it opens the next turn, then EOS.
    const context2 = [...t1, ...first.sampled, eos, ...t2];
    const second = await tokenTurn(dialog, t2, { maxTokens: 4 });
    expect(second.result.promptTokens).toEqual([first.sampled[2], eos, ...t2]);
    expectTurnMatchesRecompute(model, context2, second);
    const third = await embeddingTurn(dialog, lutRows(table, size, t3), { maxTokens: 3 });
    expect(third.result.promptTokens).toEqual([second.sampled[3], eos]);
    expect(third.result.kpis['num-prompt-tokens']).toBe(2 + t3.length);
    expectTurnMatchesRecompute(model, [...context2, ...second.sampled, eos, ...t3], third);
  });

  it('generated tokens go through tokenToEmbedding, once per fed token, with the right ids', async () => {
    dialog.reset();
    const calls: number[] = [];
    const lookup = (token: number, row: Float32Array): void => {
      calls.push(token);
      row.set(table.subarray(token * size, (token + 1) * size));
    };
    const byLut = await embeddingTurn(dialog, lutRows(table, size, prompt), { maxTokens: 5 });
    dialog.reset();
    const byCallback = await embeddingTurn(dialog, lutRows(table, size, prompt), { maxTokens: 5, tokenToEmbedding: lookup });
    expectSameTurn(byCallback, byLut);
    expect(calls).toEqual(byCallback.sampled.slice(0, -1));

    // The next turn's carried-over token and EOS go through the callback too.
    calls.length = 0;
    const t2 = tokenIds(2, 31, 1, vocab - 1);
    const next = await embeddingTurn(dialog, lutRows(table, size, t2), { maxTokens: 3, tokenToEmbedding: lookup });
    expect(calls).toEqual([byCallback.sampled[4], eos, ...next.sampled.slice(0, -1)]);
    expectTurnMatchesRecompute(model, [...prompt, ...byCallback.sampled, eos, ...t2], next);
  });

  it('a callback returning other rows changes the logits exactly as the recompute over those rows says', async () => {
    dialog.reset();
    const shift = (token: number): number => (token + 1) % vocab;
    const turn = await embeddingTurn(dialog, lutRows(table, size, prompt), {
      maxTokens: 5,
      tokenToEmbedding: (token, row) => row.set(table.subarray(shift(token) * size, (shift(token) + 1) * size)),
    });
    expectMatchesFedSequence(model, prompt, turn.sampled.slice(0, -1).map(shift), turn);
  });

  it('an abort before the first step feeds nothing; rows beyond the context make embeddingQuery() throw', async () => {
    dialog.reset();
    const controller = new AbortController();
    controller.abort();
    const aborted = await embeddingTurn(dialog, lutRows(table, size, prompt), { signal: controller.signal });
    expect(aborted.result.stopReason).toBe('abort');
    expect(dialog.contextUsed).toBe(0);
    // CL 64 with AR 1: the KV-in holds CL - 1 = 63 entries.
    const tooLong = lutRows(table, size, tokenIds(64, 5, 1, vocab - 1));
    expect(() => dialog.embeddingQuery(tooLong)).toThrow(
      exactError(
        ContextLimitError,
        'the prompt needs 64 tokens but only 63 of context.size=64 (the binaries\' KV cache holds 63 entries) are left; shorten the prompt',
      ),
    );
    await expectUsable();
  });

  describe('a config whose embedding is type "callback" (no LUT)', () => {
    let noLut: Dialog;
    const lookup = (token: number, row: Float32Array): void => row.set(table.subarray(token * size, (token + 1) * size));
    beforeAll(async () => {
      const config = dialogs.config(bundle);
      config.dialog.embedding = { version: 1, type: 'callback', size, datatype: 'float32' };
      noLut = await dialogs.open(bundle, config);
    });

    it('runs embedding queries with the callback (padding rows are zeros) exactly like the LUT dialog', async () => {
      dialog.reset();
      const byLut = await embeddingTurn(dialog, lutRows(table, size, prompt), { maxTokens: 4 });
      const byCallback = await embeddingTurn(noLut, lutRows(table, size, prompt), { maxTokens: 4, tokenToEmbedding: lookup });
      expectSameTurn(byCallback, byLut);
    });

    it('without a callback: InvalidArgumentError at query time; token and text queries: NotSupportedError', async () => {
      noLut.reset();
      const rows = lutRows(table, size, prompt);
      expect(() => noLut.embeddingQuery(rows)).toThrow(InvalidArgumentError);
      expect(() => noLut.embeddingQuery(rows)).toThrow(
        'embeddingQuery needs options.tokenToEmbedding: the config\'s embedding has no LUT (type "callback") ' +
          'to turn the dialog\'s tokens into embeddings',
      );
      expect(() => noLut.tokenQuery(prompt)).toThrow(NotSupportedError);
      expect(() => noLut.tokenQuery(prompt)).toThrow(
        'tokenQuery needs an embedding LUT: the config\'s embedding is type "callback"; use embeddingQuery with a tokenToEmbedding callback',
      );
      expect(() => noLut.query('hi')).toThrow(/^query needs an embedding LUT/);
      const turn = await embeddingTurn(noLut, rows, { maxTokens: 3, tokenToEmbedding: lookup });
      expectTurnMatchesRecompute(model, prompt, turn);
    });
  });

  describe('bad input: typed errors naming the culprit, nothing fed, the dialog still usable', () => {
    const rowBytes = `${size} x 4 bytes of FLOAT_32 = ${size * 4} bytes`;
    const cases: Array<[string, () => unknown, typeof InvalidArgumentError, string]> = [
      [
        'a byte length that is not a whole number of rows',
        () => dialog.embeddingQuery(new Float32Array(2 * size + 3)),
        InvalidArgumentError,
        `embeddings has ${(2 * size + 3) * 4} bytes, not a positive multiple of one row (${rowBytes})`,
      ],
      [
        'no rows',
        () => dialog.embeddingQuery(new Float32Array(0)),
        InvalidArgumentError,
        `embeddings has 0 bytes, not a positive multiple of one row (${rowBytes})`,
      ],
      [
        'a NaN',
        () => {
          const rows = lutRows(table, size, prompt);
          rows[size + 5] = NaN;
          return dialog.embeddingQuery(rows);
        },
        InvalidArgumentError,
        `embeddings[${size + 5}] = NaN is not a finite number`,
      ],
      [
        'an infinity',
        () => dialog.embeddingQuery(new Float32Array(size).fill(-Infinity)),
        InvalidArgumentError,
        'embeddings[0] = -Infinity is not a finite number',
      ],
      [
        'codes for the default FLOAT_32',
        () => dialog.embeddingQuery(new Uint16Array(size)),
        InvalidArgumentError,
        'embeddings must be a Float32Array for FLOAT_32, got Uint16Array',
      ],
      [
        'floats for UFIXED_POINT_16',
        () => dialog.embeddingQuery(new Float32Array(size), { dtype: 'UFIXED_POINT_16', encoding: { scale: 0.01, offset: -100 } }),
        InvalidArgumentError,
        'embeddings must be a Uint16Array for UFIXED_POINT_16, got Float32Array',
      ],
      [
        'fixed point without an encoding',
        () => dialog.embeddingQuery(new Uint16Array(size), { dtype: 'UFIXED_POINT_16' }),
        InvalidArgumentError,
        'embeddings are UFIXED_POINT_16 but no encoding was given',
      ],
      [
        'a bad encoding',
        () => dialog.embeddingQuery(new Uint8Array(size), { dtype: 'UFIXED_POINT_8', encoding: { scale: 0, offset: 0 } }),
        InvalidArgumentError,
        'embeddings encoding.scale must be a finite number > 0, got 0',
      ],
      [
        'an encoding for float rows',
        () => dialog.embeddingQuery(new Float32Array(size), { encoding: { scale: 1, offset: 0 } }),
        InvalidArgumentError,
        'embeddings are FLOAT_32: an encoding applies to fixed-point embeddings only',
      ],
      [
        'a dtype rows cannot come in',
        () => dialog.embeddingQuery(new Uint16Array(size), { dtype: 'FLOAT_16' }),
        InvalidArgumentError,
        'embeddings dtype FLOAT_16 is not supported (FLOAT_32 or a fixed-point type)',
      ],
      [
        'a tokenToEmbedding that is not a function',
        () => dialog.embeddingQuery(new Float32Array(size), { tokenToEmbedding: 1 as never }),
        InvalidArgumentError,
        'embeddingQuery option tokenToEmbedding must be a function, got 1',
      ],
    ];
    for (const [what, call, ErrorClass, message] of cases) {
      it(what, async () => {
        dialog.reset();
        expect(call).toThrow(ErrorClass);
        expect(call).toThrow(message);
        expect(dialog.contextUsed).toBe(0);
        await expectUsable();
      });
    }

    it('a model fed with token ids', async () => {
      const idsDialog = await dialogs.open(ids);
      const call = (): unknown => idsDialog.embeddingQuery(lutRows(table, size, prompt));
      expect(call).toThrow(NotSupportedError);
      expect(call).toThrow('the model\'s first graph takes token ids ("input_ids"), not embeddings: feed it tokens');
      expect(idsDialog.embeddingSize).toBeUndefined();
      const turn = await tokenTurn(idsDialog, prompt, { maxTokens: 3 });
      expectTurnMatchesRecompute(model, prompt, turn);
    });

    it('a tokenToEmbedding row with a NaN fails the query when that token is fed', async () => {
      dialog.reset();
      const error = await embeddingTurn(dialog, lutRows(table, size, prompt), {
        maxTokens: 4,
        tokenToEmbedding: (_token, row) => row.fill(NaN),
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toBe('the tokenToEmbedding row[0] = NaN is not a finite number');
      await expectUsable();
    });
  });
});

describe('embeddingQuery on a quantized (--quant htp) bundle: uint16 input_embeds, a ufixed16 LUT', () => {
  const root = tempDir('runtime-embedding-query-htp');
  let bundle: DemoBundle;
  let dialog: Dialog;
  let lut: Uint16Array;
  let lutEncoding: Encoding;
  let input: TensorSpec;
  const prompt = [9707, 11, 1879, 0, 151644, 872];
  const size = TINY.hidden;

  /** The LUT codes of `tokens`, in the LUT's encoding. */
  const codeRows = (tokens: readonly number[]): Uint16Array => {
    const rows = new Uint16Array(tokens.length * size);
    tokens.forEach((t, i) => rows.set(lut.subarray(t * size, (t + 1) * size), i * size));
    return rows;
  };

  beforeAll(async () => {
    bundle = await writeDemoBundle(join(root, 'htp-embeds'), { ...TINY, quant: 'htp', input: 'embeds' });
    const config = await derivedConfig(bundle);
    lutEncoding = config.embedding!.quantParam!;
    lut = new Uint16Array(new Uint8Array(readFileSync(config.embedding!.lutPath!)).buffer);
    const backend = await openReferenceBackend(config.ctxBins);
    input = specsByName(backend.graphs).get('input_embeds')!;
    await backend.dispose();
    dialog = await Dialog.create(bundle.configPath, { tokenizer: await sharedTokenizer(), sampler: { temp: 0 } });
  });
  afterAll(() => dialog.dispose());

  it('LUT codes in the LUT\'s own encoding (not the input\'s) give exactly tokenQuery\'s tokens and logits', async () => {
    expect(input.dtype).toBe('UFIXED_POINT_16');
    expect(input.encoding).not.toEqual(lutEncoding);
    dialog.reset();
    const byIds = await tokenTurn(dialog, prompt, { maxTokens: 5 });
    dialog.reset();
    const byCodes = await embeddingTurn(dialog, codeRows(prompt), { maxTokens: 5, dtype: 'UFIXED_POINT_16', encoding: lutEncoding });
    expectSameTurn(byCodes, byIds);
  });

  it('codes in the input\'s encoding and float32 values on its grid give the same result as tokenQuery', async () => {
    // q_in = round(s_l/s_i * q_l + s_l/s_i * o_l - o_i), half away from zero, clamped to uint16.
    const target = input.encoding!;
    const ratio = lutEncoding.scale / target.scale;
    const codes = Uint16Array.from(codeRows(prompt), (q) => {
      const y = ratio * q + (ratio * lutEncoding.offset - target.offset);
      return Math.min(65535, Math.max(0, Math.sign(y) * Math.round(Math.abs(y))));
    });
    const values = Float32Array.from(codes, (q) => (q + target.offset) * target.scale);
    dialog.reset();
    const byIds = await tokenTurn(dialog, prompt, { maxTokens: 4 });
    dialog.reset();
    const byCodes = await embeddingTurn(dialog, codes, { maxTokens: 4, dtype: 'UFIXED_POINT_16', encoding: target });
    dialog.reset();
    const byValues = await embeddingTurn(dialog, values, { maxTokens: 4 });
    expectSameTurn(byCodes, byIds);
    expectSameTurn(byValues, byIds);
  });

  it('a fractional quant-param offset (the SDK\'s examples carry them) runs cut toward zero, as Genie\'s int32 offset: the same reply', async () => {
    const config = JSON.parse(readFileSync(bundle.configPath, 'utf8'));
    const offset = config.dialog.embedding['quant-param'].offset as number;
    expect(Number.isInteger(offset)).toBe(true);
    config.dialog.embedding['quant-param'].offset = offset < 0 ? offset - 0.4 : offset + 0.4;
    const fractional = join(bundle.dir, 'fractional-offset.json');
    writeFileSync(fractional, JSON.stringify(config));
    await using other = await Dialog.create(fractional, { tokenizer: await sharedTokenizer(), sampler: { temp: 0 } });
    expect(other.config.embedding!.quantParam).toEqual(lutEncoding);
    dialog.reset();
    const expected = await tokenTurn(dialog, prompt, { maxTokens: 4 });
    expectSameTurn(await tokenTurn(other, prompt, { maxTokens: 4 }), expected);
  });

  it('a uint8 T2E row is requantized into the input for every generated token', async () => {
    // An 8-bit encoding wide enough for the LUT's range: the callback writes the LUT row in it.
    const e8: Encoding = { scale: (lutEncoding.scale * 65535) / 255, offset: Math.round(lutEncoding.offset / 257) };
    const toU8 = (q: number): number => Math.min(255, Math.max(0, Math.round(((q + lutEncoding.offset) * lutEncoding.scale) / e8.scale - e8.offset)));
    const calls: number[] = [];
    dialog.reset();
    const turn = await embeddingTurn(dialog, Uint8Array.from(codeRows(prompt), toU8), {
      maxTokens: 4,
      dtype: 'UFIXED_POINT_8',
      encoding: e8,
      tokenToEmbedding: (token, row) => {
        calls.push(token);
        for (let i = 0; i < size; i++) row[i] = toU8(lut[token * size + i]);
      },
    });
    expect(turn.sampled).toHaveLength(4);
    expect(calls).toEqual(turn.sampled.slice(0, -1));
  });
});
