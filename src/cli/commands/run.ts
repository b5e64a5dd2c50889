import { accessSync, closeSync, constants, existsSync, openSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { GenieError, InvalidArgumentError, isSystemError, NotSupportedError, systemErrorReason } from '../../errors.js';
import { FileTooLargeError, readFileUpTo } from '../../formats/bounded-file.js';
import { ConfigError } from '../../runtime/config/index.js';
import { ContextLimitError } from '../../graphs/errors.js';
import { ensureDemoBundle } from '../../demo/index.js';
import { Dialog, SAMPLER_STAGES_OPTION, type QueryOptions, type QueryResult } from '../../runtime/dialog.js';
import type { StepListener } from '../../runtime/engine/step-event.js';
import { EmbeddingTable, EmbeddingTableError } from '../../runtime/embeddings/lut.js';
import { parseKvPolicySpec, type KvPolicySpec } from '../../runtime/kv-policy/index.js';
import {
  TRACE_INDEX, TRACE_TENSOR_CLASSES, TraceWriter, type TraceOptions, type TraceTensorClass,
} from '../../runtime/trace/trace-writer.js';
import type { SamplerUpdate } from '../../sampler/resolve-params.js';
import { checkStageSpec, type SamplerStageSpec } from '../../sampler/chain.js';
import { byteSize, type ElementArray } from '../../tensor/dtype.js';
import { parseChoiceFlag, parseFlags, parseIntegerFlag, UsageError, type FlagSpec } from '../flags.js';
import type { CliIO, Command } from '../io.js';
import type { QnnExecuteMode } from '../../qnn/binding/graph.js';
import { embeddingFileRows, parseEmbeddingFileSpec, tableToEmbedding, type EmbeddingFileSpec } from './embedding-file.js';

const USAGE = `usage: genie-ts run [-c CONFIG] (-p PROMPT | --prompt_file FILE | -tok FILE | -e FILE[,...]) [options]

Runs a Genie dialog config like genie-t2t-run. Without -c it runs the embedded demo model (random
weights, built on first use into a cache folder). Text streams to stdout, diagnostics to stderr.

  -c, --config FILE          Genie JSON config (default: the embedded demo model)
  -p, --prompt TEXT          the prompt, already templated (Genie applies no chat template)
  --prompt_file FILE         read the prompt from a file
  -tok, --tokens_file FILE   whitespace-separated token ids instead of text
  -e, --embedding_file PATH[,TYPE,SCALE,OFFSET]
                             the prompt as raw embedding rows (a model that takes embeddings):
                             TYPE float32 (default), or uint8 | uint16 | int8 | int16 with SCALE
                             and OFFSET (QNN convention: float = (q + OFFSET) * SCALE); no BOS added
  -t, --embedding_table PATH[,TYPE,SCALE,OFFSET]
                             with -e: the n-vocab x size table that turns generated tokens into
                             embeddings (default: the config's LUT)
  --embedding_query_output_type text|token
                             with -e: print the reply as text (default) or as its generated token
                             ids, separated by spaces (printed when the reply ends)
  -w, --rewind PROMPT        after the -p / --prompt_file query, send PROMPT (the whole conversation,
                             templated) as Genie's REWIND query: the longest prefix already in the KV
                             cache is kept and only the rest is fed; its reply follows the first
  -s, --save DIR             after the queries, save the dialog (KV cache, token ledger, sampler RNG
                             and params) to the folder DIR (Genie's GenieDialog_save)
  -r, --restore DIR          before the query, restore the dialog saved in DIR (GenieDialog_restore):
                             the query continues that conversation; DIR must be a save of this model
  --image FILE               an image for the next <image> placeholder of the prompt (repeat the flag
                             for more; with -p or --prompt_file): decoded, preprocessed, encoded by
                             the image encoder and spliced into the prompt's embedding rows (a .raw
                             file is the preprocessed pixel_values tensor, as Genie's node set image
                             takes it). Without -c it runs the embedded VLM demo model
  --image-encoder FILE       the image-encoder config (default: image-encoder.json beside -c CONFIG)
  -l, --lora ADAPTER[,ALPHA_NAME,VALUE,...]
                             apply a LoRA adapter (genie-t2t-run's flag; genie-ts runs no LoRA yet)
  -n, --max-tokens N         stop after N generated tokens (default: the config's max-num-tokens)
  --force-tokens FILE        teacher forcing (a genie-ts extension): generate exactly these
                             whitespace-separated token ids (read like -tok), whatever the sampler
                             picks; the query then ends with stop reason "forced" (--json adds
                             samplerTokens, the sampler's picks); aligns two runs step for step
  --trace DIR                write every graph step of the (first) query into the new or empty
                             folder DIR: step-NNNNN.safetensors (each bound tensor in its own dtype)
                             and trace.json (steps, tokens, positions, timings, tensor specs and
                             encodings, what the size cap left out), kept current as the run goes;
                             compare two traces with genie-ts trace diff
  --trace-max-mb N           the trace's size cap for tensor data (default 512); later steps are
                             indexed without their tensors, with a warning on stderr
  --trace-tensors LIST       the tensors written: a comma-separated subset of inputs, outputs, kv,
                             logits, or all (default); the index lists every tensor
  --trace-steps RANGE        the steps whose tensors are written: N, A..B, A.. or ..B (0-based,
                             inclusive; default all); every step is indexed
  --seed S                   sampler seed, 0..4294967295
  --temp T                   temperature (0 = greedy)
  --top-k K                  top-k (0 = off, 1 = greedy)
  --top-p P                  top-p in [0, 1] (1 = off, 0 keeps the most likely token)
  --sampler-stages LIST      the sampler chain (genie-ts extension), replacing the config's: stage
                             names separated by commas (penalties,top-k,top-p,min-p,temperature)
                             or a JSON array that may add logit-bias, typical-p, mirostat-v2, xtc
                             objects, e.g. '["top-k",{"type":"xtc","probability":0.5,"threshold":0.1},"temperature"]'
  --kv-policy SPEC           what a full KV cache does (genie-ts extension; default: the config's
                             longcontext block, else stop with the context-exceeded warning):
                             none, sliding-window:WINDOW[:RESERVED] (RESERVED first entries kept
                             as attention sinks) or drop-oldest-turns[:KEEP] (the first KEEP turns
                             stay; default 1)
  --top-logprobs N           with --json: per generated token, the N most likely tokens of the
                             distribution it was drawn from, with log-probabilities ("logprobs")
  --json                     print one JSON object at the end (prompt and generated token ids, text,
                             stop reason, KPIs) instead of streaming text; with -w, one line per query
  --dump-logits FILE         write raw float32 logits, one dequantized row per sampled token
  --profile FILE             write the KPIs as JSON (with -w: the rewind query's), plus QnnProfile
                             events on QnnHtp (refuses to overwrite an existing file, like Genie)
  --execute-mode MODE        QnnHtp only: async (default; graphExecute off the JS thread) or queued
                             (graphExecuteAsync: a step's splits run back to back; the config's
                             QnnHtp poll then makes the JS thread poll for each end)
  --log LEVEL                error | warn | info | verbose (default error); verbose adds one line per
                             graph step of the first query (variant, slots, positions, fed ids, timings)
  -h, --help                 show this help

Ctrl-C stops the query at the next step and prints the reply so far (exit status 0); a second
Ctrl-C ends genie-ts at once (killed by SIGINT: status 130 in a shell).

A reply that fills the context ends there: what it generated is printed (and the --json summary,
stop reason "context-limit"), with a warning on stderr, like Genie's
GENIE_STATUS_WARNING_CONTEXT_EXCEEDED; the exit status is 0.

exit status: 0 done (the context-exceeded warning included), 1 runtime error (config, files,
model, a prompt longer than the context), 2 bad usage
`;

/**
 * `--execute-mode`'s choices, QnnHtp execute modes (src/qnn/binding/graph.ts, not imported here: it
 * loads Koffi). Not `sync`: the CLI always takes QNN's log (`--log`), which a blocked JS thread
 * could not receive.
 */
const EXECUTE_MODES: readonly QnnExecuteMode[] = ['async', 'queued'];

const FLAGS: FlagSpec[] = [
  { name: 'config', kind: 'value', aliases: ['-c'] },
  { name: 'prompt', kind: 'value', aliases: ['-p'] },
  { name: 'prompt_file', kind: 'value' },
  { name: 'tokens_file', kind: 'value', aliases: ['-tok'] },
  { name: 'embedding_file', kind: 'value', aliases: ['-e'] },
  { name: 'embedding_table', kind: 'value', aliases: ['-t'] },
  { name: 'embedding_query_output_type', kind: 'value' },
  { name: 'rewind', kind: 'value', aliases: ['-w'] },
  { name: 'save', kind: 'value', aliases: ['-s'] },
  { name: 'restore', kind: 'value', aliases: ['-r'] },
  { name: 'image', kind: 'values' },
  { name: 'image-encoder', kind: 'value' },
  { name: 'lora', kind: 'value', aliases: ['-l'] },
  { name: 'max-tokens', kind: 'value', aliases: ['-n'] },
  { name: 'force-tokens', kind: 'value' },
  { name: 'trace', kind: 'value' },
  { name: 'trace-max-mb', kind: 'value' },
  { name: 'trace-tensors', kind: 'value' },
  { name: 'trace-steps', kind: 'value' },
  { name: 'seed', kind: 'value' },
  { name: 'temp', kind: 'value' },
  { name: 'top-k', kind: 'value' },
  { name: 'top-p', kind: 'value' },
  { name: 'sampler-stages', kind: 'value' },
  { name: 'top-logprobs', kind: 'value' },
  { name: 'kv-policy', kind: 'value' },
  { name: 'json', kind: 'boolean' },
  { name: 'dump-logits', kind: 'value' },
  { name: 'profile', kind: 'value' },
  { name: 'execute-mode', kind: 'value' },
  { name: 'log', kind: 'value' },
  { name: 'help', kind: 'boolean', aliases: ['-h'] },
];

const LOG_LEVELS = ['error', 'warn', 'info', 'verbose'] as const;

/** The image-encoder config's name in a bundle (Genie's VLM examples, `genie-ts demo --vision`). */
const IMAGE_ENCODER_FILE = 'image-encoder.json';
type LogLevel = (typeof LOG_LEVELS)[number];

type PromptSource =
  | { kind: 'text'; text: string }
  | { kind: 'text-file'; path: string }
  | { kind: 'tokens-file'; path: string }
  | { kind: 'embedding-file'; spec: EmbeddingFileSpec };

const SOURCE_FLAG: Readonly<Record<PromptSource['kind'], string>> = {
  text: '--prompt',
  'text-file': '--prompt_file',
  'tokens-file': '--tokens_file',
  'embedding-file': '--embedding_file',
};

/** `-l ADAPTER[,ALPHA_NAME,VALUE,...]`: genie-t2t-run's LoRA adapter and alpha strengths. */
interface LoraArg {
  readonly adapter: string;
  readonly alphas: ReadonlyMap<string, number>;
}

interface RunArgs {
  readonly help: boolean;
  readonly config?: string;
  readonly prompt?: PromptSource;
  /** `-t`: the T2E table of an embedding query. */
  readonly embeddingTable?: EmbeddingFileSpec;
  /** `--embedding_query_output_type`: how an embedding query's reply is printed. */
  readonly embeddingOutput: 'text' | 'token';
  /** `-w`: the prompt of a REWIND query sent after the first one. */
  readonly rewind?: string;
  /** `-s` / `-r`: the save folder written after the queries / restored before them. */
  readonly save?: string;
  readonly restore?: string;
  /** `--image`: the images of the prompt's placeholders, in order. */
  readonly images: readonly string[];
  readonly imageEncoder?: string;
  readonly lora?: LoraArg;
  readonly maxTokens?: number;
  /** `--force-tokens`: the file of the tokens the first query generates. */
  readonly forceTokens?: string;
  /** `--trace DIR` and its `--trace-max-mb` cap in bytes. */
  readonly trace?: { readonly dir: string } & TraceOptions;
  readonly sampler: SamplerUpdate;
  /** `--sampler-stages`: the chain, replacing the config's. */
  readonly samplerStages?: readonly SamplerStageSpec[];
  /** `--top-logprobs N` (with --json). */
  readonly topLogprobs?: number;
  /** `--kv-policy`: replaces the config's long-context policy. */
  readonly kvPolicy?: KvPolicySpec;
  readonly json: boolean;
  readonly dumpLogits?: string;
  readonly profile?: string;
  /** `--execute-mode` (QnnHtp). */
  readonly executeMode?: QnnExecuteMode;
  readonly log: LogLevel;
}

function parseNumberFlag(flag: string, text: string, check: (v: number) => boolean, expected: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || !check(value)) throw new UsageError(`${flag} "${text}": expected ${expected}`);
  return value;
}

function parseRunArgs(args: readonly string[]): RunArgs {
  const { values, lists, positionals } = parseFlags(args, FLAGS);
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const text = (name: string): string | undefined => values.get(name) as string | undefined;

  const sources: PromptSource[] = [];
  if (text('prompt') !== undefined) sources.push({ kind: 'text', text: text('prompt')! });
  if (text('prompt_file') !== undefined) sources.push({ kind: 'text-file', path: text('prompt_file')! });
  if (text('tokens_file') !== undefined) sources.push({ kind: 'tokens-file', path: text('tokens_file')! });
  if (sources.length > 1) throw new UsageError('--prompt, --prompt_file and --tokens_file are mutually exclusive');
  const embeddingFile = text('embedding_file');
  if (embeddingFile !== undefined) {
    if (sources.length > 0) {
      throw new UsageError(`--embedding_file and ${SOURCE_FLAG[sources[0].kind]} are mutually exclusive (give one prompt source)`);
    }
    sources.push({ kind: 'embedding-file', spec: parseEmbeddingFileSpec('--embedding_file', embeddingFile) });
  }
  const tableText = text('embedding_table');
  if (tableText !== undefined && embeddingFile === undefined) {
    throw new UsageError('--embedding_table needs --embedding_file (it turns generated tokens into embeddings for that query)');
  }
  const embeddingTable = tableText === undefined ? undefined : parseEmbeddingFileSpec('--embedding_table', tableText);
  const outputType = text('embedding_query_output_type');
  if (outputType !== undefined && embeddingFile === undefined) {
    throw new UsageError('--embedding_query_output_type needs --embedding_file (it says how an embedding query\'s reply is printed)');
  }
  const embeddingOutput = outputType === undefined ? 'text' : parseChoiceFlag('--embedding_query_output_type', outputType, ['text', 'token'] as const);
  const rewind = text('rewind');
  if (rewind !== undefined && sources[0]?.kind !== 'text' && sources[0]?.kind !== 'text-file') {
    throw new UsageError('--rewind needs --prompt or --prompt_file (its query follows a text query, as in genie-t2t-run)');
  }
  const images = lists.get('image') ?? [];
  if (images.length > 0 && sources[0] !== undefined && sources[0].kind !== 'text' && sources[0].kind !== 'text-file') {
    throw new UsageError(`--image needs --prompt or --prompt_file (a text prompt with <image> placeholders), not ${SOURCE_FLAG[sources[0].kind]}`);
  }
  const imageEncoder = text('image-encoder');
  if (imageEncoder !== undefined && images.length === 0) throw new UsageError('--image-encoder needs --image (it encodes the images of the prompt)');
  const loraText = text('lora');
  const lora = loraText === undefined ? undefined : parseLora(loraText);

  const sampler: { -readonly [K in keyof SamplerUpdate]: SamplerUpdate[K] } = {};
  const seed = text('seed');
  if (seed !== undefined) {
    sampler.seed = parseIntegerFlag('--seed', seed);
    if (sampler.seed < 0 || sampler.seed > 0xffffffff) throw new UsageError(`--seed "${seed}": expected 0..4294967295`);
  }
  const temp = text('temp');
  if (temp !== undefined) sampler.temp = parseNumberFlag('--temp', temp, (v) => v >= 0, 'a number >= 0');
  const topK = text('top-k');
  if (topK !== undefined) {
    sampler.topK = parseIntegerFlag('--top-k', topK);
    if (sampler.topK < 0) throw new UsageError(`--top-k "${topK}": expected an integer >= 0`);
  }
  const topP = text('top-p');
  if (topP !== undefined) sampler.topP = parseNumberFlag('--top-p', topP, (v) => v >= 0 && v <= 1, 'a number in [0, 1]');

  const stagesText = text('sampler-stages');
  const samplerStages = stagesText === undefined ? undefined : parseStagesFlag(stagesText);
  const topLogprobsText = text('top-logprobs');
  let topLogprobs: number | undefined;
  if (topLogprobsText !== undefined) {
    if (!values.has('json')) throw new UsageError('--top-logprobs needs --json (the log-probabilities are part of its summary)');
    topLogprobs = parseIntegerFlag('--top-logprobs', topLogprobsText);
    if (topLogprobs < 1) throw new UsageError(`--top-logprobs "${topLogprobsText}": expected a positive integer`);
  }

  const kvPolicyText = text('kv-policy');
  let kvPolicy: KvPolicySpec | undefined;
  try {
    kvPolicy = kvPolicyText === undefined ? undefined : parseKvPolicySpec(kvPolicyText);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }

  const maxTokensText = text('max-tokens');
  let maxTokens: number | undefined;
  if (maxTokensText !== undefined) {
    maxTokens = parseIntegerFlag('--max-tokens', maxTokensText);
    if (maxTokens < 1) throw new UsageError(`--max-tokens "${maxTokensText}": expected a positive integer`);
  }
  const log = text('log');
  const executeMode = text('execute-mode');
  return {
    help: values.has('help'),
    config: text('config'),
    prompt: sources[0],
    embeddingTable,
    embeddingOutput,
    rewind,
    save: text('save'),
    restore: text('restore'),
    images,
    imageEncoder,
    lora,
    maxTokens,
    forceTokens: text('force-tokens'),
    trace: traceArg(text('trace'), text('trace-max-mb'), text('trace-tensors'), text('trace-steps')),
    sampler,
    samplerStages,
    topLogprobs,
    kvPolicy,
    json: values.has('json'),
    dumpLogits: text('dump-logits'),
    profile: text('profile'),
    executeMode: executeMode === undefined ? undefined : parseChoiceFlag('--execute-mode', executeMode, EXECUTE_MODES),
    log: log === undefined ? 'error' : parseChoiceFlag('--log', log, LOG_LEVELS),
  };
}

/** `--sampler-stages`: comma-separated stage names, or a JSON array of stage specs. */
function parseStagesFlag(text: string): SamplerStageSpec[] {
  let entries: unknown;
  if (text.trimStart().startsWith('[')) {
    try {
      entries = JSON.parse(text);
    } catch (error) {
      throw new UsageError(`--sampler-stages: not a JSON array (${(error as Error).message})`);
    }
    if (!Array.isArray(entries)) throw new UsageError('--sampler-stages: expected a JSON array of stages');
  } else {
    entries = text.split(',').map((name) => name.trim());
  }
  return (entries as unknown[]).map((entry, i) => {
    try {
      return checkStageSpec(entry, `--sampler-stages[${i}]`);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  });
}

/** `--trace DIR [--trace-max-mb N]`. */
function traceArg(dir: string | undefined, maxMb: string | undefined, tensors: string | undefined, steps: string | undefined): RunArgs['trace'] {
  if (dir === undefined) {
    const flag = maxMb !== undefined ? '--trace-max-mb' : tensors !== undefined ? '--trace-tensors' : steps !== undefined ? '--trace-steps' : undefined;
    if (flag !== undefined) throw new UsageError(`${flag} needs --trace (it says what the trace keeps)`);
    return undefined;
  }
  const mb = maxMb === undefined ? 512 : parseNumberFlag('--trace-max-mb', maxMb, (v) => v > 0, 'a number of MiB > 0');
  return { dir, maxBytes: Math.floor(mb * 2 ** 20), tensors: traceTensors(tensors), steps: traceSteps(steps) };
}

function traceTensors(text: string | undefined): TraceTensorClass[] | undefined {
  if (text === undefined || text === 'all') return undefined;
  return text.split(',').map((word) => {
    if (!(TRACE_TENSOR_CLASSES as readonly string[]).includes(word)) {
      throw new UsageError(`--trace-tensors "${text}": "${word}" is not one of ${TRACE_TENSOR_CLASSES.join(', ')} (or all)`);
    }
    return word as TraceTensorClass;
  });
}

function traceSteps(text: string | undefined): TraceOptions['steps'] {
  if (text === undefined) return undefined;
  const match = /^(\d*)(\.\.)?(\d*)$/.exec(text);
  if (match === null || text === '' || text === '..' || (match[2] === undefined && match[3] !== '')) {
    throw new UsageError(`--trace-steps "${text}": expected N, A..B, A.. or ..B (step indices from 0)`);
  }
  const first = match[1] === '' ? 0 : Number(match[1]);
  const last = match[2] === undefined ? first : match[3] === '' ? Number.POSITIVE_INFINITY : Number(match[3]);
  if (last < first) throw new UsageError(`--trace-steps "${text}": the range is empty (${last} < ${first})`);
  return { first, last };
}

/**
 * genie-t2t-run's `-l ADAPTER[,ALPHA_NAME,VALUE,...]`: an adapter name, then name/value pairs of alpha
 * strengths (empty entries are skipped, as genie-t2t-run's split does).
 */
function parseLora(text: string): LoraArg {
  const parts = text.split(',').filter((part) => part !== '');
  const fail = (why: string): UsageError => new UsageError(`--lora "${text}": ${why}`);
  if (parts.length === 0) throw fail('expected ADAPTER[,ALPHA_NAME,VALUE,...]');
  if (parts.length % 2 === 0) throw fail('expected an adapter name, then ALPHA_NAME,VALUE pairs');
  const alphas = new Map<string, number>();
  for (let i = 1; i < parts.length; i += 2) {
    const value = Number(parts[i + 1]);
    if (parts[i + 1].trim() === '' || !Number.isFinite(value)) throw fail(`the value of ${parts[i]} "${parts[i + 1]}" is not a number`);
    alphas.set(parts[i], value);
  }
  return { adapter: parts[0], alphas };
}

/** `op` on the file a flag names; an OS error becomes `--flag "path": ENOENT: no such file or directory`. */
function onFlagFile<T>(flag: string, path: string, op: () => T): T {
  try {
    return op();
  } catch (error) {
    if (!isSystemError(error)) throw error;
    throw new GenieError('FILE', `${flag} "${path}": ${systemErrorReason(error)}`, { cause: error });
  }
}

/** Prompt and tokens files: far more text than any context holds is not a prompt (and /dev/zero ends). */
const MAX_PROMPT_FILE_BYTES = 64 * 1024 * 1024;

/** The bytes of the file a flag names, at most `maxBytes` (`limit` says why in the error). */
async function readFlagFile(flag: string, path: string, maxBytes: number, limit: string): Promise<Buffer> {
  try {
    return await readFileUpTo(path, maxBytes);
  } catch (error) {
    if (error instanceof FileTooLargeError) throw new GenieError('FILE', `${flag} "${path}": larger than ${limit}`);
    if (!isSystemError(error)) throw error;
    throw new GenieError('FILE', `${flag} "${path}": ${systemErrorReason(error)}`, { cause: error });
  }
}

/** A prompt or tokens file's text. */
async function readPromptFile(flag: string, path: string): Promise<string> {
  const bytes = await readFlagFile(flag, path, MAX_PROMPT_FILE_BYTES, '64 MiB, far more text than any context holds');
  return bytes.toString('utf8');
}

/** genie-t2t-run's tokens file: whitespace-separated non-negative integers. */
async function readTokensFile(path: string, flag = '--tokens_file', what = 'tokens file'): Promise<number[]> {
  const text = await readPromptFile(flag, path);
  const words = text.split(/\s+/).filter((w) => w !== '');
  if (words.length === 0) throw new GenieError('INVALID_INPUT', `${what} "${path}" holds no token ids`);
  return words.map((word, i) => {
    if (!/^\d+$/.test(word)) throw new GenieError('INVALID_INPUT', `${what} "${path}": entry ${i + 1} "${word}" is not a token id`);
    return Number(word);
  });
}

/** genie-t2t-run's `-e` query: the file's rows, generated tokens through `-t`'s table or the config's LUT. */
async function embeddingQuery(
  dialog: Dialog,
  spec: EmbeddingFileSpec,
  tableSpec: EmbeddingFileSpec | undefined,
  options: QueryOptions,
): Promise<AsyncGenerator<string, QueryResult>> {
  const rowSize = dialog.embeddingSize;
  if (rowSize === undefined) {
    throw new NotSupportedError('--embedding_file needs a model whose first graph takes embeddings; this one takes token ids');
  }
  const maxRows = dialog.contextLimit;
  const bytes = await readFlagFile('--embedding_file', spec.path, maxRows * rowSize * byteSize(spec.dtype), `${maxRows} rows, the context's limit`);
  const rows = embeddingFileRows(bytes, rowSize, spec, `--embedding_file "${spec.path}"`);
  let tokenToEmbedding: ((token: number, row: ElementArray) => void) | undefined;
  if (tableSpec !== undefined) {
    let table: EmbeddingTable;
    try {
      table = EmbeddingTable.load({ path: tableSpec.path, nVocab: dialog.config.nVocab, size: rowSize, dtype: tableSpec.dtype, encoding: tableSpec.encoding });
    } catch (error) {
      if (!(error instanceof EmbeddingTableError)) throw error;
      throw new EmbeddingTableError(`--embedding_table: ${error.message}`, { cause: error });
    }
    tokenToEmbedding = tableToEmbedding(table, rows.dtype, rows.encoding);
  }
  return dialog.embeddingQuery(rows.data, { ...options, dtype: rows.dtype, encoding: rows.encoding, tokenToEmbedding });
}

/** `--image` without `--image-encoder`: the image-encoder config beside the dialog config, as bundles ship them. */
function defaultImageEncoder(configPath: string): string {
  const beside = resolve(dirname(configPath), IMAGE_ENCODER_FILE);
  if (!existsSync(beside)) {
    throw new GenieError('FILE', `--image needs an image encoder: pass --image-encoder FILE (there is no ${IMAGE_ENCODER_FILE} beside ${configPath})`);
  }
  return beside;
}

/** Before the run: `--profile` must name a new file in a writable folder (the report is written after the run). */
function checkProfilePath(path: string): void {
  if (existsSync(path)) {
    throw new GenieError('INVALID_INPUT', `--profile "${path}" already exists (genie-ts, like Genie, does not overwrite it)`);
  }
  const folder = dirname(resolve(path));
  const problem = !existsSync(folder) ? 'does not exist' : !statSync(folder).isDirectory() ? 'is not a folder' : writable(folder) ? null : 'is not writable';
  if (problem !== null) throw new GenieError('FILE', `--profile "${path}": folder "${folder}" ${problem}`);
}

function writable(folder: string): boolean {
  try {
    accessSync(folder, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Genie's GENIE_STATUS_WARNING_CONTEXT_EXCEEDED for a reply that filled the context: a warning (the
 * reply so far is the result), with what a CLI user can do about it.
 */
function contextExceededWarning(dialog: Dialog, result: QueryResult): string {
  return (
    `genie-ts run: warning: context exceeded (Genie's GENIE_STATUS_WARNING_CONTEXT_EXCEEDED): the reply filled the ` +
    `${dialog.contextLimit}-token context after ${result.generatedTokens.length} generated tokens and ends there; ` +
    'stop it earlier with --max-tokens (-n), or use a config with a larger context.size\n'
  );
}

/** A one-line status on a terminal's stderr, replaced in place and cleared when done. */
class ProgressLine {
  private shown = false;
  constructor(private readonly io: CliIO) {}
  show(message: string): void {
    if (!this.io.isTTY) return;
    this.io.stderr(`\r\x1b[2K${message}`);
    this.shown = true;
  }
  clear(): void {
    if (this.shown) this.io.stderr('\r\x1b[2K');
    this.shown = false;
  }
}

/** The summary `--json` prints for one query. */
function jsonSummary(result: QueryResult): string {
  const { promptTokens, generatedTokens, samplerTokens, logprobs, text, stopReason, kpis } = result;
  const extras = { ...(samplerTokens !== undefined && { samplerTokens }), ...(logprobs !== undefined && { logprobs }) };
  return `${JSON.stringify({ promptTokens, generatedTokens, ...extras, text, stopReason, kpis })}\n`;
}

/**
 * Drains one query's stream: text goes to stdout as it comes (unless `--json`, or the token output
 * type, which prints the ids when the reply ends). A reply that fills the context ends with the
 * dialog's `lastResult` (stop reason "context-limit") and a warning; any other error propagates.
 */
async function drainQuery(
  dialog: Dialog,
  open: () => Promise<AsyncGenerator<string, QueryResult>>,
  args: RunArgs,
  io: CliIO,
  progress: ProgressLine,
): Promise<QueryResult> {
  const streamText = !args.json && args.embeddingOutput === 'text';
  // Streamed text not yet ended by a newline: the line is ended before anything else is reported.
  let lineOpen = false;
  const endLine = (): void => {
    if (lineOpen) io.stdout('\n');
    lineOpen = false;
  };
  const before = dialog.lastResult;
  let result: QueryResult;
  try {
    const stream = await open();
    let next = await stream.next();
    progress.clear();
    while (!next.done) {
      if (streamText) {
        io.stdout(next.value);
        lineOpen = !next.value.endsWith('\n');
      }
      next = await stream.next();
    }
    result = next.value;
  } catch (error) {
    const last = dialog.lastResult;
    if (!(error instanceof ContextLimitError) || last === undefined || last === before || last.stopReason !== 'context-limit') throw error;
    result = last;
    progress.clear();
    endLine();
    io.stderr(contextExceededWarning(dialog, result));
  } finally {
    endLine();
  }
  if (args.json) io.stdout(jsonSummary(result));
  else if (args.embeddingOutput === 'token') io.stdout(`${result.generatedTokens.join(' ')}\n`);
  return result;
}

async function runDialog(args: RunArgs, io: CliIO, progress: ProgressLine): Promise<number> {
  const log = (level: LogLevel, message: string): void => {
    if (LOG_LEVELS.indexOf(level) > LOG_LEVELS.indexOf(args.log)) return;
    progress.clear();
    io.stderr(`[${level}] ${message}\n`);
  };
  if (args.lora !== undefined) {
    throw new NotSupportedError(`not supported yet: --lora adapter "${args.lora.adapter}" (LoRA adapters are not implemented)`);
  }
  if (args.profile !== undefined) checkProfilePath(args.profile);
  const trace = args.trace === undefined ? undefined : new TraceWriter(args.trace.dir, args.trace);
  const prompt = args.prompt!;
  const tokens = prompt.kind === 'tokens-file' ? await readTokensFile(prompt.path) : undefined;
  const forceTokens = args.forceTokens === undefined ? undefined : await readTokensFile(args.forceTokens, '--force-tokens', '--force-tokens file');
  // Checked now; read once the model says how many bytes of rows its context can take.
  if (prompt.kind === 'embedding-file') onFlagFile('--embedding_file', prompt.spec.path, () => accessSync(prompt.spec.path, constants.R_OK));
  const promptText =
    prompt.kind === 'text' ? prompt.text
    : prompt.kind === 'text-file' ? await readPromptFile('--prompt_file', prompt.path)
    : undefined;

  const vision = args.images.length > 0;
  let configPath = args.config;
  if (configPath === undefined) {
    const bundle = await ensureDemoBundle({ vision, onProgress: (message) => progress.show(`genie-ts: ${message}`) });
    log('info', `embedded ${vision ? 'VLM ' : ''}demo model (random weights): ${bundle.configPath}`);
    configPath = bundle.configPath;
  }
  const imageEncoder = vision ? (args.imageEncoder ?? defaultImageEncoder(configPath)) : undefined;
  progress.show('genie-ts: loading model...');
  const dialog = await Dialog.create(configPath, {
    sampler: args.sampler,
    ...(args.samplerStages !== undefined && { samplerStages: args.samplerStages }),
    ...(args.kvPolicy !== undefined && { kvPolicy: args.kvPolicy }),
    backend: {
      qnn: {
        logLevel: args.log,
        ...(args.profile !== undefined && { profiling: 'basic' as const }),
        ...(args.executeMode !== undefined && { executeMode: args.executeMode }),
      },
    },
    imageEncoder,
  }).catch((error: unknown) => {
    // The stage list's checks against the config's sampler name the flag it came from.
    if (error instanceof InvalidArgumentError && error.message.includes(SAMPLER_STAGES_OPTION)) {
      throw new UsageError(error.message.replaceAll(SAMPLER_STAGES_OPTION, '--sampler-stages'));
    }
    throw error;
  });
  if (args.executeMode !== undefined && dialog.config.backendType !== 'QnnHtp') {
    await dialog.dispose();
    throw new GenieError('INVALID_INPUT', `--execute-mode applies to a QnnHtp backend; this config's engine.backend.type is "${dialog.config.backendType}"`);
  }
  // Ctrl-C stops the query at its next step (the engine yields to the event loop every step, so the
  // listener runs within one step on every backend); the reply so far is printed and the run ends
  // normally. The listener is removed as it runs (`once`): a second Ctrl-C gets SIGINT's default
  // action and ends the process at once, even inside a step (a shell reports status 130).
  const abort = new AbortController();
  const onSigint = (): void => {
    abort.abort();
    log('info', 'interrupted: stopping at the next step (Ctrl-C again to exit at once)');
  };
  process.once('SIGINT', onSigint);
  let dump: number | undefined;
  try {
    const dumpPath = args.dumpLogits;
    const dumpFd = dumpPath === undefined ? undefined : onFlagFile('--dump-logits', dumpPath, () => openSync(dumpPath, 'w'));
    dump = dumpFd;
    log('info', `backend ${dialog.config.backendType}, context.size ${dialog.config.contextSize}, init ${(dialog.initTimeUs / 1e3).toFixed(1)} ms`);
    if (args.restore !== undefined) {
      progress.show('genie-ts: restoring the dialog...');
      await dialog.restore(args.restore);
      log('info', `restored ${args.restore}: ${dialog.contextUsed} KV entries`);
    }
    progress.show('genie-ts: processing the prompt...');
    const options = {
      maxTokens: args.maxTokens,
      topLogprobs: args.topLogprobs,
      signal: abort.signal,
      onLogits: dumpFd === undefined ? undefined : (row: Float32Array) => writeSync(dumpFd, row),
    };
    const onStep = stepListener(trace, args.log === 'verbose' ? log : undefined);
    const first = { ...options, ...(forceTokens !== undefined && { forceTokens }), ...(onStep !== undefined && { onStep }) };
    let result: QueryResult;
    try {
      result = await drainQuery(
        dialog,
        async () =>
          prompt.kind === 'embedding-file' ? await embeddingQuery(dialog, prompt.spec, args.embeddingTable, first)
          : tokens !== undefined ? dialog.tokenQuery(tokens, first)
          : dialog.query(promptText!, vision ? { ...first, images: args.images } : first),
        args,
        io,
        progress,
      );
    } catch (error) {
      // A failed query (a trace file that could not be written included) still gets the index of what was traced, if it can.
      if (trace !== undefined) {
        try {
          finishTrace(trace, log, io);
        } catch (indexError) {
          io.stderr(`genie-ts run: --trace: the index could not be written either: ${(indexError as Error).message}\n`);
        }
      }
      throw error;
    }
    if (trace !== undefined) finishTrace(trace, log, io);
    logResult(log, result);
    // genie-t2t-run sends the rewind query after a text query that completed (not after a warning).
    const rewind = args.rewind;
    if (rewind !== undefined && result.stopReason !== 'abort' && result.stopReason !== 'context-limit') {
      progress.show('genie-ts: processing the rewind prompt...');
      result = await drainQuery(dialog, async () => dialog.query(rewind, { ...options, rewind: true }), args, io, progress);
      log('info', `rewind: ${result.reusedTokens} prompt tokens reused from the KV cache`);
      logResult(log, result);
    }
    if (args.save !== undefined) {
      await dialog.save(args.save);
      log('info', `saved the dialog to ${args.save}`);
    }
    const profile = args.profile;
    if (profile !== undefined) {
      const backendProfile = dialog.takeBackendProfile();
      const report = backendProfile.length > 0 ? { ...result.kpis, 'backend-profile': backendProfile } : result.kpis;
      onFlagFile('--profile', profile, () => writeFileSync(profile, `${JSON.stringify(report, null, 2)}\n`, { flag: 'wx' }));
    }
    return 0;
  } finally {
    progress.clear();
    process.removeListener('SIGINT', onSigint);
    if (dump !== undefined) closeSync(dump);
    await dialog.dispose();
  }
}

/** The first query's step listener: the trace's, and with `--log verbose` one line per graph step. */
function stepListener(trace: TraceWriter | undefined, log: ((level: LogLevel, message: string) => void) | undefined): StepListener | undefined {
  if (log === undefined) return trace?.listener;
  return (step) => {
    trace?.listener(step);
    const { index, kind, variant, nValid, positions, tokens, embeddingRows, fillUs, splits } = step;
    const fed = tokens.length > 0 ? `tokens ${tokens.join(' ')}` : '';
    const rows = embeddingRows > 0 ? `${fed ? ', ' : ''}${embeddingRows} embedding rows` : '';
    const executes = splits.filter((s) => s.executed).map((s) => s.executeUs.toFixed(0)).join('+');
    log('verbose', `step ${index} ${kind} ${variant.id}: nValid ${nValid}, positions ${positions.first}..${positions.end - 1}, ${fed}${rows}; fill ${fillUs.toFixed(0)} us, execute ${executes} us`);
  };
}

/** Writes the trace's index; says on stderr what the size cap left out. */
function finishTrace(trace: TraceWriter, log: (level: LogLevel, message: string) => void, io: CliIO): void {
  const summary = trace.finish();
  if (summary.cappedAtStep !== null) {
    io.stderr(
      `genie-ts run: --trace: the size cap (${(trace.maxBytes / 2 ** 20).toFixed(1)} MiB) was reached at step ${summary.cappedAtStep}: ` +
        `the tensors of steps ${summary.cappedAtStep}..${summary.steps - 1} were left out (indexed in ${TRACE_INDEX}; raise --trace-max-mb)\n`,
    );
  }
  log('info', `trace: ${summary.steps} steps, ${summary.stepsWithTensors} with tensors (${summary.tensorBytes} bytes) in ${summary.dir}`);
}

function logResult(log: (level: LogLevel, message: string) => void, result: QueryResult): void {
  log('verbose', `prompt tokens ${result.promptTokens.join(' ')}; generated ${result.generatedTokens.join(' ')}`);
  log('info', `stop: ${result.stopReason}; KPIs ${JSON.stringify(result.kpis)}`);
}

/** `genie-ts run`: genie-t2t-run's flags plus sampling overrides, JSON output and logits dumps. */
export const runCommand: Command = async (args, io) => {
  let parsed: RunArgs;
  try {
    parsed = parseRunArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`genie-ts run: ${error.message}\n(see genie-ts run --help)\n`);
    return 2;
  }
  if (parsed.help) {
    io.stdout(USAGE);
    return 0;
  }
  if (parsed.prompt === undefined) {
    io.stderr('genie-ts run: give a prompt with -p, --prompt_file, --tokens_file or --embedding_file\n(see genie-ts run --help)\n');
    return 2;
  }
  const progress = new ProgressLine(io);
  try {
    return await runDialog(parsed, io, progress);
  } catch (error) {
    progress.clear();
    if (error instanceof ConfigError) {
      const count = error.issues.length;
      io.stderr(`genie-ts run: ${error.file ?? parsed.config}: ${count} error${count === 1 ? '' : 's'}\n`);
      for (const issue of error.issues) io.stderr(`  ${issue.path}: ${issue.message}\n`);
      return 1;
    }
    if (error instanceof GenieError || isSystemError(error)) {
      io.stderr(`genie-ts run: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
};
