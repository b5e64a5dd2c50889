/**
 * Reading a trace folder back (what `TraceWriter` wrote): the index, validated, and one step's
 * tensors dequantised to float32. Every problem is a `TraceError` naming the file (and, for the
 * index, the JSON key): a missing or truncated index, a step file cut short or not matching the index.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { systemErrorReason } from '../../errors.js';
import { formatPath } from '../../formats/json.js';
import { parseSafetensorsBytes } from '../../formats/safetensors.js';
import { QnnDataType, type DataTypeName } from '../../tensor/dtype.js';
import { tensorToFloat32 } from '../engine/step-event.js';
import { TRACE_FORMAT, TRACE_INDEX, TRACE_VERSION, TraceError } from './trace-writer.js';

const ROLES = [
  'kv', 'input_ids', 'attention_mask', 'position_ids_cos', 'position_ids_sin', 'position_ids', 'cache_index', 'logits',
  'pixel_values', 'input_embeds', 'image_features', 'other',
] as const;

const tensorSchema = z.object({
  name: z.string().min(1),
  direction: z.enum(['input', 'output']),
  role: z.enum(ROLES),
  dtype: z.enum(Object.keys(QnnDataType) as [DataTypeName, ...DataTypeName[]]),
  safetensorsDtype: z.string(),
  shape: z.array(z.int().nonnegative()),
  encoding: z.object({ scale: z.number(), offset: z.number() }).optional(),
  kept: z.boolean(),
});

const stepSchema = z.object({
  index: z.int().nonnegative(),
  kind: z.enum(['prefill', 'decode']),
  variant: z.object({ id: z.string(), ar: z.int().positive(), cl: z.int().positive() }),
  nValid: z.int().nonnegative(),
  nNew: z.int().nonnegative(),
  positions: z.object({ first: z.int(), end: z.int() }),
  tokens: z.array(z.int()),
  embeddingRows: z.int().nonnegative(),
  final: z.boolean(),
  file: z.string().nullable(),
  splits: z.array(
    z.object({ graph: z.string(), kind: z.string(), executed: z.boolean(), executeUs: z.number(), tensors: z.array(tensorSchema) }),
  ),
});

const indexSchema = z.object({
  format: z.literal(TRACE_FORMAT),
  version: z.literal(TRACE_VERSION),
  /** Absent in traces written before the index was kept current: those were always finished. */
  complete: z.boolean().default(true),
  leftOut: z.string().nullable(),
  steps: z.array(stepSchema),
});

export type TracedTensor = z.infer<typeof tensorSchema>;
export type TracedStep = z.infer<typeof stepSchema>;

/** A trace folder's index. */
export interface Trace {
  readonly dir: string;
  /** False for a run that stopped before `finish()` (crashed, killed): the index holds the steps written so far. */
  readonly complete: boolean;
  /** What the size cap left out, or null. */
  readonly leftOut: string | null;
  readonly steps: readonly TracedStep[];
}

/** Reads and validates `dir`/trace.json. */
export async function readTrace(dir: string): Promise<Trace> {
  const path = join(dir, TRACE_INDEX);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new TraceError(`cannot read the trace index "${path}": ${systemErrorReason(error)}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new TraceError(`the trace index "${path}" is not valid JSON (truncated?): ${(error as Error).message}`, { cause: error });
  }
  const parsed = indexSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TraceError(`the trace index "${path}" is not a genie-ts trace: key ${formatPath(issue.path)}: ${issue.message}`);
  }
  const { complete, leftOut, steps } = parsed.data;
  steps.forEach((step, i) => {
    if (step.index !== i) throw new TraceError(`the trace index "${path}": key steps[${i}].index: expected ${i}, got ${step.index}`);
  });
  return { dir, complete, leftOut, steps };
}

/** A stored tensor of a step, its values as float32 (fixed-point codes dequantised with its encoding). */
export interface StepTensorValues {
  readonly tensor: TracedTensor;
  /** The graph (split) that lists it first. */
  readonly graph: string;
  readonly values: Float32Array;
}

/**
 * The tensors a step's file holds (kept tensors of executed splits), by name, in the order the
 * splits list them; an empty map for a step stored without tensors (`file` null).
 */
export async function readStepTensors(trace: Trace, step: TracedStep): Promise<Map<string, StepTensorValues>> {
  const out = new Map<string, StepTensorValues>();
  if (step.file === null) return out;
  const path = join(trace.dir, step.file);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (error) {
    throw new TraceError(`cannot read the trace file "${path}" (step ${step.index}): ${systemErrorReason(error)}`, { cause: error });
  }
  let layout: ReturnType<typeof parseSafetensorsBytes>;
  try {
    layout = parseSafetensorsBytes(bytes, path);
  } catch (error) {
    throw new TraceError(`the trace file "${path}" (step ${step.index}) is damaged: ${(error as Error).message}`, { cause: error });
  }
  for (const split of step.splits) {
    if (!split.executed) continue;
    for (const tensor of split.tensors) {
      if (!tensor.kept || out.has(tensor.name)) continue;
      const info = layout.tensors.get(tensor.name);
      if (info === undefined) throw new TraceError(`the trace file "${path}" (step ${step.index}) has no tensor "${tensor.name}" the index lists`);
      if (info.dtype !== tensor.safetensorsDtype || info.shape.join() !== tensor.shape.join()) {
        throw new TraceError(
          `the trace file "${path}" (step ${step.index}): tensor "${tensor.name}" is ${info.dtype} [${info.shape.join(', ')}], ` +
            `the index says ${tensor.safetensorsDtype} [${tensor.shape.join(', ')}]`,
        );
      }
      // A copy: typed views need an aligned offset, and the file's bytes are released after this step.
      const data = bytes.slice(layout.dataStart + info.begin, layout.dataStart + info.end);
      out.set(tensor.name, { tensor, graph: split.graph, values: tensorToFloat32(data, tensor) });
    }
  }
  return out;
}
