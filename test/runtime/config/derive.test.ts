import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotSupportedError } from '../../../src/errors.js';
import { exactError } from '../../expect-error.js';
import {
  deriveDialog, deriveEos, deriveSampler, parseConfig, type ContextConfig, type GenieConfig,
} from '../../../src/runtime/config/index.js';
import { BASE_DIR, engine, parseDialog, type Json } from './fixtures.js';

const context = (keys: Json): ContextConfig => ({ version: 1, size: 4096, 'n-vocab': 200000, 'bos-token': -1, ...keys });

describe('EOS set', () => {
  it('scalar eos alone: the set is {eos}, eos is primary and the pad token', () => {
    expect(deriveEos(context({ 'eos-token': 2 }))).toEqual({ eosTokens: [2], primaryEos: 2, padToken: 2 });
  });

  it('scalar eos + eot: EOT becomes the primary EOS (qualla), the EOS stays in the set', () => {
    const eos = deriveEos(context({ 'eos-token': 151645, 'eot-token': 151643 }));
    expect(eos.primaryEos).toBe(151643);
    expect(eos.padToken).toBe(151643);
    expect(new Set(eos.eosTokens)).toEqual(new Set([151645, 151643]));
    expect(eos.eosTokens[0]).toBe(eos.primaryEos);
  });

  it('array eos: the first entry is primary; eot is added', () => {
    const eos = deriveEos(context({ 'eos-token': [128001, 128008, 128009], 'eot-token': 128010 }));
    expect(eos.primaryEos).toBe(128001);
    expect(eos.eosTokens).toEqual([128001, 128008, 128009, 128010]);
  });

  it('no repeats when eot is already in the array; eot -1 means none', () => {
    expect(deriveEos(context({ 'eos-token': [5, 6], 'eot-token': 6 })).eosTokens).toEqual([5, 6]);
    expect(deriveEos(context({ 'eos-token': 5, 'eot-token': -1 }))).toEqual({ eosTokens: [5], primaryEos: 5, padToken: 5 });
  });

  it('an explicit pad-token wins', () => {
    expect(deriveEos(context({ 'eos-token': 5, 'eot-token': 7, 'pad-token': 0 })).padToken).toBe(0);
  });
});

describe('sampler parameters', () => {
  it('absent sampler: Genie\'s defaults, clock seed', () => {
    const params = deriveSampler(undefined, { clock: () => 1_700_000_123_456 });
    expect(params).toEqual({
      type: 'basic', seed: 1_700_000_123, temp: 0.1, topK: 0, topP: 0.8, minP: 0, greedy: false,
      penalizeLastN: 0, repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0,
    });
  });

  it('seed -1 seeds from the clock in seconds, like time(); the default clock is Date.now', () => {
    expect(deriveSampler({ version: 1, seed: -1 }, { clock: () => 42_999 }).seed).toBe(42);
    const before = Math.floor(Date.now() / 1000);
    const seed = deriveSampler({ version: 1 }).seed;
    const after = Math.floor(Date.now() / 1000);
    expect(seed).toBeGreaterThanOrEqual(before >>> 0);
    expect(seed).toBeLessThanOrEqual(after >>> 0);
  });

  it('an explicit seed is kept', () => {
    expect(deriveSampler({ version: 1, seed: 0 }, { clock: () => 5e12 }).seed).toBe(0);
    expect(deriveSampler({ version: 1, seed: 4294967295 }).seed).toBe(4294967295);
  });

  it('greedy = temp <= 0 || top-k == 1, over a grid', () => {
    for (const temp of [-1, 0, 0.1, 1]) {
      for (const topK of [0, 1, 2, 40]) {
        const expected = temp <= 0 || topK === 1;
        expect(deriveSampler({ version: 1, temp, 'top-k': topK, seed: 1 }).greedy).toBe(expected);
      }
    }
  });

  it('a negative temp means greedy and is passed on as 0', () => {
    const params = deriveSampler({ version: 1, temp: -0.5, 'top-k': 40, seed: 1 });
    expect(params.temp).toBe(0);
    expect(params.greedy).toBe(true);
  });

  it('"greedy" in the config is overwritten both ways', () => {
    expect(deriveSampler({ version: 1, greedy: true, temp: 0.8, 'top-k': 40, seed: 1 }).greedy).toBe(false);
    expect(deriveSampler({ version: 1, greedy: false, temp: 0, seed: 1 }).greedy).toBe(true);
    expect(deriveSampler({ version: 1, greedy: false, 'top-k': 1, seed: 1 }).greedy).toBe(true);
  });

  it('maps every key, including token-penalty and min-p', () => {
    const params = deriveSampler({
      version: 1, seed: 9, temp: 0.7, 'top-k': 50, 'top-p': 0.9, 'min-p': 0.05,
      'token-penalty': { version: 1, 'penalize-last-n': 64, 'repetition-penalty': 1.1, 'presence-penalty': 0.3, 'frequency-penalty': 0.2 },
    });
    expect(params).toEqual({
      type: 'basic', seed: 9, temp: 0.7, topK: 50, topP: 0.9, minP: 0.05, greedy: false,
      penalizeLastN: 64, repetitionPenalty: 1.1, presencePenalty: 0.3, frequencyPenalty: 0.2,
    });
  });

  it('a custom sampler carries its callback and is never greedy', () => {
    const params = deriveSampler({ version: 1, type: 'custom', 'callback-name': 'mine', seed: 3 });
    expect(params.type).toBe('custom');
    expect(params.callbackName).toBe('mine');
    expect(params.greedy).toBe(false);
  });
});

describe('deriveDialog', () => {
  const clock = () => 0;

  it('collects the runtime view of a dialog', () => {
    const derived = deriveDialog(
      parseDialog((d) => {
        d.context = { ...d.context, 'bos-token': 151644, 'eot-token': 151643, 'n-embd': 1024 };
        d['stop-sequence'] = ['\nUser:'];
        d['max-num-tokens'] = 0;
        d.sampler = { version: 1, seed: 5, temp: 0 };
      }),
      { clock },
    );
    expect(derived).toMatchObject({
      root: 'dialog', type: 'basic', bosToken: 151644, primaryEos: 151643, padToken: 151643, contextSize: 4096, nVocab: 151936,
      nEmbd: 1024, tokenizerPath: `${BASE_DIR}/tokenizer.json`, backendType: 'QnnHtp', nThreads: 3, kvDim: 64,
      stopSequences: ['\nUser:'], maxNumTokens: 0, embedding: null, extensionsPath: null,
    });
    expect(derived.ctxBins).toEqual([`${BASE_DIR}/model_part_1_of_2.bin`, `${BASE_DIR}/model_part_2_of_2.bin`]);
    expect(derived.sampler.greedy).toBe(true);
    expect(derived.htp).toEqual({
      spillFillBufsize: 0, mmapBudget: 0, useMmap: true, cpuMask: 0xe0, poll: true, allowAsyncInit: false, enableGraphSwitching: false,
      dataAlignmentSize: null,
    });
  });

  it('bos -1 means none; absent max-num-tokens means no cap', () => {
    const derived = deriveDialog(parseDialog(), { clock });
    expect(derived.bosToken).toBeNull();
    expect(derived.maxNumTokens).toBeNull();
    expect(derived.stopSequences).toEqual([]);
  });

  it('kv-dim: qualla\'s 128 when absent, null for -1 (deduce) and for backends without a QnnHtp object', () => {
    expect(deriveDialog(parseDialog((d) => delete d.engine.backend.QnnHtp['kv-dim']), { clock }).kvDim).toBe(128);
    expect(deriveDialog(parseDialog((d) => (d.engine.backend.QnnHtp['kv-dim'] = -1)), { clock }).kvDim).toBeNull();
    const reference = deriveDialog(parseDialog((d) => (d.engine.backend = { version: 1, type: 'Reference' })), { clock });
    expect(reference.kvDim).toBeNull();
    expect(reference.htp).toBeNull();
    expect(reference.backendType).toBe('Reference');
  });

  describe('positional encoding', () => {
    const encodingOf = (edit: (d: Json) => void) => deriveDialog(parseDialog(edit), { clock }).positionalEncoding;

    it('legacy QnnHtp keys, each defaulting alone (pos-id-dim 64, rope-theta 10000)', () => {
      expect(encodingOf((d) => Object.assign(d.engine.backend.QnnHtp, { 'pos-id-dim': 32, 'rope-theta': 1e6 }))).toEqual({
        type: 'rope', ropeDim: 32, theta: 1e6, scaling: { type: 'default' }, source: 'legacy',
      });
      expect(encodingOf((d) => (d.engine.backend.QnnHtp['rope-theta'] = 5e5))).toMatchObject({ ropeDim: 64, theta: 5e5, source: 'legacy' });
      expect(encodingOf((d) => (d.engine.backend.QnnHtp['pos-id-dim'] = 32))).toMatchObject({ ropeDim: 32, theta: 10000, source: 'legacy' });
    });

    it('neither form: Genie\'s defaults', () => {
      expect(encodingOf(() => {})).toEqual({ type: 'rope', ropeDim: 64, theta: 10000, scaling: { type: 'default' }, source: 'default' });
    });

    it('model.positional-encoding with llama3 scaling, normalised', () => {
      const encoding = encodingOf((d) => (d.engine.model['positional-encoding'] = {
        type: 'rope', 'rope-dim': 64, 'rope-theta': 500000,
        'rope-scaling': { 'rope-type': 'llama3', factor: 32, 'low-freq-factor': 1, 'high-freq-factor': 4, 'original-max-position-embeddings': 8192 },
      }));
      expect(encoding).toEqual({
        type: 'rope', ropeDim: 64, theta: 500000, source: 'positional-encoding',
        scaling: { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
      });
    });

    it('longrope without factor gets factor 1', () => {
      const factors = Array.from({ length: 16 }, (_, i) => 1 + i);
      const encoding = encodingOf((d) => (d.engine.model['positional-encoding'] = {
        type: 'rope', 'rope-dim': 16,
        'rope-scaling': { 'rope-type': 'longrope', 'short-factor': factors, 'long-factor': factors, 'original-max-position-embeddings': 4096 },
      }));
      expect(encoding.scaling).toEqual({ type: 'longrope', factor: 1, shortFactor: factors, longFactor: factors, originalMaxPositionEmbeddings: 4096 });
      expect(encoding.theta).toBe(10000);
    });
  });

  describe('embedding', () => {
    const embeddingOf = (embedding: Json) => deriveDialog(parseDialog((d) => (d.embedding = { version: 1, size: 896, ...embedding })), { clock });

    it('a fixed-point LUT: absolute path, QNN type and encoding', () => {
      const derived = embeddingOf({ type: 'lut', 'lut-path': 'lut/u8.bin', datatype: 'ufixed8', 'quant-param': { scale: 0.5, offset: -107 } });
      expect(derived.embedding).toEqual({
        size: 896, type: 'lut', lutPath: `${BASE_DIR}/lut/u8.bin`, datatype: 'ufixed8', qnnDataType: 'UFIXED_POINT_8', quantParam: { scale: 0.5, offset: -107 },
      });
      expect(derived.nEmbd).toBe(896);
    });

    it('absent datatype is float32 (Genie\'s internal default); native has no QNN type of its own', () => {
      expect(embeddingOf({}).embedding).toMatchObject({ type: null, lutPath: null, datatype: 'float32', qnnDataType: 'FLOAT_32', quantParam: null });
      expect(embeddingOf({ datatype: 'native' }).embedding?.qnnDataType).toBeNull();
      expect(embeddingOf({ datatype: 'sfixed16', 'quant-param': { scale: 1, offset: 0 } }).embedding?.qnnDataType).toBe('SFIXED_POINT_16');
    });

    it('a non-integer offset is cut toward zero, as Genie\'s int32 offset is (the SDK\'s -107.10983274409456 reads as -107)', () => {
      const lut = (offset: number) => ({ type: 'lut', 'lut-path': 'lut.bin', datatype: 'ufixed8', 'quant-param': { scale: 0.002, offset } });
      expect(embeddingOf(lut(-107.10983274409456)).embedding?.quantParam).toEqual({ scale: 0.002, offset: -107 });
      expect(embeddingOf(lut(-128.9)).embedding?.quantParam).toEqual({ scale: 0.002, offset: -128 });
      expect(embeddingOf(lut(12.7)).embedding?.quantParam).toEqual({ scale: 0.002, offset: 12 });
    });
  });

  it('top-p is clamped to [0, 1]: Genie keeps the best token alone for p <= 0 and skips the cut for p >= 1', () => {
    const topP = (value: number) => deriveDialog(parseDialog((d) => (d.sampler = { version: 1, 'top-p': value })), { clock }).sampler.topP;
    expect([topP(0), topP(-0.5), topP(0.3), topP(1), topP(2)]).toEqual([0, 0, 0.3, 1, 1]);
  });

  it('stop sequences drop "" (Genie never matches an empty one)', () => {
    const derived = deriveDialog(parseDialog((d) => (d['stop-sequence'] = ['', 'User:', ''])), { clock });
    expect(derived.stopSequences).toEqual(['User:']);
    expect(deriveDialog(parseDialog((d) => (d['stop-sequence'] = [''])), { clock }).stopSequences).toEqual([]);
  });

  it('refuses a config with values genie-ts does not run, naming them', () => {
    expect(() => deriveDialog(parseDialog((d) => (d.context.size = 0)), { clock })).toThrow(
      exactError(NotSupportedError, 'cannot run: dialog.context.size: expected a positive integer, found 0'),
    );
  });

  it('an engine pair derives from the target engine', () => {
    const draft = { ...engine(), role: 'draft', 'n-threads': 1 };
    draft.model.binary['ctx-bins'] = ['draft.bin'];
    const derived = deriveDialog(parseDialog((d) => Object.assign(d, { type: 'spd', spd: { version: 1, 'draft-len': 4 }, engine: [draft, { ...engine(), role: 'target' }] })), { clock });
    expect(derived.nThreads).toBe(3);
    expect(derived.ctxBins).toHaveLength(2);
  });

  it('text-generator roots derive too', () => {
    const body = parseDialog();
    if (body.root !== 'dialog') throw new Error('unreachable');
    const config = parseConfig({ 'text-generator': { ...JSON.parse(JSON.stringify(body.dialog)), 'accumulator-size': 1024 } });
    expect(deriveDialog(config, { clock }).root).toBe('text-generator');
  });

  it('rejects other roots with InvalidArgumentError naming the root', () => {
    const profile: GenieConfig = parseConfig({ profile: { version: 1 } });
    expect(() => deriveDialog(profile)).toThrow(InvalidArgumentError);
    expect(() => deriveDialog(profile)).toThrow('deriveDialog: config root must be "dialog" or "text-generator", found "profile"');
    expect(deriveDialog(parseDialog(), { clock }).root).toBe('dialog');
  });
});
