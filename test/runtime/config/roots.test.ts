import { describe, expect, it } from 'vitest';
import { parseConfig, ROOT_NAMES } from '../../../src/runtime/config/index.js';
import { BASE_DIR, dialog, engine, issuesOf, unsupportedOf, type Json } from './fixtures.js';

const issue = (path: string, message: string) => ({ path, message });
const parse = (value: Json) => parseConfig(value, { baseDir: BASE_DIR });

/** GLM-4V's LUT text encoder (a pipeline node). */
const textEncoder = (): Json => ({
  version: 1,
  type: 'lut',
  lut: { version: 1, 'lut-path': 'embedding_int8_lut.bin', size: 2048, datatype: 'ufixed8', 'quant-param': { scale: 0.001585477963089943, offset: -129 } },
  tokenizer: { version: 1, path: 'tokenizer.json' },
});

/** The translation examples' encoder model: a "basic" text encoder with its own context, prompt and engine. */
const encoderModel = (): Json => ({
  version: 1,
  type: 'basic',
  context: { version: 1, 'n-vocab': 40000, 'ctx-size': 512, 'embed-size': 512, 'pad-token': 0 },
  tokenizer: { version: 1, path: 'tokenizer.json' },
  prompt: { version: 1, 'prompt-template': ['', '</s>'] },
  'truncate-input': true,
  engine: {
    version: 1,
    'n-threads': 6,
    backend: { version: 1, type: 'QnnGenAiTransformer', QnnGenAiTransformer: { version: 1 } },
    model: { version: 1, type: 'library', library: { version: 1, 'model-bin': 'model_encoder.bin' } },
  },
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

/** A BGE text-embedding model (genie-t2e-run): its engine and QnnHtp have no thread-pool keys. */
const embeddingModel = (): Json => ({
  version: 1,
  context: { version: 1, 'n-vocab': 30522, 'ctx-size': 512, 'embed-size': 1024, 'pad-token': 0 },
  prompt: { version: 1, 'prompt-template': ['[CLS]', '[SEP]'] },
  tokenizer: { version: 1, path: 'tokenizer.json' },
  'truncate-input': true,
  engine: {
    version: 1,
    backend: {
      version: 1,
      type: 'QnnHtp',
      QnnHtp: { version: 1, 'spill-fill-bufsize': 0, 'use-mmap': true, 'pooled-output': true, 'allow-async-init': false, 'disable-kv-cache': true },
    },
    model: { version: 1, type: 'binary', binary: { version: 1, 'ctx-bins': ['bge.bin'] } },
  },
});

const standaloneEngine = (): Json => ({
  version: 1,
  context: dialog().context,
  engine: { ...engine(), role: 'draft' },
});

describe('every root Genie 2.40 accepts', () => {
  it('lists the nine roots (the pipeline node configs include lut-encoder)', () => {
    expect(ROOT_NAMES).toEqual([
      'dialog', 'text-generator', 'text-encoder', 'lut-encoder', 'image-encoder', 'sampler', 'embedding', 'standalone-engine', 'profile',
    ]);
  });

  it.each<[string, () => Json]>([
    ['dialog', dialog],
    ['text-generator', () => ({ ...dialog(), 'accumulator-size': 400000000 })],
    ['text-encoder', textEncoder],
    ['lut-encoder', textEncoder],
    ['image-encoder', imageEncoder],
    ['sampler', () => ({ type: 'basic', version: 1, seed: 100, temp: 1.2, 'top-k': 25, 'top-p': 0.8, greedy: false })],
    ['embedding', embeddingModel],
    ['standalone-engine', standaloneEngine],
    ['profile', () => ({ version: 1, trace: { version: 1, enable: true } })],
  ])('parses a valid %s config, with no value genie-ts would not run', (root, body) => {
    const config = parse({ [root]: body() });
    expect(config.root).toBe(root);
    expect(unsupportedOf({ [root]: body() })).toEqual([]);
  });
});

describe('text-encoder (and lut-encoder): Genie checks them as embedding configs whose only mandatory key is version', () => {
  it('takes a "basic" encoder model with context, prompt and truncate-input', () => {
    expect(parse({ 'text-encoder': encoderModel() }).root).toBe('text-encoder');
    expect(unsupportedOf({ 'text-encoder': encoderModel() })).toEqual([]);
  });

  it('takes any type string, and a LUT without lut-path or quant-param', () => {
    const body = textEncoder();
    body.type = 'anything';
    delete body.lut['quant-param'];
    delete body.lut['lut-path'];
    delete body.tokenizer;
    expect(parse({ 'text-encoder': body }).root).toBe('text-encoder');
    expect(unsupportedOf({ 'text-encoder': body })).toEqual([
      issue('text-encoder.lut.quant-param', 'mandatory key is missing (genie-ts needs it to read "ufixed8" values; Genie would take scale 1, offset 0)'),
    ]);
  });

  it('rejects unknown keys, a LUT without size and an encoder context without pad-token', () => {
    const body = encoderModel();
    body.extra = 1;
    delete body.context['pad-token'];
    body.lut = { version: 1 };
    expect(issuesOf({ 'text-encoder': body })).toEqual([
      issue('text-encoder.context.pad-token', 'mandatory key is missing (expected a token id (an integer >= 0))'),
      issue('text-encoder.lut.size', 'mandatory key is missing (expected a positive integer)'),
      issue('text-encoder.extra', 'unknown key; expected one of: version, type, context, tokenizer, prompt, truncate-input, engine, lut'),
    ]);
  });
});

describe('image-encoder', () => {
  it('needs a binary model\'s object; mode is any string', () => {
    const body = imageEncoder();
    body.engine.mode = 'text';
    delete body.engine.model.binary;
    expect(issuesOf({ 'image-encoder': body })).toEqual([
      issue('image-encoder.engine.model.binary', 'mandatory key is missing (required when type is "binary")'),
    ]);
  });

  it('its QnnHtp takes Genie\'s encoder keys only (Genie completes pooled-output and disable-kv-cache itself)', () => {
    const body = imageEncoder();
    Object.assign(body.engine.backend.QnnHtp, { 'pooled-output': 'ignored', 'disable-kv-cache': false, 'data-alignment-size': true });
    expect(parse({ 'image-encoder': body }).root).toBe('image-encoder');
    const decoderKeys = imageEncoder();
    Object.assign(decoderKeys.engine.backend.QnnHtp, { 'mmap-budget': 0, 'vtcm-mb': 8 });
    expect(issuesOf({ 'image-encoder': decoderKeys }).map((i) => i.path)).toEqual([
      'image-encoder.engine.backend.QnnHtp.mmap-budget',
      'image-encoder.engine.backend.QnnHtp.vtcm-mb',
    ]);
  });

  it('Genie does not require an engine there; genie-ts needs one to encode images', () => {
    expect(unsupportedOf({ 'image-encoder': { version: 1 } })).toEqual([
      issue('image-encoder.engine', 'mandatory key is missing (genie-ts needs it to encode images)'),
    ]);
  });

  it('requires the encoder QnnHtp keys: spill-fill-bufsize, use-mmap, allow-async-init', () => {
    const body = imageEncoder();
    delete body.engine.backend.QnnHtp['allow-async-init'];
    expect(issuesOf({ 'image-encoder': body })).toEqual([
      issue('image-encoder.engine.backend.QnnHtp.allow-async-init', 'mandatory key is missing (expected true or false)'),
    ]);
  });
});

describe('embedding (model root)', () => {
  it('takes a QnnHtp without mmap-budget, cpu-mask and poll, and an engine without n-threads', () => {
    expect(parse({ embedding: embeddingModel() }).root).toBe('embedding');
  });

  it('its QnnHtp takes no decoder key and needs pooled-output and allow-async-init', () => {
    const body = embeddingModel();
    body.engine.backend.QnnHtp.poll = true;
    delete body.engine.backend.QnnHtp['pooled-output'];
    expect(issuesOf({ embedding: body })).toEqual([
      issue('embedding.engine.backend.QnnHtp.pooled-output', 'mandatory key is missing (expected true or false)'),
      issue('embedding.engine.backend.QnnHtp.poll', expect.stringMatching(/^unknown key; expected one of: version, spill-fill-bufsize, use-mmap, /)),
    ]);
  });

  it('needs context, tokenizer and engine, the five context keys, and a prompt-template', () => {
    const body = embeddingModel();
    delete body.tokenizer;
    delete body.context['pad-token'];
    body.prompt = { version: 1 };
    expect(issuesOf({ embedding: body })).toEqual([
      issue('embedding.context.pad-token', 'mandatory key is missing (expected a token id (an integer >= 0))'),
      issue('embedding.prompt.prompt-template', 'mandatory key is missing (expected an array of strings)'),
      issue('embedding.tokenizer', 'mandatory key is missing (required when type is absent (only "image-encoder" and "lut-encoder" do without))'),
    ]);
  });

  it('a prompt-template other than [before, after] and a ctx-size of 0 are not run', () => {
    const body = embeddingModel();
    body.prompt['prompt-template'] = ['only one'];
    body.context['ctx-size'] = 0;
    expect(unsupportedOf({ embedding: body })).toEqual([
      issue('embedding.context.ctx-size', 'expected a positive integer, found 0'),
      issue('embedding.prompt.prompt-template', 'expected 2 strings [before, after], found 1'),
    ]);
  });

  it('no QnnGpu backend there (Genie\'s embedding backends are QnnHtp and QnnGenAiTransformer)', () => {
    const body = embeddingModel();
    body.engine.backend = { version: 1, type: 'QnnGpu' };
    expect(issuesOf({ embedding: body })).toEqual([
      issue('embedding.engine.backend.type', 'expected one of "QnnHtp", "QnnGenAiTransformer", "Reference", found "QnnGpu"'),
    ]);
  });

  it('pooled-output belongs to an encoder\'s QnnHtp, not a dialog\'s', () => {
    const body = dialog();
    body.engine.backend.QnnHtp['pooled-output'] = true;
    expect(issuesOf({ dialog: body }).map((i) => i.path)).toEqual(['dialog.engine.backend.QnnHtp.pooled-output']);
  });
});

describe('standalone-engine', () => {
  it('an engine role is optional there, and may be any of the four', () => {
    const body = standaloneEngine();
    delete body.engine.role;
    expect(parse({ 'standalone-engine': body }).root).toBe('standalone-engine');
    expect(issuesOf({ 'standalone-engine': { ...standaloneEngine(), engine: { ...engine(), role: 'helper' } } })).toEqual([
      issue('standalone-engine.engine.role', 'expected one of "primary", "secondary", "target", "draft", found "helper"'),
    ]);
  });

  it('its QnnHtp has no data-alignment-size and no shared-engine rule; it takes no cache-groups', () => {
    const body = standaloneEngine();
    Object.assign(body.engine.backend.QnnHtp, { 'shared-engine': true });
    expect(parse({ 'standalone-engine': body }).root).toBe('standalone-engine');
    const more = standaloneEngine();
    more.engine.backend.QnnHtp['data-alignment-size'] = 64;
    more.engine['cache-groups'] = [{ version: 1, prefix: 'past_' }];
    expect(issuesOf({ 'standalone-engine': more }).map((i) => i.path)).toEqual([
      'standalone-engine.engine.backend.QnnHtp.data-alignment-size',
      'standalone-engine.engine.cache-groups',
    ]);
  });

  it('takes an embedding block whose offset is not an integer', () => {
    const body = { ...standaloneEngine(), embedding: { version: 1, size: 3072, datatype: 'ufixed8', 'quant-param': { scale: 0.002, offset: -107.10983274409456 } } };
    expect(unsupportedOf({ 'standalone-engine': body })).toEqual([]);
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

  it('a trace block needs enable', () => {
    expect(issuesOf({ profile: { version: 1, trace: { version: 1 } } })).toEqual([
      issue('profile.trace.enable', 'mandatory key is missing (expected true or false)'),
    ]);
  });
});
