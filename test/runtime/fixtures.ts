/**
 * Test bundles for the runtime: a random Qwen2 model split into reference ctx-bins with a Genie
 * config object beside them, a shared tokenizer, dialogs opened on either backend (Reference, or
 * QnnHtp through the QNN binding on the simulated HTP provider), and helpers that drive a Dialog
 * and collect what it streams. The oracle is `fullForward` (no cache, float64) from test/backends/reference.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { splitQwen2Checkpoint, type Qwen2Config } from '../../src/backends/reference/index.js';
import type { FloatTensor } from '../../src/formats/index.js';
import { createSimulatedQnn, type SimulatedQnn } from '../../src/simulator/index.js';
import { Dialog, type DialogOptions, type QueryOptions, type QueryResult } from '../../src/runtime/dialog.js';
import { demoTokenizerPath, loadTokenizer } from '../../src/runtime/tokenizer/index.js';
import type { Tokenizer } from '../../src/runtime/tokenizer/index.js';
import { tempDir, writeParts } from '../backends/reference/fixtures.js';
import { fullForward, randomWeights, tinyConfig } from '../backends/reference/qwen2-oracle.js';

/** Config bodies are plain JSON; tests edit fresh copies. */
export type Json = any;

/** The Qwen vocabulary size, so that any sampled id decodes with the real tokenizer. */
export const QWEN_VOCAB = 151936;

/** Loaded once per worker (loadTokenizer caches by path). */
export function sharedTokenizer(): Promise<Tokenizer> {
  return loadTokenizer(demoTokenizerPath());
}

/** A 2-layer model small enough for the float64 oracle; its 1024 ids decode to ASCII-ish Qwen tokens. */
export function smallModel(overrides: Partial<Qwen2Config> = {}): Qwen2Config {
  return tinyConfig({
    hiddenSize: 32,
    numAttentionHeads: 4,
    numKeyValueHeads: 2,
    headDim: 8,
    intermediateSize: 64,
    numHiddenLayers: 2,
    vocabSize: 1024,
    ...overrides,
  });
}

export interface Model {
  readonly config: Qwen2Config;
  readonly weights: Map<string, FloatTensor>;
}

/** The highest id of the demo (Qwen) tokenizer: Dialog.create refuses an EOS the tokenizer does not have. */
const LAST_TOKENIZER_ID = 151668;

function silentId(config: Qwen2Config): number {
  return Math.min(config.vocabSize - 1, LAST_TOKENIZER_ID);
}

/**
 * Random weights (untied LM head) whose LM-head rows of the last token id and of `silentEos` (the
 * same id unless the vocabulary runs past the tokenizer's) are zero: such a token's logit is exactly
 * 0 while the maximum over the others is far above it, so greedy decoding never produces it and
 * `silentEos` can serve as a default EOS that never ends a query by chance.
 */
export function makeModel(overrides: Partial<Qwen2Config> = {}, seed = 'runtime'): Model {
  const config = smallModel({ ...overrides, tieWordEmbeddings: false });
  const weights = randomWeights(config, seed);
  const head = weights.get('lm_head.weight')!.data;
  head.fill(0, (config.vocabSize - 1) * config.hiddenSize);
  head.fill(0, silentId(config) * config.hiddenSize, (silentId(config) + 1) * config.hiddenSize);
  return { config, weights };
}

/** The EOS of `dialogConfig` by default: an id of the tokenizer never sampled greedily (see `makeModel`). */
export function silentEos(model: Model): number {
  return silentId(model.config);
}

export interface BundleOptions {
  readonly arSet: readonly number[];
  readonly cl: number;
  readonly splits: number;
  readonly embeddingPart?: boolean;
  /** `embeds`: part 1 takes `input_embeds` and the config carries a float32 LUT of embed_tokens. */
  readonly inputKind?: 'ids' | 'embeds';
  /** Sub-folder name inside the test's temporary folder. */
  readonly name: string;
}

export interface Bundle {
  readonly dir: string;
  readonly model: Model;
  readonly ctxBins: string[];
  readonly cl: number;
  /** Set for `embeds` bundles: the LUT's file name inside `dir`. */
  readonly lut: string | undefined;
}

/** Writes the model's parts (and LUT) into `root/<name>`. */
export async function writeBundle(root: string, model: Model, options: BundleOptions): Promise<Bundle> {
  const dir = join(root, options.name);
  const inputKind = options.inputKind ?? 'ids';
  const parts = splitQwen2Checkpoint({
    config: model.config,
    weights: model.weights,
    arSet: options.arSet,
    cl: options.cl,
    splits: options.splits,
    embeddingPart: options.embeddingPart,
    inputKind,
  });
  mkdirSync(dir, { recursive: true });
  const paths = await writeParts(dir, 'model', parts);
  let lut: string | undefined;
  if (inputKind === 'embeds') {
    lut = 'embedding_lut.bin';
    const table = model.weights.get('model.embed_tokens.weight')!.data;
    writeFileSync(join(dir, lut), new Uint8Array(table.buffer, table.byteOffset, table.byteLength));
  }
  return { dir, model, ctxBins: paths.map((p) => p.slice(dir.length + 1)), cl: options.cl, lut };
}

/**
 * The backends every model test runs on: the pure-TypeScript executor, and QnnHtp, whose graphs run
 * through the QNN binding on the simulated HTP provider (same weights, same executor behind the C ABI).
 */
export const BACKENDS = ['Reference', 'QnnHtp'] as const;
export type BackendKind = (typeof BACKENDS)[number];

/** `engine.backend` of a Genie config; QnnHtp carries the five keys Genie requires. */
export function backendConfig(kind: BackendKind): Json {
  if (kind === 'Reference') return { version: 1, type: 'Reference' };
  return {
    version: 1,
    type: 'QnnHtp',
    QnnHtp: { version: 1, 'spill-fill-bufsize': 0, 'mmap-budget': 0, 'use-mmap': true, 'cpu-mask': '0xe0', poll: false },
  };
}

export interface ConfigOptions {
  /** Default `Reference`. */
  readonly backend?: BackendKind;
  readonly contextSize?: number;
  readonly eos?: number | number[];
  readonly bos?: number;
  readonly sampler?: Json;
  readonly maxNumTokens?: number;
  readonly stopSequences?: string[];
}

/** A Genie dialog config object for the bundle (Reference backend unless `backend` says otherwise, greedy unless `sampler` does). */
export function dialogConfig(bundle: Bundle, options: ConfigOptions = {}): Json {
  const { config } = bundle.model;
  const dialog: Json = {
    version: 1,
    type: 'basic',
    context: {
      version: 1,
      size: options.contextSize ?? bundle.cl,
      'n-vocab': config.vocabSize,
      'bos-token': options.bos ?? -1,
      'eos-token': options.eos ?? silentEos(bundle.model),
    },
    sampler: options.sampler ?? { version: 1, seed: 1, temp: 0 },
    tokenizer: { version: 1, path: demoTokenizerPath() },
    engine: {
      version: 1,
      'n-threads': 1,
      backend: backendConfig(options.backend ?? 'Reference'),
      model: {
        version: 1,
        type: 'binary',
        binary: { version: 1, 'ctx-bins': [...bundle.ctxBins] },
        'positional-encoding': {
          type: 'rope',
          'rope-dim': config.headDim / 2,
          'rope-theta': config.ropeTheta,
        },
      },
    },
  };
  if (bundle.lut !== undefined) {
    dialog.embedding = { version: 1, type: 'lut', 'lut-path': bundle.lut, size: config.hiddenSize, datatype: 'float32' };
  }
  if (options.maxNumTokens !== undefined) dialog['max-num-tokens'] = options.maxNumTokens;
  if (options.stopSequences !== undefined) dialog['stop-sequence'] = options.stopSequences;
  return { dialog };
}

/**
 * Opens dialogs on one backend and disposes them together. Each QnnHtp dialog gets a simulated
 * provider of its own, so that its dispose (or a failed create) can be checked to leave no live
 * native handle behind.
 */
export class DialogPool {
  /** Every dialog opened, with its simulated provider on QnnHtp. */
  private readonly opened = new Map<Dialog, SimulatedQnn | undefined>();

  constructor(readonly backend: BackendKind) {}

  /** `dialogConfig` on this pool's backend. */
  config(bundle: Bundle, options: ConfigOptions = {}): Json {
    return dialogConfig(bundle, { backend: this.backend, ...options });
  }

  /** A dialog over the bundle with the shared tokenizer; the config defaults to `config(bundle)`. */
  async open(bundle: Bundle, config: Json = this.config(bundle), options: DialogOptions = {}): Promise<Dialog> {
    return this.create(config, { baseDir: bundle.dir, tokenizer: await sharedTokenizer(), ...options });
  }

  /** `Dialog.create` (config object or file path) with this pool's backend options. */
  async create(config: string | Json, options: DialogOptions = {}): Promise<Dialog> {
    const simulated = this.backend === 'QnnHtp' ? createSimulatedQnn() : undefined;
    let dialog: Dialog;
    try {
      dialog = await Dialog.create(
        config,
        simulated === undefined
          ? options
          : { ...options, backend: { ...options.backend, qnn: { provider: 'simulated', simulated, ...options.backend?.qnn } } },
      );
    } catch (error) {
      if (simulated !== undefined) {
        const live = simulated.liveHandles();
        simulated.dispose();
        expect(live, 'live simulated QNN handles after a failed Dialog.create').toBe(0);
      }
      throw error;
    }
    this.opened.set(dialog, simulated);
    expect(dialog.config.backendType, 'engine.backend.type of the config the pool opened').toBe(this.backend);
    return dialog;
  }

  /** The simulated provider behind a QnnHtp dialog of this pool (undefined on Reference). */
  provider(dialog: Dialog): SimulatedQnn | undefined {
    return this.opened.get(dialog);
  }

  /** Disposes every dialog (disposing twice is harmless); each one's provider must then hold no live handle. */
  async disposeAll(): Promise<void> {
    const liveCounts: number[] = [];
    for (const [dialog, simulated] of this.opened) {
      await dialog.dispose();
      if (simulated === undefined) continue;
      liveCounts.push(simulated.liveHandles());
      simulated.dispose();
    }
    this.opened.clear();
    expect(liveCounts.filter((live) => live !== 0), 'live simulated QNN handles after a dialog was disposed').toEqual([]);
  }
}

export interface Turn {
  readonly result: QueryResult;
  /** Pieces as streamed. */
  readonly pieces: string[];
  /** Every sampled token (EOS and stop tokens included), in order. */
  readonly sampled: number[];
  /** A copy of the logits row each sampled token was drawn from. */
  readonly logits: Float32Array[];
}

/** Drains a query; `options.onLogits` is replaced by the collector. */
export async function drain(
  start: (options: QueryOptions) => AsyncGenerator<string, QueryResult>,
  options: QueryOptions = {},
  onSampled?: (count: number, token: number) => void,
): Promise<Turn> {
  const sampled: number[] = [];
  const logits: Float32Array[] = [];
  const generator = start({
    ...options,
    onLogits: (row, token) => {
      sampled.push(token);
      logits.push(row.slice());
      onSampled?.(sampled.length, token);
    },
  });
  const pieces: string[] = [];
  for (;;) {
    const next = await generator.next();
    if (next.done) return { result: next.value, pieces, sampled, logits };
    pieces.push(next.value);
  }
}

export function tokenTurn(
  dialog: Dialog,
  tokens: readonly number[],
  options: QueryOptions = {},
  onSampled?: (count: number, token: number) => void,
): Promise<Turn> {
  return drain((o) => dialog.tokenQuery(tokens, o), options, onSampled);
}

export function textTurn(dialog: Dialog, prompt: string, options: QueryOptions = {}): Promise<Turn> {
  return drain((o) => dialog.query(prompt, o), options);
}

/** Deterministic token ids in [lo, hi). */
export function tokenIds(count: number, seed: number, lo = 1, hi = 1000): number[] {
  const ids: number[] = [];
  let state = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    ids.push(lo + ((state >>> 8) % (hi - lo)));
  }
  return ids;
}

/**
 * A stop sequence spelled by `count` whole tokens of a free-running output, at the first start >=
 * `from` where they and the token before them decode to complete characters (random weights also
 * emit lone UTF-8 bytes, whose text is only settled by the next token).
 */
export function stopFrom(tokenizer: Tokenizer, free: readonly number[], from: number, count: number): { stop: string; start: number } {
  for (let start = Math.max(from, 1); start + count <= free.length; start++) {
    const window = free.slice(start - 1, start + count);
    const pieces = window.map((t) => tokenizer.decode([t]));
    if (pieces.every((p) => p.length > 0 && !p.includes('\uFFFD'))) return { stop: pieces.slice(1).join(''), start };
  }
  throw new Error(`no clean ${count}-token window from ${from} in the free-running output`);
}

export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/**
 * The oracle for one turn: `context` is every token the model should hold once the turn's prompt
 * is in (everything fed since the last reset, as Genie's rules say, computed by the test). The
 * turn's logits rows belong to the last prompt position and then to each sampled token fed back,
 * so they must equal the rows of one uncached pass over `context + sampled[0..-1]`, and each
 * (greedy) token must be the argmax of its recomputed row. Returns the largest |delta logit|.
 */
export function expectTurnMatchesRecompute(model: Model, context: readonly number[], turn: Pick<Turn, 'sampled' | 'logits'>): number {
  const sequence = [...context, ...turn.sampled.slice(0, -1)];
  const expected = fullForward(model.config, model.weights, sequence);
  const offset = context.length - 1;
  expect(turn.logits.length).toBe(turn.sampled.length);
  expect(turn.logits.length).toBeGreaterThan(0);
  let worst = 0;
  turn.logits.forEach((row, i) => {
    const want = expected[offset + i];
    expect(row.length).toBe(want.length);
    for (let v = 0; v < want.length; v++) worst = Math.max(worst, Math.abs(row[v] - want[v]));
    expect(turn.sampled[i]).toBe(argmax(want));
  });
  expect(worst).toBeLessThanOrEqual(1e-4);
  return worst;
}

/** Largest |a - b| over two turns' logits rows (same count required). */
export function maxRowDiff(a: Turn, b: Turn): number {
  expect(a.logits.length).toBe(b.logits.length);
  let worst = 0;
  a.logits.forEach((row, i) => {
    const other = b.logits[i];
    for (let v = 0; v < row.length; v++) worst = Math.max(worst, Math.abs(row[v] - other[v]));
  });
  return worst;
}

export { tempDir };
