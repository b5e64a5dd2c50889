import { GenieError } from '../../errors.js';
import { inspectFile, inspectToText } from '../../runtime/inspect/inspect.js';
import { parseCommandArgs, parseFlags, UsageError, type FlagSpec } from '../flags.js';
import type { Command } from '../io.js';

const USAGE = `usage: genie-ts inspect FILE [--json]

  FILE        a Genie config (JSON: dialog or text-generator) or a ctx-bin: a reference ctx-bin, or a
              QNN context binary read from QnnSystem's binary info alone (libQnnSystem, found on
              the library path or at GENIE_TS_QNN_SYSTEM_LIB; no libQnnHtp, NPU or QNN context
              needed; the simulated provider with GENIE_TS_QNN_PROVIDER=simulated)
  --json      print the report as JSON: its "graphs" list is what export --like reads
  -h, --help  show this help

Prints the graphs with every input and output (shape, dtype, encoding, role, bytes), the AR/CL
variants with their split order, the KV layout (concat or scatter) and the buffer plan with its
memory. A single part of a split model has no layout of its own: the report says why.

exit status: 0 inspected, 1 the file cannot be read or is not a model, 2 bad usage
`;

const FLAGS: FlagSpec[] = [
  { name: 'json', kind: 'boolean' },
  { name: 'help', kind: 'boolean', aliases: ['-h'] },
];

function parseInspectArgs(args: readonly string[]): { help: boolean; file: string; json: boolean } {
  const { values, positionals } = parseFlags(args, FLAGS);
  const help = values.has('help');
  if (help) return { help, file: '', json: false };
  if (positionals.length === 0) throw new UsageError('missing FILE');
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  return { help, file: positionals[0], json: values.has('json') };
}

/** `genie-ts inspect FILE [--json]`. */
export const inspectCommand: Command = async (args, io) => {
  const parsed = parseCommandArgs('inspect', USAGE, args, io, parseInspectArgs);
  if (typeof parsed === 'number') return parsed;
  try {
    const report = await inspectFile(parsed.file);
    io.stdout(parsed.json ? `${JSON.stringify(report, null, 2)}\n` : inspectToText(report));
    return 0;
  } catch (error) {
    if (error instanceof GenieError) {
      io.stderr(`genie-ts inspect: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
};
