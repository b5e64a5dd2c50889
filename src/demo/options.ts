/** What a demo bundle is built from, its defaults and its limits. */
import { DemoOptionError } from './errors.js';

export type DemoInput = 'ids' | 'embeds';

/**
 * The IO types of the graphs: `none` float32; `htp` as AI Hub's w8a16 HTP exports present them (KV
 * uint8, everything else uint16, calibrated on the model itself; a uint16 LUT with `--input
 * embeds`); `fp16` every float IO tensor float16 (AI Hub's "w4"). The weights are the same.
 */
export type DemoQuant = 'none' | 'htp' | 'fp16';
export const DEMO_QUANTS: readonly DemoQuant[] = Object.freeze(['none', 'htp', 'fp16']);

/**
 * Which `engine.backend.type` the config names: `reference` (genie-ts's pure-TS executor) or
 * `qnn-htp` (the QNN binding; the ctx-bins are reference binaries, which only the simulated HTP
 * provider executes: run with `GENIE_TS_QNN_PROVIDER=simulated`). Same files otherwise.
 */
export type DemoBackend = 'reference' | 'qnn-htp';
export const DEMO_BACKENDS: readonly DemoBackend[] = Object.freeze(['reference', 'qnn-htp']);

export interface DemoOptions {
  /** Decoder layers. */
  readonly layers: number;
  /** Hidden size: a multiple of `heads` with an even head_dim (RoPE rotates half-dims). */
  readonly hidden: number;
  readonly heads: number;
  /** KV heads: `heads` must be a multiple of it. */
  readonly kvHeads: number;
  /**
   * Ctx-bin parts. With `input: 'ids'` and 2 or more parts, part 1 is the embedding lookup alone
   * (AI Hub's split_embedding) and the layers spread over the others, so 1..layers+1; with
   * `input: 'embeds'` the host LUT takes the embedding's place, so 1..layers.
   */
  readonly splits: number;
  /** AR variants (tokens per step), ascending; one graph per AR in every part. */
  readonly ar: readonly number[];
  /** Context length of every graph (and `context.size`). */
  readonly cl: number;
  /** Seeds the weights and the config's sampler. */
  readonly seed: number;
  /** What part 1 takes: token ids, or embeddings the host looks up in `embedding_lut.bin`. */
  readonly input: DemoInput;
  /** IO types of the graphs (and of the LUT); the weights do not depend on it. */
  readonly quant: DemoQuant;
  /** The config's backend; the weights and ctx-bins do not depend on it. */
  readonly backend: DemoBackend;
  /**
   * A VLM bundle: an image encoder and a projector (`vision/`, `image-encoder.json`) whose rows are
   * spliced into a decoder that takes embeddings (so `input` is `embeds`), a pipeline
   * `text-generator.json`, and a tokenizer with `<image>`.
   */
  readonly vision: boolean;
}

export const DEFAULT_DEMO_OPTIONS: DemoOptions = Object.freeze({
  layers: 2,
  hidden: 64,
  heads: 4,
  kvHeads: 2,
  splits: 2,
  ar: Object.freeze([1, 32]),
  cl: 512,
  seed: 42,
  input: 'ids',
  quant: 'none',
  backend: 'reference',
  vision: false,
});

/**
 * Upper bounds that keep a bundle buildable in one Node process: every embedding copy is
 * 151936 x hidden float32 values (1.2 GB at 2048), and CL is Qwen2.5's max_position_embeddings.
 */
export const DEMO_LIMITS = Object.freeze({ maxLayers: 64, maxHidden: 2048, maxCl: 32768 });

const OPTION_KEYS = Object.keys(DEFAULT_DEMO_OPTIONS) as (keyof DemoOptions)[];

function integerIn(option: keyof DemoOptions, value: unknown, min: number, max: number, why = ''): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new DemoOptionError(option, value, `expected an integer in [${min}, ${max}]${why}`);
  }
  return value;
}

function arList(value: unknown, cl: number): number[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new DemoOptionError('ar', value, 'expected a non-empty list of integers');
  }
  for (const ar of value) {
    if (typeof ar !== 'number' || !Number.isSafeInteger(ar) || ar < 1 || ar >= cl) {
      throw new DemoOptionError('ar', value, `entry ${JSON.stringify(ar)} is not an integer in [1, cl ${cl})`);
    }
  }
  const sorted = [...value].sort((a, b) => a - b);
  const repeated = sorted.find((ar, i) => i > 0 && ar === sorted[i - 1]);
  if (repeated !== undefined) throw new DemoOptionError('ar', value, `AR ${repeated} appears twice`);
  return sorted;
}

/**
 * `options` over the defaults, validated, with `ar` sorted ascending.
 * @throws DemoOptionError naming the first bad option and its value (unknown keys included).
 */
export function resolveDemoOptions(options: Partial<DemoOptions> = {}): DemoOptions {
  for (const key of Object.keys(options)) {
    if (!(OPTION_KEYS as string[]).includes(key)) {
      throw new DemoOptionError(key, (options as Record<string, unknown>)[key], `unknown option (options: ${OPTION_KEYS.join(', ')})`);
    }
  }
  const o = { ...DEFAULT_DEMO_OPTIONS, ...options };
  const layers = integerIn('layers', o.layers, 1, DEMO_LIMITS.maxLayers);
  const heads = integerIn('heads', o.heads, 1, DEMO_LIMITS.maxHidden / 2);
  const hidden = integerIn('hidden', o.hidden, 2, DEMO_LIMITS.maxHidden);
  if (hidden % heads !== 0) throw new DemoOptionError('hidden', hidden, `not a multiple of heads ${heads}`);
  if ((hidden / heads) % 2 !== 0) {
    throw new DemoOptionError('hidden', hidden, `head_dim = hidden / heads ${heads} = ${hidden / heads} is odd (RoPE needs it even)`);
  }
  const kvHeads = integerIn('kvHeads', o.kvHeads, 1, heads);
  if (heads % kvHeads !== 0) throw new DemoOptionError('kvHeads', kvHeads, `does not divide heads ${heads}`);
  if (typeof o.vision !== 'boolean') throw new DemoOptionError('vision', o.vision, 'expected true or false');
  // A VLM splices image rows into the decoder's embedding input.
  if (o.vision && options.input === undefined) o.input = 'embeds';
  if (o.input !== 'ids' && o.input !== 'embeds') throw new DemoOptionError('input', o.input, 'expected "ids" or "embeds"');
  if (o.vision && o.input !== 'embeds') throw new DemoOptionError('input', o.input, 'a vision bundle\'s decoder takes embeddings (input "embeds")');
  const maxSplits = o.input === 'ids' ? layers + 1 : layers;
  const splits = integerIn(
    'splits', o.splits, 1, maxSplits,
    o.input === 'ids' ? ` (layers ${layers} plus the embedding part)` : ` (layers ${layers}; input "embeds" has no embedding part)`,
  );
  const cl = integerIn('cl', o.cl, 2, DEMO_LIMITS.maxCl);
  const ar = arList(o.ar, cl);
  const seed = integerIn('seed', o.seed, 0, 0xffff_ffff);
  if (!DEMO_QUANTS.includes(o.quant)) throw new DemoOptionError('quant', o.quant, `expected ${DEMO_QUANTS.map((q) => `"${q}"`).join(', ')}`);
  if (!DEMO_BACKENDS.includes(o.backend)) {
    throw new DemoOptionError('backend', o.backend, `expected ${DEMO_BACKENDS.map((b) => `"${b}"`).join(', ')}`);
  }
  return { layers, hidden, heads, kvHeads, splits, ar, cl, seed, input: o.input, quant: o.quant, backend: o.backend, vision: o.vision };
}

/** One line, e.g. `layers 2, hidden 64, heads 4, kv-heads 2, splits 2, ar 1,32, cl 512, input ids, seed 42, quant none, backend reference` (`, vision` for a VLM). */
export function describeDemoOptions(options: DemoOptions): string {
  const { layers, hidden, heads, kvHeads, splits, ar, cl, input, seed, quant, backend, vision } = options;
  return `layers ${layers}, hidden ${hidden}, heads ${heads}, kv-heads ${kvHeads}, splits ${splits}, ar ${ar.join(',')}, cl ${cl}, input ${input}, seed ${seed}, quant ${quant}, backend ${backend}${vision ? ', vision' : ''}`;
}
