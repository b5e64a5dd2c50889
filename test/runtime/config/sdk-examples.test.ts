/**
 * Configs shaped like the example configs that ship with the QAIRT 2.40 SDK (examples/Genie/configs),
 * each carrying a construct Genie accepts that an earlier `config check` refused (issue 13): written
 * here with made-up paths and sizes, one per construct. Each must pass `config check` (exit 0), and
 * load or be refused at load with a NotSupportedError naming what genie-ts does not run.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configCommand } from '../../../src/cli/commands/config.js';
import type { CliIO } from '../../../src/cli/io.js';
import { NotSupportedError } from '../../../src/errors.js';
import { assertLoadable, deriveDialog, parseConfig, unsupportedValues, type GenieConfig } from '../../../src/runtime/config/index.js';
import { exactError } from '../../expect-error.js';
import { BASE_DIR, type Json } from './fixtures.js';

const htp = (extra: Json = {}): Json => ({
  version: 1, 'spill-fill-bufsize': 0, 'use-mmap': true, 'mmap-budget': 0, poll: true, 'cpu-mask': '0xe0', 'kv-dim': 128, ...extra,
});

const llamaEngine = (ctxBins: string[], extra: Json = {}): Json => ({
  version: 1,
  'n-threads': 3,
  backend: { version: 1, type: 'QnnHtp', QnnHtp: htp(), extensions: 'htp_backend_ext_config.json' },
  model: {
    version: 1,
    type: 'binary',
    binary: { version: 1, 'ctx-bins': ctxBins },
    'positional-encoding': {
      type: 'rope', 'rope-dim': 64, 'rope-theta': 500000,
      'rope-scaling': { 'rope-type': 'llama3', factor: 32, 'low-freq-factor': 1, 'high-freq-factor': 4, 'original-max-position-embeddings': 8192 },
    },
  },
  ...extra,
});

const llamaContext = { version: 1, size: 4096, 'n-vocab': 128256, 'bos-token': 128000, 'eos-token': [128001, 128008, 128009] };
const parts = (from: number, of: number) => Array.from({ length: of - from + 1 }, (_, i) => `weight_sharing_model_${from + i}_of_${of}.serialized.bin`);

const dialogOf = (keys: Json): Json => ({
  dialog: {
    version: 1,
    type: 'basic',
    context: llamaContext,
    sampler: { version: 1, seed: 42, temp: 0.8, 'top-k': 40, 'top-p': 0.95 },
    tokenizer: { version: 1, path: 'tokenizer.json' },
    engine: llamaEngine(parts(1, 3)),
    ...keys,
  },
});

interface Example {
  readonly name: string;
  readonly config: Json;
  /** undefined: genie-ts runs it; a string: the exact NotSupportedError message at load. */
  readonly refused?: string;
  readonly check?: (config: GenieConfig) => void;
}

const EXAMPLES: readonly Example[] = [
  {
    name: '"stop-sequence": [""] (an htp dialog)',
    config: dialogOf({ 'stop-sequence': [''] }),
    check: (config) => expect(deriveDialog(config).stopSequences).toEqual([]),
  },
  {
    name: 'a LUT dialog whose quant-param.offset is not an integer (parts 2 to 4, the embedding part replaced by the LUT)',
    config: dialogOf({
      embedding: { version: 1, type: 'lut', 'lut-path': 'uint8_lut.bin', size: 3072, datatype: 'ufixed8', 'quant-param': { scale: 0.0022326, offset: -107.10983274409456 } },
      engine: llamaEngine(parts(2, 4)),
    }),
    check: (config) => expect(deriveDialog(config).embedding?.quantParam).toEqual({ scale: 0.0022326, offset: -107 }),
  },
  {
    name: 'a standalone-engine (a draft engine to bind) whose embedding quant-param.offset is not an integer',
    config: {
      'standalone-engine': {
        version: 1,
        embedding: { version: 1, size: 3072, datatype: 'ufixed16', 'quant-param': { scale: 0.0000457, offset: -32767.5 } },
        context: { ...llamaContext, 'draft-n-vocab': 32000 },
        engine: { ...llamaEngine(['draft_1_of_1.bin']), role: 'draft' },
      },
    },
    refused: 'not supported yet: config root "standalone-engine" (the engine runs "dialog" and "text-generator" configs)',
  },
  {
    name: '"top-p": 0 in a sampler',
    config: dialogOf({ sampler: { version: 1, seed: 100, temp: 1.2, 'top-k': 25, 'top-p': 0 } }),
    check: (config) => expect(deriveDialog(config).sampler).toMatchObject({ topP: 0, greedy: false }),
  },
  {
    name: 'an embedding root (BGE) whose engine and QnnHtp have no n-threads, mmap-budget, cpu-mask or poll',
    config: {
      embedding: {
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
            QnnHtp: { version: 1, 'spill-fill-bufsize': 0, 'use-mmap': false, 'pooled-output': true, 'allow-async-init': false, 'disable-kv-cache': true },
          },
          model: { version: 1, type: 'binary', binary: { version: 1, 'ctx-bins': ['bge_large.serialized.bin'] } },
        },
      },
    },
    refused:
      'not supported yet: config root "embedding" (text-embedding models (genie-t2e-run) are not implemented; the engine runs "dialog" and "text-generator" configs)',
  },
  {
    name: 'QnnGenAiTransformer.enable-in-memory-kv-share in the secondary engine of a kv-share dialog',
    config: dialogOf({
      type: 'kv-share',
      engine: [
        { ...llamaEngine(parts(1, 3)), role: 'primary' },
        {
          version: 1,
          'n-threads': 6,
          role: 'secondary',
          backend: { version: 1, type: 'QnnGenAiTransformer', QnnGenAiTransformer: { version: 1, 'n-logits': 1, 'n-layer': 32, 'n-embd': 4096, 'n-heads': 32, 'enable-in-memory-kv-share': true } },
          model: { version: 1, type: 'library', library: { version: 1, 'model-bin': 'model.bin' } },
        },
      ],
    }),
    refused:
      'not supported yet: dialog.type "kv-share"; not supported yet: dialog.engine[1].backend.type "QnnGenAiTransformer"; ' +
      'not supported yet: dialog.engine[1].model.type "library"',
  },
  {
    name: 'ssd-q1 with "n-streams": 1 and "p-threshold": 0.0',
    config: dialogOf({
      type: 'ssd-q1',
      'ssd-q1': { version: 1, 'ssd-version': 1, 'forecast-token-count': 4, branches: [3, 2], 'forecast-prefix': 16, 'forecast-prefix-name': 'ssd_forecast_prefix', 'n-streams': 1, 'p-threshold': 0.0 },
    }),
    refused: 'not supported yet: dialog.type "ssd-q1"',
  },
  {
    name: 'a "basic" text-encoder with context, prompt and truncate-input (the translation examples\' encoder)',
    config: {
      'text-encoder': {
        version: 1,
        type: 'basic',
        context: { version: 1, 'n-vocab': 40960, 'ctx-size': 512, 'embed-size': 512, 'pad-token': 0 },
        tokenizer: { version: 1, path: 'tokenizer.json' },
        prompt: { version: 1, 'prompt-template': ['', '</s>'] },
        'truncate-input': true,
        engine: {
          version: 1,
          'n-threads': 6,
          backend: { version: 1, type: 'QnnGenAiTransformer', QnnGenAiTransformer: { version: 1 } },
          model: { version: 1, type: 'library', library: { version: 1, 'model-bin': 'model_encoder.bin' } },
        },
      },
    },
    refused: 'not supported yet: text-encoder.type "basic" (an encoder model; genie-ts runs LUT text encoders)',
  },
];

describe('SDK example configs Genie accepts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'genie-sdk-examples-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(EXAMPLES.map((example, i) => ({ ...example, i })))('$name: config check exits 0', async ({ config, refused, i }) => {
    const path = join(dir, `example-${i}.json`);
    writeFileSync(path, JSON.stringify(config, null, 2));
    let stdout = '';
    let stderr = '';
    const io: CliIO = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), isTTY: false };
    expect(await configCommand(['check', path], io)).toBe(0);
    expect(stdout.startsWith('ok\n')).toBe(true);
    const cannotRun = stderr.split('\n').filter((line) => line.startsWith('warning: valid Genie config, but this runtime cannot run it: '));
    expect(cannotRun.map((line) => line.slice('warning: valid Genie config, but this runtime cannot run it: '.length)).join('; ')).toBe(refused ?? '');
  });

  it.each(EXAMPLES)('$name: loads, or is refused with a NotSupportedError naming what genie-ts does not run', ({ config, refused, check }) => {
    const parsed = parseConfig(config, { baseDir: BASE_DIR });
    expect(unsupportedValues(parsed)).toEqual([]);
    if (refused === undefined) expect(() => assertLoadable(parsed)).not.toThrow();
    else expect(() => assertLoadable(parsed)).toThrow(exactError(NotSupportedError, refused));
    check?.(parsed);
  });
});
