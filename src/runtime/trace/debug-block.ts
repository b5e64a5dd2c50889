/**
 * Genie's `dialog.debug` block (docs/genie-behaviour.md#debug-block) on the trace writer. Genie
 * turns `path` (default `genie_debug`, relative to the working directory), `dump-specs`,
 * `dump-tensors` and `dump-outputs` into its engine's debug flags: the tensor specs of every graph
 * at load, every graph execution's input and output tensors, the logits of every inference step.
 * genie-ts writes the same content in its own formats, one folder per dialog (`<path>/dialog-<k>`,
 * the first k not taken, so a second run never overwrites the first):
 * - `dump-specs`: `specs.json`, the graphs as `inspect --json` writes them (`parseGraphSpecsJson`);
 * - `dump-tensors`: a trace of every step of the dialog's queries (all tensors: trace.json and
 *   safetensors step files, readable by `genie-ts trace diff`);
 * - `dump-outputs` alone: the same trace with the logits only.
 * With none of the three set Genie dumps nothing, and so does genie-ts. The trace is written as the
 * queries run and completed when the dialog is disposed.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { systemErrorReason } from '../../errors.js';
import { graphSpecsToJson } from '../../graphs/spec-json.js';
import type { DebugConfig } from '../config/schema/dialog.js';
import type { Engine } from '../engine/engine.js';
import { TraceError, TraceWriter, type TraceSummary, type TraceTensorClass } from './trace-writer.js';

/** Genie's default `debug.path` (its dialog config translation). */
export const GENIE_DEBUG_PATH = 'genie_debug';
export const DEBUG_SPECS_FILE = 'specs.json';

/** What a dialog's debug block writes; `finish` completes the trace (once). */
export interface DebugTrace {
  /** The dialog's folder, `<path>/dialog-<k>`. */
  readonly dir: string;
  readonly writer: TraceWriter | null;
  finish(): TraceSummary | null;
}

/**
 * Sets up what `debug` asks for on `engine` (its step listener, named `dialog.debug`); null when
 * it asks for nothing. Throws `TraceError` naming the folder when it cannot be created or written.
 */
export function openDebugTrace(debug: DebugConfig | undefined, engine: Engine, cwd = process.cwd()): DebugTrace | null {
  if (debug === undefined) return null;
  const tensors: TraceTensorClass[] | null = debug['dump-tensors'] === true ? ['inputs', 'outputs', 'kv', 'logits']
    : debug['dump-outputs'] === true ? ['logits'] : null;
  if (tensors === null && debug['dump-specs'] !== true) return null;
  const base = resolve(cwd, debug.path ?? GENIE_DEBUG_PATH);
  let dir: string;
  try {
    mkdirSync(base, { recursive: true });
    let k = 0;
    while (existsSync(join(base, `dialog-${k}`))) k++;
    dir = join(base, `dialog-${k}`);
  } catch (error) {
    throw new TraceError(`dialog.debug.path: cannot create the debug folder "${base}": ${systemErrorReason(error)}`, { cause: error });
  }
  const writer = tensors === null ? null : new TraceWriter(dir, { tensors });
  if (debug['dump-specs'] === true) {
    const path = join(dir, DEBUG_SPECS_FILE);
    try {
      mkdirSync(dir, { recursive: true });
      const graphs = [...engine.layout.graphs.values()].map((info) => info.graph);
      writeFileSync(path, `${JSON.stringify({ graphs: graphSpecsToJson(graphs) }, null, 1)}\n`);
    } catch (error) {
      throw new TraceError(`dialog.debug.dump-specs: cannot write "${path}": ${systemErrorReason(error)}`, { cause: error });
    }
  }
  if (writer !== null) engine.setStepListener(writer.listener, 'dialog.debug');
  let summary: TraceSummary | null = null;
  let finished = false;
  return {
    dir,
    writer,
    finish: () => {
      if (!finished && writer !== null) summary = writer.finish();
      finished = true;
      return summary;
    },
  };
}
