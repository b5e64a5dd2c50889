import { describe, expect, it } from 'vitest';
import { dialogIssues, dialogUnsupported, parseDialog, type Json } from './fixtures.js';

const issue = (path: string, message: string) => ({ path, message });

describe('sampler', () => {
  const samplerIssues = (sampler: Json) => dialogIssues((d) => (d.sampler = sampler));

  it('accepts Genie\'s keys, token-penalty and the min-p extension', () => {
    expect(() =>
      parseDialog((d) => (d.sampler = {
        version: 1, type: 'basic', seed: 100, temp: 1.2, 'top-k': 25, 'top-p': 0.8, greedy: false, 'min-p': 0.05,
        'token-penalty': { version: 1, 'penalize-last-n': 64, 'repetition-penalty': 1.1, 'presence-penalty': 0.5, 'frequency-penalty': -0.2 },
      })),
    ).not.toThrow();
  });

  it.each<[string, Json, string, string]>([
    ['temp as a string', { temp: 'hot' }, 'temp', 'expected a number, found "hot"'],
    ['top-p as a string', { 'top-p': '0.9' }, 'top-p', 'expected a number, found "0.9"'],
    ['min-p of 1 (the project\'s extension: its range is an error)', { 'min-p': 1 }, 'min-p', 'expected a number in [0, 1), found 1'],
    ['greedy as a number', { greedy: 1 }, 'greedy', 'expected true or false, found 1'],
    ['type as a number', { type: 1 }, 'type', 'expected one of "basic", "custom", found 1'],
    ['token-penalty without version', { 'token-penalty': { 'penalize-last-n': 8 } }, 'token-penalty.version', 'mandatory key is missing (expected 1)'],
  ])('rejects %s', (_name, keys, path, message) => {
    expect(samplerIssues({ version: 1, ...keys })).toEqual([issue(`dialog.sampler.${path}`, message)]);
  });

  it.each<[string, Json, string, string]>([
    ['seed below -1', { seed: -2 }, 'seed', 'expected an integer in [-1, 4294967295] (-1 seeds from the clock), found -2'],
    ['seed above uint32', { seed: 2 ** 32 }, 'seed', 'expected an integer in [-1, 4294967295] (-1 seeds from the clock), found 4294967296'],
    ['negative top-k', { 'top-k': -1 }, 'top-k', 'expected an integer >= 0, found -1'],
    ['fractional top-k', { 'top-k': 2.5 }, 'top-k', 'expected an integer >= 0, found 2.5'],
    ['an unknown type (Genie takes any string)', { type: 'greedy' }, 'type', 'expected one of "basic", "custom", found "greedy"'],
    ['a zero repetition penalty', { 'token-penalty': { version: 1, 'repetition-penalty': 0 } }, 'token-penalty.repetition-penalty', 'expected a positive number, found 0'],
  ])('accepts but does not run %s', (_name, keys, path, message) => {
    expect(dialogUnsupported((d) => (d.sampler = { version: 1, ...keys }))).toEqual([issue(`dialog.sampler.${path}`, message)]);
  });

  it.each([0, -0.5, 1, 1.5, 0.95])('runs top-p %s (Genie keeps the best token for p <= 0, skips the cut for p >= 1)', (topP) => {
    expect(dialogUnsupported((d) => (d.sampler = { version: 1, 'top-p': topP }))).toEqual([]);
  });

  describe('custom samplers', () => {
    it('type custom requires callback-name', () => {
      expect(samplerIssues({ version: 1, type: 'custom' })).toEqual([
        issue('dialog.sampler.callback-name', 'mandatory key is missing (required when type is "custom")'),
      ]);
    });

    it('type custom forbids temp, top-k, top-p, greedy (and min-p)', () => {
      const issues = samplerIssues({ version: 1, type: 'custom', 'callback-name': 'mine', temp: 0.5, 'top-k': 5, 'top-p': 0.9, greedy: true, 'min-p': 0.1 });
      expect(issues).toEqual([
        issue('dialog.sampler.temp', 'not allowed when type is "custom", found 0.5'),
        issue('dialog.sampler.top-k', 'not allowed when type is "custom", found 5'),
        issue('dialog.sampler.top-p', 'not allowed when type is "custom", found 0.9'),
        issue('dialog.sampler.greedy', 'not allowed when type is "custom", found true'),
        issue('dialog.sampler.min-p', 'not allowed when type is "custom", found 0.1'),
      ]);
    });

    it('callback-name with an explicit type other than custom is an error; without a type Genie\'s basic sampler ignores it', () => {
      expect(samplerIssues({ version: 1, type: 'basic', 'callback-name': 'mine' })).toEqual([
        issue('dialog.sampler.callback-name', 'not allowed when type is "basic" (only a "custom" sampler has a callback), found "mine"'),
      ]);
      expect(dialogUnsupported((d) => (d.sampler = { version: 1, 'callback-name': 'mine' }))).toEqual([]);
    });

    it('accepts a custom sampler with a callback and penalties', () => {
      expect(() =>
        parseDialog((d) => (d.sampler = { version: 1, type: 'custom', 'callback-name': 'mine', seed: 7, 'token-penalty': { version: 1, 'penalize-last-n': 4 } })),
      ).not.toThrow();
    });
  });
});

describe('embedding block', () => {
  const embeddingIssues = (embedding: Json) => dialogIssues((d) => (d.embedding = { version: 1, size: 896, ...embedding }));

  it('accepts Genie\'s LUT forms', () => {
    for (const embedding of [
      { type: 'lut', 'lut-path': 'lut.bin', datatype: 'ufixed8', 'quant-param': { scale: 0.00223269, offset: -107 } },
      { type: 'lut', 'lut-path': 'lut.bin', datatype: 'float32' },
      { datatype: 'float32' },
      { type: 'callback', datatype: 'native' },
      {},
    ]) {
      expect(() => parseDialog((d) => (d.embedding = { version: 1, size: 896, ...embedding }))).not.toThrow();
    }
  });

  it.each(['ufixed8', 'ufixed16', 'sfixed8', 'sfixed16'])('datatype %s without quant-param is Genie\'s (scale 1, offset 0) but not run', (datatype) => {
    expect(dialogUnsupported((d) => (d.embedding = { version: 1, size: 896, datatype }))).toEqual([
      issue('dialog.embedding.quant-param', `mandatory key is missing (genie-ts needs it to read "${datatype}" values; Genie would take scale 1, offset 0)`),
    ]);
  });

  it.each<[string, Json, string, string]>([
    ['size as a string', { size: '896' }, 'size', 'expected a positive integer, found "896"'],
    ['an unknown datatype', { datatype: 'int8' }, 'datatype', 'expected one of "float32", "native", "ufixed8", "ufixed16", "sfixed8", "sfixed16", found "int8"'],
    ['an offset as a string', { datatype: 'ufixed16', 'quant-param': { scale: 0.1, offset: '-1' } }, 'quant-param.offset', 'expected a number whose integer part is an int32, found "-1"'],
    ['quant-param as an array', { datatype: 'ufixed16', 'quant-param': [0.1, -1] }, 'quant-param', 'expected an object, found an array of 2'],
    ['an unknown type', { type: 'table' }, 'type', 'expected one of "lut", "callback", found "table"'],
    ['type lut without lut-path', { type: 'lut' }, 'lut-path', 'mandatory key is missing (required when type is "lut")'],
    ['lut-path with type callback', { type: 'callback', 'lut-path': 'lut.bin' }, 'lut-path', 'not allowed when type is "callback" (a lut-path needs type "lut"), found "lut.bin"'],
    ['lut-path without a type', { 'lut-path': 'lut.bin' }, 'lut-path', 'not allowed when type is absent (a lut-path needs type "lut"), found "lut.bin"'],
  ])('rejects %s', (_name, keys, path, message) => {
    expect(embeddingIssues(keys)).toEqual([issue(`dialog.embedding.${path}`, message)]);
  });

  it.each<[string, Json, string, string]>([
    ['size 0', { size: 0 }, 'size', 'expected a positive integer, found 0'],
    ['a zero scale', { datatype: 'ufixed16', 'quant-param': { scale: 0, offset: -32768 } }, 'quant-param.scale', 'expected a positive number, found 0'],
    ['an offset past int32', { datatype: 'ufixed16', 'quant-param': { scale: 0.1, offset: 2 ** 31 } }, 'quant-param.offset', 'expected a number whose integer part is an int32, found 2147483648'],
    ['a quant-param without its scale', { datatype: 'ufixed16', 'quant-param': { offset: -1 } }, 'quant-param.scale', 'mandatory key is missing (genie-ts needs it to read the quantized table)'],
  ])('accepts but does not run %s', (_name, keys, path, message) => {
    expect(dialogUnsupported((d) => (d.embedding = { version: 1, size: 896, ...keys }))).toEqual([issue(`dialog.embedding.${path}`, message)]);
  });

  it('a non-integer offset is Genie\'s (the SDK writes -107.10983274409456): it runs, cut toward zero as Genie\'s int32 does', () => {
    expect(dialogUnsupported((d) => (d.embedding = { version: 1, size: 896, type: 'lut', 'lut-path': 'lut.bin', datatype: 'ufixed8', 'quant-param': { scale: 0.002, offset: -107.10983274409456 } }))).toEqual([]);
  });

  // Found by the config fuzzer: the rule quoted the type with JSON.stringify, which throws a
  // RangeError for a value nested deeper than it can recurse.
  it('rejects lut-path with a type nested 100,000 deep, quoting the type cut short', () => {
    const type = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)) as unknown;
    expect(embeddingIssues({ type, 'lut-path': 'lut.bin' })).toEqual([
      issue('dialog.embedding.type', 'expected one of "lut", "callback", found an array of 1'),
      issue('dialog.embedding.lut-path', `not allowed when type is ${'['.repeat(80)}... (a lut-path needs type "lut"), found "lut.bin"`),
    ]);
  });

  it('quant-param has no version; Genie reads scale and offset and ignores other keys', () => {
    expect(dialogUnsupported((d) => (d.embedding = { version: 1, size: 896, datatype: 'ufixed8', 'quant-param': { version: 1, scale: 0.1, offset: -128 } }))).toEqual([]);
  });
});
