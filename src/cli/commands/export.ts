import { rm } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { exportHfCheckpoint, ExportOptionError, isExportBundle, SUPPORTED_HF_ARCHITECTURES, type ExportQuant } from '../../backends/reference/index.js';
import { installDir, makeStagingDir, removeLeftovers, targetState } from '../../formats/atomic-dir.js';
import { GenieError, isSystemError } from '../../errors.js';
import { htpCalibrator, readCalibrationPrompts, readLikeGraphs } from '../../export/index.js';
import {
  parseChoiceFlag, parseCommandArgs, parseFlags, parseIntegerFlag, parseIntegerListFlag, reportUsageError, UsageError, type FlagSpec,
} from '../flags.js';
import type { CliIO, Command } from '../io.js';

const USAGE = `usage: genie-ts export --hf DIR --out DIR [options]

Turns a Hugging Face checkpoint folder (config.json, model.safetensors or shards with
model.safetensors.index.json, tokenizer.json; float32, float16 or bfloat16) into a bundle genie-ts
runs on the Reference backend: reference ctx-bins, genie_config.json (context size, BOS/EOS, RoPE
with llama3/longrope scaling, sampler from generation_config.json), the tokenizer files and chat
template copied, export.json. Architectures: ${SUPPORTED_HF_ARCHITECTURES.join(', ')}.
Run it with: genie-ts run -c DIR/genie_config.json -p "..."

  --hf DIR             the checkpoint folder
  --out DIR            folder to write: absent, empty, or an earlier export (with --force)
  --ar LIST            AR variants, comma-separated, each below --cl (default 1,128)
  --cl N               context length (default min(4096, max_position_embeddings, Phi-3's
                       sliding_window))
  --splits N           ctx-bin parts (default 1); with --input ids and N >= 2, part 1 is the
                       embedding lookup alone, so N is at most layers + 1
  --input ids|embeds   part 1 takes token ids, or embeddings from embedding_lut.bin (default ids)
  --quant none|fp16|htp
                       graph IO float32 (none, default), float16, or as AI Hub's w8a16 HTP
                       exports present it (KV uint8, the rest uint16; an --input embeds LUT
                       uint16) with encodings calibrated on the float model; weights stay float32
  --calibrate FILE     htp calibration prompts, one per line (default: 3 built-in plain-text
                       prompts: a question, a paragraph, Python code); each prompt's first
                       (CL - largest AR) / 2 tokens, then 16 greedy tokens
  --like CONFIG        the float twin of a compiled bundle: the graph names, ctx-bins, AR/CL
                       variants, split points, input kind and IO types (dtypes, encodings) of
                       the graphs CONFIG's backend lists, so traces of both align tensor for
                       tensor; CONFIG may instead be the JSON that genie-ts inspect --json wrote
                       (top-level key "graphs"), for a machine without the QNN libraries.
                       Replaces --ar, --cl, --splits, --input, --quant and --calibrate
  --force              replace DIR when it holds an earlier export
  -h, --help           show this help

exit status: 0 written, 1 the checkpoint or DIR cannot be used, 2 bad usage
`;

const FLAGS: FlagSpec[] = [
  { name: 'hf', kind: 'value' },
  { name: 'out', kind: 'value' },
  { name: 'ar', kind: 'value' },
  { name: 'cl', kind: 'value' },
  { name: 'splits', kind: 'value' },
  { name: 'input', kind: 'value' },
  { name: 'quant', kind: 'value' },
  { name: 'calibrate', kind: 'value' },
  { name: 'like', kind: 'value' },
  { name: 'force', kind: 'boolean' },
  { name: 'help', kind: 'boolean', aliases: ['-h'] },
];

interface ExportArgs {
  readonly help: boolean;
  readonly hf?: string;
  readonly out?: string;
  readonly force: boolean;
  readonly ar?: number[];
  readonly cl?: number;
  readonly splits?: number;
  readonly input?: 'ids' | 'embeds';
  readonly quant?: ExportQuant;
  readonly calibrate?: string;
  readonly like?: string;
}

function parseExportArgs(args: readonly string[]): ExportArgs {
  const { values, positionals } = parseFlags(args, FLAGS);
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const text = (name: string): string | undefined => values.get(name) as string | undefined;
  const integer = (name: string): number | undefined => (text(name) === undefined ? undefined : parseIntegerFlag(`--${name}`, text(name)!));
  const quant = text('quant') === undefined ? undefined : parseChoiceFlag('--quant', text('quant')!, ['none', 'htp', 'fp16'] as const);
  if (text('calibrate') !== undefined && quant !== 'htp') throw new UsageError('--calibrate goes with --quant htp');
  for (const name of ['hf', 'out']) if (text(name) === '') throw new UsageError(`--${name} needs a folder, got ""`);
  if (text('calibrate') === '') throw new UsageError('--calibrate needs a prompts file, got ""');
  if (text('like') === '') throw new UsageError('--like needs a config or graphs description file, got ""');
  if (text('like') !== undefined) {
    const fixed = ['ar', 'cl', 'splits', 'input', 'quant', 'calibrate'].find((name) => text(name) !== undefined);
    if (fixed !== undefined) throw new UsageError(`--like takes --${fixed} from the graphs it names; drop --${fixed}`);
  }
  return {
    help: values.has('help'),
    hf: text('hf'),
    out: text('out'),
    force: values.has('force'),
    ar: text('ar') === undefined ? undefined : parseIntegerListFlag('--ar', text('ar')!),
    cl: integer('cl'),
    splits: integer('splits'),
    input: text('input') === undefined ? undefined : parseChoiceFlag('--input', text('input')!, ['ids', 'embeds'] as const),
    quant,
    calibrate: text('calibrate'),
    like: text('like'),
  };
}

const usageError = (io: CliIO, message: string): number => reportUsageError(io, 'export', message);

/** `genie-ts export --hf DIR --out DIR [...]`: built in a staging folder next to DIR, renamed into place. */
export const exportCommand: Command = async (args, io) => {
  const parsed = parseCommandArgs('export', USAGE, args, io, parseExportArgs);
  if (typeof parsed === 'number') return parsed;
  if (parsed.hf === undefined) return usageError(io, 'missing --hf DIR');
  if (parsed.out === undefined) return usageError(io, 'missing --out DIR');
  const target = resolve(parsed.out);
  const fail = (message: string): number => {
    io.stderr(`genie-ts export: ${message}\n`);
    return 1;
  };
  let staging: string | undefined;
  try {
    const state = await targetState(target);
    if (state === 'not-a-folder') return fail(`output "${target}" exists and is not a folder`);
    const holdsExport = state === 'non-empty' && (await isExportBundle(target));
    if (state === 'non-empty' && !holdsExport) return fail(`output folder "${target}" is not empty and holds no export; refusing to overwrite it`);
    if (holdsExport && !parsed.force) return fail(`output folder "${target}" holds an earlier export; pass --force to replace it`);
    // The graphs and the prompts file are read before anything is written.
    const like = parsed.like === undefined ? undefined : await readLikeGraphs(parsed.like);
    const calibrator = parsed.quant !== 'htp' ? undefined : htpCalibrator(parsed.calibrate === undefined ? undefined : await readCalibrationPrompts(parsed.calibrate));
    await removeLeftovers(dirname(target), basename(target));
    staging = await makeStagingDir(target);
    const result = await exportHfCheckpoint(parsed.hf, staging, {
      arSet: parsed.ar, cl: parsed.cl, splits: parsed.splits, input: parsed.input, quant: parsed.quant, calibrator, like,
      onProgress: io.isTTY ? (message) => io.stderr(`${message}\n`) : undefined,
    });
    if (!(await installDir(staging, target, holdsExport))) return fail(`output folder "${target}" was filled by another writer during the export`);
    io.stdout(`${target}\n`);
    io.stdout(
      `${result.architecture}: ${result.splits} ctx-bin part(s), AR ${result.arSet.join(',')}, CL ${result.cl}; ` +
        `config: ${resolve(target, 'genie_config.json')}\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof ExportOptionError) return usageError(io, error.message);
    if (error instanceof GenieError || isSystemError(error)) return fail(error.message);
    throw error;
  } finally {
    if (staging !== undefined) await rm(staging, { recursive: true, force: true });
  }
};
