/**
 * Fuzzing the config readers: JSON text (`parseConfigText`: syntax positions, duplicate keys),
 * parsed values (`parseConfig`), config files (`loadConfigFile`), what the runtime derives from
 * an accepted config (the load check, the derived dialog, the summary, the referenced files), and
 * the HTP backend-extensions file a config names (`readHtpExtensions`).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe } from 'vitest';
import { readHtpExtensions } from '../../../src/backends/qnn/extensions.js';
import { demoGenieConfig } from '../../../src/demo/genie-config.js';
import { findDuplicateKeys } from '../../../src/formats/json-text.js';
import {
  assertLoadable, deriveDialog, isDialogRoot, loadConfigFile, missingFiles, parseConfig, parseConfigText, summarizeConfig,
  type GenieConfig,
} from '../../../src/runtime/config/index.js';
import { tempDir } from '../../backends/reference/fixtures.js';
import { fuzz } from './harness.js';
import { mutatedText, mutatedValue } from './mutations.js';

const repo = join(import.meta.dirname, '../../..');
const shipped = [
  'configs/qwen2.5-0.5b/genie_config.json',
  'configs/fastvlm-0.5b/genie_config.json',
  'configs/fastvlm-0.5b/text-generator.json',
  'configs/fastvlm-0.5b/image-encoder.json',
].map((file) =>
  JSON.parse(readFileSync(join(repo, file), 'utf8')) as Record<string, unknown>,
);

const demo = (overrides: Record<string, unknown>, lut?: Parameters<typeof demoGenieConfig>[2]) =>
  demoGenieConfig(
    {
      layers: 2, hidden: 64, heads: 4, kvHeads: 2, splits: 2, ar: [1, 32], cl: 512, seed: 42, input: 'ids', quant: 'none', backend: 'reference',
      ...overrides,
    } as unknown as Parameters<typeof demoGenieConfig>[0],
    ['demo_part_1_of_2.safetensors', 'demo_part_2_of_2.safetensors'],
    lut,
  );

/** Valid configs covering the roots and the optional blocks the mutations then break. */
const SEEDS: Record<string, unknown>[] = [
  ...shipped,
  demo({}),
  demo({ input: 'embeds', quant: 'htp', backend: 'qnn-htp' }),
  {
    dialog: {
      version: 1,
      type: 'basic',
      'max-num-tokens': 100,
      'stop-sequence': ['</s>', '\n\n'],
      context: { version: 1, size: 2048, 'n-vocab': 128256, 'bos-token': 128000, 'eos-token': [128001, 128008, 128009], 'pad-token': 128004, 'n-embd': 2048 },
      sampler: { version: 1, seed: 7, temp: 0.6, 'top-k': 20, 'top-p': 0.9, 'min-p': 0.05, 'token-penalty': { version: 1, 'penalize-last-n': 64, 'repetition-penalty': 1.1, 'presence-penalty': 0.2, 'frequency-penalty': 0.1 } },
      tokenizer: { version: 1, path: 'tokenizer.json' },
      embedding: { version: 1, type: 'lut', 'lut-path': 'lut.bin', size: 2048, datatype: 'ufixed16', 'quant-param': { scale: 0.0001, offset: -32768 } },
      engine: {
        version: 1,
        'n-threads': 2,
        backend: { version: 1, type: 'Reference' },
        model: {
          version: 1,
          type: 'binary',
          binary: { version: 1, 'ctx-bins': ['a.bin'] },
          'positional-encoding': { type: 'rope', 'rope-dim': 32, 'rope-theta': 500000, 'rope-scaling': { 'rope-type': 'llama3', factor: 8, 'low-freq-factor': 1, 'high-freq-factor': 4, 'original-max-position-embeddings': 8192 } },
        },
      },
    },
  },
  { sampler: { version: 1, type: 'basic', seed: 100, temp: 1.2, 'top-k': 25, 'top-p': 0.8 } },
];
const SEED_TEXTS = SEEDS.map((seed) => JSON.stringify(seed, null, 2));

/** Everything the runtime does with a config before it touches a file. */
function useConfig(config: GenieConfig): void {
  summarizeConfig(config);
  missingFiles(config);
  if (!isDialogRoot(config)) return;
  deriveDialog(config);
  assertLoadable(config);
}

const text = fc.oneof(
  { weight: 6, arbitrary: mutatedText(SEED_TEXTS) },
  { weight: 1, arbitrary: fc.json({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200, unit: 'binary' }) },
);

describe('fuzz: config readers', () => {
  fuzz('parseConfigText on mutated configs, JSON and random text', text, (input) => useConfig(parseConfigText(input, { baseDir: '/m', file: 'fuzz.json' })), {
    runs: 600,
    examples: [
      // Found by this fuzzer: nesting deeper than the call stack (the duplicate-key scan recursed).
      '['.repeat(100_000),
      `{"dialog": ${'['.repeat(100_000)}1${']'.repeat(100_000)}}`,
      // Found by this fuzzer: thousands of repeated keys (line:column of each was a scan from the start).
      `{${Array.from({ length: 20_000 }, () => '"a": 1').join(',\n')}}`,
    ],
  });

  fuzz('parseConfig on mutated config values', mutatedValue(SEEDS, 4), (value) => useConfig(parseConfig(value, { baseDir: '/m' })), {
    runs: 600,
  });

  fuzz('findDuplicateKeys on valid JSON text', fc.json({ maxDepth: 6 }), (input) => {
    // JSON.stringify output has no repeated keys: the scan must accept it and find none.
    if (findDuplicateKeys(input).length > 0) throw new Error('duplicate keys in JSON.stringify output');
  }, { runs: 300 });

  const dir = tempDir('fuzz-config');
  let count = 0;
  fuzz('loadConfigFile on mutated config files', mutatedText(SEED_TEXTS), async (input) => {
    const file = join(dir, `config-${count++ % 8}.json`);
    writeFileSync(file, input);
    useConfig((await loadConfigFile(file)).config);
  }, { runs: 100 });

  const extensions = [
    '{"devices":[{"cores":[{"perf_profile":"burst","rpc_control_latency":100}]}]}',
    JSON.stringify({
      backend_extensions: { shared_library_path: 'libQnnHtpNetRunExtensions.so', config_file_path: 'htp.json' },
      devices: [{ soc_model: 60, dsp_arch: 'v75', cores: [{ core_id: 0, perf_profile: 'high_performance', rpc_control_latency: 0 }] }],
      memory: { mem_type: 'shared_buffer' },
      context: { weight_sharing_enabled: true },
      graphs: [{ graph_names: ['a', 'b'], vtcm_mb: 8, O: 3 }],
    }, null, 2),
  ];
  fuzz('readHtpExtensions on mutated extension files', fc.oneof(mutatedText(extensions), fc.json({ maxDepth: 4 })), async (input) => {
    const file = join(dir, `htp-${count++ % 8}.json`);
    writeFileSync(file, input);
    await readHtpExtensions(file);
  }, {
    runs: 300,
    // Found by this fuzzer: a value nested deeper than JSON.stringify recurses, quoted in the message.
    examples: [`{"devices": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`],
  });
});
