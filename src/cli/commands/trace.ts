import { writeFile } from 'node:fs/promises';
import { systemErrorReason } from '../../errors.js';
import { diffToHtml } from '../../runtime/trace/diff-html.js';
import { diffToJson, diffToText } from '../../runtime/trace/diff-text.js';
import { diffTraces, TraceAlignError } from '../../runtime/trace/trace-diff.js';
import { readTrace } from '../../runtime/trace/trace-reader.js';
import { TraceError } from '../../runtime/trace/trace-writer.js';
import { parseCommandArgs, parseFlags, UsageError, type FlagSpec } from '../flags.js';
import type { Command } from '../io.js';

const USAGE = `usage: genie-ts trace diff A B [--html FILE] [--json] [--min-sqnr DB]

  diff A B        compare two trace folders (genie-ts run --trace) of the same prompt step by step:
                  A is the reference (a float twin, the Reference backend), B the run under test (a
                  --quant htp bundle, QnnHtp, a device). Per step and tensor, compared dequantised:
                  SQNR, max abs error, cosine; masks as attend/masked patterns; ids and positions
                  exactly; logits on the step's valid rows, and by argmax. Prints a table per step
                  and per tensor and the first step and tensor where the runs part. Run both with
                  --force-tokens FILE to keep the decode steps aligned.
  --html FILE     also write a self-contained HTML report (SVG charts, no network access)
  --json          print the whole diff as JSON instead of the tables (SQNR inf as "inf")
  --min-sqnr DB   a value tensor below this SQNR parts (default 10)
  -h, --help      show this help

exit status: 0 compared (parted or not), 1 a trace cannot be read or the traces cannot be aligned,
2 bad usage
`;

const FLAGS: FlagSpec[] = [
  { name: 'html', kind: 'value' },
  { name: 'json', kind: 'boolean' },
  { name: 'min-sqnr', kind: 'value' },
  { name: 'help', kind: 'boolean', aliases: ['-h'] },
];

interface TraceArgs {
  readonly help: boolean;
  readonly a: string;
  readonly b: string;
  readonly html?: string;
  readonly json: boolean;
  readonly minSqnrDb?: number;
}

function parseTraceArgs(args: readonly string[]): TraceArgs {
  const { values, positionals } = parseFlags(args, FLAGS);
  const help = values.has('help');
  const [subcommand, a, b, ...extra] = positionals;
  if (help) return { help, a: '', b: '', json: false };
  if (subcommand === undefined) throw new UsageError('missing subcommand (diff)');
  if (subcommand !== 'diff') throw new UsageError(`unknown subcommand "${subcommand}"`);
  if (a === undefined || b === undefined) throw new UsageError('trace diff needs two trace folders, A and B');
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const html = values.get('html') as string | undefined;
  if (html === '') throw new UsageError('--html needs a file, got ""');
  const minSqnr = values.get('min-sqnr') as string | undefined;
  let minSqnrDb: number | undefined;
  if (minSqnr !== undefined) {
    minSqnrDb = Number(minSqnr);
    if (minSqnr.trim() === '' || !Number.isFinite(minSqnrDb)) throw new UsageError(`--min-sqnr "${minSqnr}": expected a number of dB`);
  }
  return { help, a, b, html, json: values.has('json'), ...(minSqnrDb !== undefined && { minSqnrDb }) };
}

/** `genie-ts trace diff A B [--html FILE] [--json] [--min-sqnr DB]`. */
export const traceCommand: Command = async (args, io) => {
  const parsed = parseCommandArgs('trace', USAGE, args, io, parseTraceArgs);
  if (typeof parsed === 'number') return parsed;
  try {
    const [a, b] = await Promise.all([readTrace(parsed.a), readTrace(parsed.b)]);
    const diff = await diffTraces(a, b, { minSqnrDb: parsed.minSqnrDb });
    if (parsed.html !== undefined) {
      try {
        await writeFile(parsed.html, diffToHtml(diff));
      } catch (error) {
        io.stderr(`genie-ts trace diff: cannot write the report "${parsed.html}": ${systemErrorReason(error)}\n`);
        return 1;
      }
    }
    io.stdout(parsed.json ? diffToJson(diff) : diffToText(diff));
    return 0;
  } catch (error) {
    if (error instanceof TraceError || error instanceof TraceAlignError) {
      io.stderr(`genie-ts trace diff: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
};
