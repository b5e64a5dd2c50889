import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotSupportedError } from '../../src/errors.js';
import { SafetensorsError } from '../../src/formats/index.js';
import { ConfigError } from '../../src/runtime/config/index.js';
import type { Dialog } from '../../src/runtime/dialog.js';
import { QnnContextBinaryError } from '../../src/qnn/binding/index.js';
import { EmbeddingTableError } from '../../src/runtime/embeddings/lut.js';
import { DisposedError } from '../../src/runtime/engine/engine.js';
import { exactError } from '../expect-error.js';
import {
  BACKENDS, DialogPool, expectTurnMatchesRecompute, makeModel, sharedTokenizer, tempDir, tokenIds, tokenTurn, writeBundle,
  type Bundle, type Json,
} from './fixtures.js';

/** What each backend throws for a ctx-bin path that does not exist (both name the path). */
const MISSING_CTX_BIN_ERROR = { Reference: SafetensorsError, QnnHtp: QnnContextBinaryError };

describe.each(BACKENDS)('%s: bad input: typed errors that name the culprit, and nothing left broken', (backend) => {
  const root = tempDir('runtime-errors');
  const dialogs = new DialogPool(backend);
  const model = makeModel({}, 'errors');
  const vocab = model.config.vocabSize;
  const prompt = tokenIds(6, 1, 1, vocab - 1);
  let bundle: Bundle;
  let embeds: Bundle;
  let dialog: Dialog;

  /** The dialog still answers, and exactly as the uncached model says. */
  async function expectUsable(d: Dialog = dialog): Promise<void> {
    d.reset();
    const turn = await tokenTurn(d, prompt, { maxTokens: 3 });
    expect(turn.result.stopReason).toBe('max-tokens');
    expectTurnMatchesRecompute(model, prompt, turn);
  }

  /** `Dialog.create` on an edited copy of the bundle's config (a failed create must leave no live QNN handle). */
  async function create(edit: (config: Json) => void, target: Bundle = bundle): Promise<Dialog> {
    const config = dialogs.config(target);
    edit(config);
    return dialogs.open(target, config);
  }

  beforeAll(async () => {
    bundle = await writeBundle(root, model, { name: 'ids', arSet: [1, 32], cl: 128, splits: 2 });
    embeds = await writeBundle(root, model, { name: 'embeds', arSet: [1, 32], cl: 128, splits: 2, inputKind: 'embeds' });
    dialog = await dialogs.open(bundle);
  });
  afterAll(() => dialogs.disposeAll());

  describe('queries', () => {
    it('a non-string prompt', async () => {
      expect(() => dialog.query(42 as unknown as string)).toThrow(InvalidArgumentError);
      expect(() => dialog.query(undefined as unknown as string)).toThrow(/prompt must be a string, got undefined/);
      await expectUsable();
    });

    it('token ids out of range, fractional or negative in tokenQuery', async () => {
      expect(() => dialog.tokenQuery([1, vocab])).toThrow(InvalidArgumentError);
      expect(() => dialog.tokenQuery([1, vocab])).toThrow(`tokens[1] = ${vocab} is not a token id in [0, ${vocab})`);
      expect(() => dialog.tokenQuery([-1])).toThrow(`tokens[0] = -1 is not a token id in [0, ${vocab})`);
      expect(() => dialog.tokenQuery([2, 3, 1.5])).toThrow(`tokens[2] = 1.5 is not a token id in [0, ${vocab})`);
      await expectUsable();
    });

    it('a text prompt whose tokens lie outside a small model vocabulary', async () => {
      const used = dialog.contextUsed;
      expect(() => dialog.query('<|im_start|>')).toThrow(InvalidArgumentError);
      expect(() => dialog.query('ab<|im_start|>')).toThrow(`the encoded prompt[1] = 151644 is not a token id in [0, ${vocab})`);
      expect(dialog.contextUsed).toBe(used);
      await expectUsable();
    });

    it('maxTokens 0, 1.5, -3 and NaN', async () => {
      for (const bad of [0, 1.5, -3, Number.NaN]) {
        expect(() => dialog.tokenQuery(prompt, { maxTokens: bad })).toThrow(InvalidArgumentError);
        expect(() => dialog.query('hi', { maxTokens: bad })).toThrow(`maxTokens must be a positive integer, got ${bad}`);
      }
      await expectUsable();
    });

    it('an empty first query has no tokens to feed: query() throws', async () => {
      dialog.reset();
      const empty = 'the query has no tokens (empty prompt and nothing to carry over)';
      expect(() => dialog.tokenQuery([])).toThrow(exactError(InvalidArgumentError, empty));
      expect(() => dialog.query('')).toThrow(exactError(InvalidArgumentError, empty));
      await expectUsable();
    });

    it('stop sequences that are not non-empty strings, leaving the current ones in place', async () => {
      dialog.reset();
      const free = (await tokenTurn(dialog, prompt, { maxTokens: 12 })).sampled;
      const tokenizer = await sharedTokenizer();
      const stop = tokenizer.decode(free.slice(5, 7));
      dialog.setStopSequences([stop]);
      expect(() => dialog.setStopSequences(['ok', ''])).toThrow(InvalidArgumentError);
      expect(() => dialog.setStopSequences(['ok', ''])).toThrow(/stopSequences\[1\] is an empty string/);
      expect(() => dialog.setStopSequences('abc' as unknown as string[])).toThrow(/stopSequences must be an array of strings, got string/);
      expect(() => dialog.setStopSequences([7 as unknown as string])).toThrow(/stopSequences\[0\] = 7 is not a string/);
      dialog.reset();
      const turn = await tokenTurn(dialog, prompt, { maxTokens: 12 });
      expect(turn.result.stopReason).toBe('stop-sequence');
      dialog.setStopSequences([]);
      await expectUsable();
    });

    it('a sampler update with a bad value changes nothing', async () => {
      const before = dialog.samplerParams;
      expect(() => dialog.configureSampler({ temp: 0.7, topP: 2 })).toThrow(InvalidArgumentError);
      expect(() => dialog.configureSampler({ greedy: false } as never)).toThrow(/sampler\.greedy is derived/);
      expect(() => dialog.configureSampler({ bogus: 1 } as never)).toThrow(/unknown sampler parameter "bogus"/);
      expect(dialog.samplerParams).toEqual(before);
      await expectUsable();
    });
  });

  describe('Dialog.create', () => {
    it('an invalid config object: ConfigError naming every offending path', async () => {
      const error = await create((c) => {
        c.dialog.context.size = '4096';
        c.dialog.sampler.temp = 'hot';
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      const paths = (error as ConfigError).issues.map((i) => i.path);
      expect(paths).toEqual(expect.arrayContaining(['dialog.context.size', 'dialog.sampler.temp']));
      expect((error as Error).message).toMatch(/^dialog\.context\.size: /m);
      await expect(create((c) => void (c.dialog.context.nope = 1))).rejects.toThrow(/dialog\.context\.nope: unknown key/);
      await expectUsable(await dialogs.open(bundle));
    });

    it('a ctx-bin file that does not exist', async () => {
      const error = await create((c) => void (c.dialog.engine.model.binary['ctx-bins'][1] = 'missing_part_2_of_2.bin')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MISSING_CTX_BIN_ERROR[backend]);
      expect((error as Error).message).toContain(join(bundle.dir, 'missing_part_2_of_2.bin'));
      await expectUsable(await dialogs.open(bundle));
    });

    it('a value Genie accepts that genie-ts does not run: NotSupportedError naming its path', async () => {
      const error = await create((c) => void (c.dialog.context.size = 0)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotSupportedError);
      expect((error as Error).message).toBe('cannot run: dialog.context.size: expected a positive integer, found 0');
    });

    it('dialog.type "lade" is valid Genie but not supported', async () => {
      const error = await create((c) => {
        c.dialog.type = 'lade';
        c.dialog.lade = { version: 1, 'update-mode': 'FWD_LEVEL', window: 8, ngram: 5, gcap: 8 };
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotSupportedError);
      expect((error as Error).message).toBe('not supported yet: dialog.type "lade"');
    });

    it('a LUT of the wrong size names the file and both sizes', async () => {
      const short = join(embeds.dir, 'short_lut.bin');
      writeFileSync(short, new Uint8Array(vocab * model.config.hiddenSize * 4 - 4));
      const error = await create((c) => void (c.dialog.embedding['lut-path'] = 'short_lut.bin'), embeds).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EmbeddingTableError);
      const expected = vocab * model.config.hiddenSize * 4;
      expect((error as Error).message).toBe(
        `embedding LUT "${short}" has ${expected - 4} bytes, expected n-vocab x size x bytes = ` +
          `${vocab} x ${model.config.hiddenSize} x 4 = ${expected}`,
      );
      await expectUsable(await dialogs.open(embeds));
    });

    it('a LUT whose size key disagrees with the model width', async () => {
      const error = await create((c) => void (c.dialog.embedding.size = model.config.hiddenSize * 2), embeds).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EmbeddingTableError);
      expect((error as Error).message).toMatch(new RegExp(`${vocab} x ${model.config.hiddenSize * 2} x 4`));
    });

    it('an embedding model with no LUT in the config', async () => {
      const error = await create((c) => void delete c.dialog.embedding, embeds).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toBe(
        'the first graph takes "input_embeds" but the config has no embedding LUT (dialog.embedding)',
      );
      await expectUsable(await dialogs.open(embeds));
    });

    it('a bad maxNumTokens option', async () => {
      await expect(dialogs.open(bundle, dialogs.config(bundle), { maxNumTokens: 0 })).rejects.toThrow(
        'maxNumTokens must be a positive integer, got 0',
      );
    });
  });

  describe('dispose', () => {
    /** On QnnHtp: the live handles of the dialog's own simulated provider. */
    const liveHandles = (d: Dialog): number | undefined => dialogs.provider(d)?.liveHandles();

    it('every call after dispose throws DisposedError; dispose twice is harmless', async () => {
      const d = await dialogs.open(bundle);
      const created = d.tokenQuery(prompt);
      if (backend === 'QnnHtp') expect(liveHandles(d)).toBeGreaterThan(0);
      await d.dispose();
      if (backend === 'QnnHtp') expect(liveHandles(d)).toBe(0);
      await d.dispose();
      await d[Symbol.asyncDispose]();
      expect(liveHandles(d)).toBe(backend === 'QnnHtp' ? 0 : undefined);
      expect(() => d.query('hi')).toThrow(DisposedError);
      expect(() => d.tokenQuery(prompt)).toThrow('dialog is disposed');
      expect(() => d.reset()).toThrow(DisposedError);
      expect(() => d.configureSampler({ seed: 3 })).toThrow(DisposedError);
      expect(() => d.setStopSequences(['x'])).toThrow(DisposedError);
      await expect(created.next()).rejects.toThrow(DisposedError);
    });

    it('a second dispose() called before the first finished resolves only once the backend is freed', async () => {
      const d = await dialogs.open(bundle);
      const first = d.dispose();
      await d.dispose();
      expect(liveHandles(d)).toBe(backend === 'QnnHtp' ? 0 : undefined);
      await first;
    });

    it('await using disposes the dialog at the end of the block', async () => {
      let kept: Dialog | undefined;
      {
        await using d = await dialogs.open(bundle);
        kept = d;
        await expectUsable(d);
      }
      expect(() => kept!.reset()).toThrow(DisposedError);
      expect(liveHandles(kept!)).toBe(backend === 'QnnHtp' ? 0 : undefined);
    });
  });
});
