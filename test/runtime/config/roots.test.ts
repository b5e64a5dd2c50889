import { describe, expect, it } from 'vitest';
import { parseConfig, ROOT_NAMES } from '../../../src/runtime/config/index.js';
import { BASE_DIR, dialog, engine, htp, issuesOf, type Json } from './fixtures.js';

const issue = (path: string, message: string) => ({ path, message });
const parse = (value: Json) => parseConfig(value, { baseDir: BASE_DIR });

const textEncoder = (): Json => ({
  version: 1,
  type: 'lut',
  lut: { version: 1, 'lut-path': 'embedding_int8_lut.bin', size: 2048, datatype: 'ufixed8', 'quant-param': { scale: 0.001585477963089943, offset: -129 } },
  tokenizer: { version: 1, path: 'tokenizer.json' },
});

const imageEncoder = (): Json => ({
  version: 1,
  engine: {
    version: 1,
    mode: 'image',
    backend: { version: 1, type: 'QnnHtp', QnnHtp: { version: 1, 'spill-fill-bufsize': 0, 'use-mmap': true, 'allow-async-init': false } },
    model: { version: 1, type: 'binary', binary: { version: 1, 'ctx-bins': ['siglip.serialized.bin'] } },
  },
});

const embeddingModel = (): Json => ({
  version: 1,
  context: { version: 1, 'n-vocab': 30522, 'ctx-size': 512, 'embed-size': 1024, 'pad-token': 0 },
  prompt: { version: 1, 'prompt-template': ['[CLS]', '[SEP]'] },
  tokenizer: { version: 1, path: 'tokenizer.json' },
  'truncate-input': true,
  engine: {
    version: 1,
    'n-threads': 4,
    backend: { version: 1, type: 'QnnHtp', QnnHtp: { ...htp(), 'pooled-output': true, 'disable-kv-cache': true } },
    model: { version: 1, type: 'binary', binary: { version: 1, 'ctx-bins': ['bge.bin'] } },
  },
});

const standaloneEngine = (): Json => ({
  version: 1,
  context: dialog().context,
  engine: { ...engine(), role: 'draft' },
});

describe('every root Genie 2.40 accepts', () => {
  it('lists the eight roots', () => {
    expect(ROOT_NAMES).toEqual(['dialog', 'text-generator', 'text-encoder', 'image-encoder', 'sampler', 'embedding', 'standalone-engine', 'profile']);
  });

  it.each<[string, () => Json]>([
    ['dialog', dialog],
    ['text-generator', () => ({ ...dialog(), 'accumulator-size': 400000000 })],
    ['text-encoder', textEncoder],
    ['image-encoder', imageEncoder],
    ['sampler', () => ({ type: 'basic', version: 1, seed: 100, temp: 1.2, 'top-k': 25, 'top-p': 0.8, greedy: false })],
    ['embedding', embeddingModel],
    ['standalone-engine', standaloneEngine],
    ['profile', () => ({ version: 1, trace: { version: 1, enable: true } })],
  ])('parses a valid %s config', (root, body) => {
    const config = parse({ [root]: body() });
    expect(config.root).toBe(root);
  });
});

describe('text-encoder', () => {
  it('requires the LUT, its quant-param for fixed point, and the tokenizer', () => {
    const body = textEncoder();
    delete body.lut['quant-param'];
    delete body.tokenizer;
    expect(issuesOf({ 'text-encoder': body })).toEqual([
      issue('text-encoder.lut.quant-param', 'mandatory key is missing (required when datatype is "ufixed8")'),
      issue('text-encoder.tokenizer', 'mandatory key is missing (expected an object)'),
    ]);
  });

  it('only type "lut" exists', () => {
    expect(issuesOf({ 'text-encoder': { ...textEncoder(), type: 'callback' } })).toEqual([
      issue('text-encoder.type', 'expected one of "lut", found "callback"'),
    ]);
  });
});

describe('image-encoder', () => {
  it('needs mode "image" and a binary model; its QnnHtp needs no more than version', () => {
    const body = imageEncoder();
    body.engine.mode = 'text';
    delete body.engine.model.binary;
    expect(issuesOf({ 'image-encoder': body })).toEqual([
      issue('image-encoder.engine.mode', 'expected one of "image", found "text"'),
      issue('image-encoder.engine.model.binary', 'mandatory key is missing (required when type is "binary")'),
    ]);
  });

  it('still rejects unknown QnnHtp keys', () => {
    const body = imageEncoder();
    body.engine.backend.QnnHtp['vtcm-mb'] = 8;
    expect(issuesOf({ 'image-encoder': body }).map((i) => i.path)).toEqual(['image-encoder.engine.backend.QnnHtp.vtcm-mb']);
  });
});

describe('embedding (model root)', () => {
  it('rejects a bad prompt-template and context', () => {
    const body = embeddingModel();
    body.prompt['prompt-template'] = ['only one'];
    body.context['ctx-size'] = 0;
    expect(issuesOf({ embedding: body })).toEqual([
      issue('embedding.context.ctx-size', 'expected a positive integer, found 0'),
      issue('embedding.prompt.prompt-template', 'expected an array of 2 strings [before, after], found an array of 1'),
    ]);
  });

  it('pooled-output belongs to the embedding root\'s QnnHtp, not a dialog\'s', () => {
    const body = dialog();
    body.engine.backend.QnnHtp['pooled-output'] = true;
    expect(issuesOf({ dialog: body }).map((i) => i.path)).toEqual(['dialog.engine.backend.QnnHtp.pooled-output']);
  });
});

describe('standalone-engine', () => {
  it('requires the engine role it is bound by', () => {
    const body = standaloneEngine();
    delete body.engine.role;
    expect(issuesOf({ 'standalone-engine': body })).toEqual([
      issue('standalone-engine.engine.role', 'mandatory key is missing (required when the engine is standalone (it is bound by role))'),
    ]);
  });
});

describe('sampler and profile roots', () => {
  it('apply the same rules as inside a dialog', () => {
    expect(issuesOf({ sampler: { version: 1, type: 'custom' } })).toEqual([
      issue('sampler.callback-name', 'mandatory key is missing (required when type is "custom")'),
    ]);
    expect(issuesOf({ profile: { version: 1, trace: { version: 1, enable: 'yes' } } })).toEqual([
      issue('profile.trace.enable', 'expected true or false, found "yes"'),
    ]);
  });
});
