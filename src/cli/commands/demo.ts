import { GenieError, isSystemError } from '../../errors.js';
import {
  DEFAULT_DEMO_OPTIONS, DEMO_BACKENDS, DEMO_QUANTS, describeDemoOptions, DemoOptionError, writeDemoBundle, type DemoInput, type DemoOptions,
  type DemoBackend, type DemoQuant,
} from '../../demo/index.js';
import {
  parseChoiceFlag, parseCommandArgs, parseFlags, parseIntegerFlag, parseIntegerListFlag, reportUsageError, UsageError, type FlagSpec,
} from '../flags.js';
import type { CliIO, Command } from '../io.js';

const defaults = DEFAULT_DEMO_OPTIONS;
const USAGE = `usage: genie-ts demo --out DIR [options]

Writes a self-contained demo bundle to DIR: a Qwen2-architecture model with RANDOM weights and
Qwen2.5's vocabulary as reference ctx-bins, genie_config.json (Reference backend), tokenizer.json,
and the same weights as a Hugging Face checkpoint in DIR/hf. Equal options give identical files.

  --out DIR            folder to write: absent, empty, or a demo bundle (with --force)
  --layers N           decoder layers (default ${defaults.layers})
  --hidden N           hidden size, a multiple of --heads with an even head_dim (default ${defaults.hidden})
  --heads N            attention heads (default ${defaults.heads})
  --kv-heads N         KV heads, dividing --heads (default ${defaults.kvHeads})
  --splits N           ctx-bin parts (default ${defaults.splits}); with --input ids and N >= 2, part 1 is
                       the embedding lookup alone, so N is at most layers + 1
  --ar LIST            AR variants, comma-separated, each below --cl (default ${defaults.ar.join(',')})
  --cl N               context length (default ${defaults.cl})
  --seed S             seed of the weights and the sampler, 0..4294967295 (default ${defaults.seed})
  --input ids|embeds   part 1 takes token ids, or embeddings from embedding_lut.bin (default ${defaults.input})
  --quant none|htp|fp16
                       graph IO types (default ${defaults.quant}): none = float32; htp = as AI Hub HTP exports
                       (KV uint8, mask/cos/sin/embeddings/hidden/logits uint16, encodings calibrated on the
                       model, uint16 LUT with --input embeds); fp16 = every float IO float16. Same weights.
  --backend reference|qnn-htp
                       engine.backend.type of the config (default ${defaults.backend}); qnn-htp bundles run
                       on the simulated HTP provider (GENIE_TS_QNN_PROVIDER=simulated). Same files otherwise.
  --vision             a VLM bundle: an image encoder and a projector (vision/, image-encoder.json) whose
                       rows are spliced at each <image> of the prompt into a decoder taking embeddings
                       (--input embeds), text-generator.json (a Genie pipeline node), a tokenizer with
                       <image>; run it with genie-ts run -c DIR/genie_config.json --image FILE -p ...
  --force              replace DIR when it already holds a demo bundle
  -h, --help           show this help

exit status: 0 written, 1 DIR cannot be written, 2 bad usage
`;

const INTEGER_FLAGS = {
  layers: 'layers',
  hidden: 'hidden',
  heads: 'heads',
  'kv-heads': 'kvHeads',
  splits: 'splits',
  cl: 'cl',
  seed: 'seed',
} as const satisfies Record<string, keyof DemoOptions>;

const FLAGS: FlagSpec[] = [
  { name: 'out', kind: 'value' },
  ...Object.keys(INTEGER_FLAGS).map((name): FlagSpec => ({ name, kind: 'value' })),
  { name: 'ar', kind: 'value' },
  { name: 'input', kind: 'value' },
  { name: 'quant', kind: 'value' },
  { name: 'backend', kind: 'value' },
  { name: 'vision', kind: 'boolean' },
  { name: 'force', kind: 'boolean' },
  { name: 'help', kind: 'boolean', aliases: ['-h'] },
];

const flagOf = (option: string): string =>
  `--${Object.entries(INTEGER_FLAGS).find(([, key]) => key === option)?.[0] ?? option}`;

interface DemoArgs {
  readonly help: boolean;
  readonly out?: string;
  readonly force: boolean;
  readonly options: Partial<DemoOptions>;
}

function parseDemoArgs(args: readonly string[]): DemoArgs {
  const { values, positionals } = parseFlags(args, FLAGS);
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const text = (name: string): string | undefined => values.get(name) as string | undefined;
  const options: { -readonly [K in keyof DemoOptions]?: DemoOptions[K] } = {};
  for (const [flag, key] of Object.entries(INTEGER_FLAGS)) {
    const value = text(flag);
    if (value !== undefined) options[key] = parseIntegerFlag(`--${flag}`, value);
  }
  const ar = text('ar');
  if (ar !== undefined) options.ar = parseIntegerListFlag('--ar', ar);
  const input = text('input');
  if (input !== undefined) options.input = parseChoiceFlag<DemoInput>('--input', input, ['ids', 'embeds']);
  const quant = text('quant');
  if (quant !== undefined) options.quant = parseChoiceFlag<DemoQuant>('--quant', quant, DEMO_QUANTS);
  const backend = text('backend');
  if (backend !== undefined) options.backend = parseChoiceFlag<DemoBackend>('--backend', backend, DEMO_BACKENDS);
  if (values.has('vision')) options.vision = true;
  const out = text('out');
  if (out === '') throw new UsageError('--out needs a folder, got ""');
  return { help: values.has('help'), out, force: values.has('force'), options };
}

const usageError = (io: CliIO, message: string): number => reportUsageError(io, 'demo', message);

/** `genie-ts demo --out DIR [...]`. */
export const demoCommand: Command = async (args, io) => {
  const parsed = parseCommandArgs('demo', USAGE, args, io, parseDemoArgs);
  if (typeof parsed === 'number') return parsed;
  if (parsed.out === undefined) return usageError(io, 'missing --out DIR');
  try {
    const bundle = await writeDemoBundle(parsed.out, {
      ...parsed.options,
      force: parsed.force,
      onProgress: io.isTTY ? (message) => io.stderr(`${message}\n`) : undefined,
    });
    io.stdout(`${bundle.dir}\n`);
    io.stdout(`demo model with random weights (${describeDemoOptions(bundle.options)}); config: ${bundle.configPath}\n`);
    return 0;
  } catch (error) {
    if (error instanceof DemoOptionError) {
      const value = Array.isArray(error.value) ? error.value.join(',') : String(error.value);
      return usageError(io, `${flagOf(error.option)} ${value}: ${error.reason}`);
    }
    if (error instanceof GenieError || isSystemError(error)) {
      io.stderr(`genie-ts demo: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
};
