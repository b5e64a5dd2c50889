/**
 * `GraphSpec` lists as JSON: what `genie-ts inspect --json` writes under its top-level key `graphs`,
 * and what a reader of such a file (e.g. `export --like`, on a machine without the QNN libraries)
 * gets back. The reader validates every field and names the JSON path of the first problem.
 */
import { z } from 'zod';
import { GenieError } from '../errors.js';
import { QnnDataType, type DataTypeName } from '../tensor/dtype.js';
import type { GraphSpec, TensorSpec } from './spec.js';

/** A graph-spec JSON file is unreadable or malformed; the message names the file and the JSON path. */
export class GraphSpecJsonError extends GenieError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BAD_GRAPH_SPEC_JSON', message, options);
  }
}

/** One tensor as JSON: the `TensorSpec` fields, `encoding` only where the spec has one. */
export interface TensorSpecJson {
  readonly name: string;
  readonly dtype: DataTypeName;
  readonly shape: number[];
  readonly encoding?: { readonly scale: number; readonly offset: number };
}

export interface GraphSpecJson {
  readonly name: string;
  readonly ctxBin: number;
  readonly inputs: TensorSpecJson[];
  readonly outputs: TensorSpecJson[];
}

/** Plain JSON values for `specs` (fresh arrays and objects, fields in a fixed order). */
export function graphSpecsToJson(specs: readonly GraphSpec[]): GraphSpecJson[] {
  return specs.map((graph) => ({
    name: graph.name,
    ctxBin: graph.ctxBin,
    inputs: graph.inputs.map(tensorToJson),
    outputs: graph.outputs.map(tensorToJson),
  }));
}

function tensorToJson(tensor: TensorSpec): TensorSpecJson {
  const json: TensorSpecJson = { name: tensor.name, dtype: tensor.dtype, shape: [...tensor.shape] };
  return tensor.encoding === undefined
    ? json
    : { ...json, encoding: { scale: tensor.encoding.scale, offset: tensor.encoding.offset } };
}

const tensorSchema = z.strictObject({
  name: z.string().min(1),
  dtype: z.enum(Object.keys(QnnDataType) as [DataTypeName, ...DataTypeName[]]),
  shape: z.array(z.int().positive()).min(1),
  encoding: z.strictObject({ scale: z.number().positive(), offset: z.int() }).optional(),
});

const graphSchema = z.strictObject({
  name: z.string().min(1),
  ctxBin: z.int().nonnegative(),
  inputs: z.array(tensorSchema),
  outputs: z.array(tensorSchema).min(1),
});

/** Other top-level keys (what else `inspect --json` reports) are the writer's business and pass. */
const documentSchema = z.looseObject({ graphs: z.array(graphSchema).min(1) });

/**
 * The `GraphSpec`s under the top-level key `graphs` of the JSON `text` read from `path`. Throws
 * `GraphSpecJsonError` naming `path` and the JSON path of the first problem (a syntax error, a missing,
 * unknown or mistyped field, an unknown dtype, a graph name repeated).
 */
export function parseGraphSpecsJson(text: string, path: string): GraphSpec[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new GraphSpecJsonError(`${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const parsed = documentSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // zod's own path notation (graphs[0].inputs[2].shape), the same as formats/json.ts's formatPath,
    // which graphs/ (ranked below formats/) cannot import.
    throw new GraphSpecJsonError(`${path}: key ${z.core.toDotPath(issue.path) || '(top level)'}: ${issue.message}`);
  }
  const seen = new Map<string, number>();
  parsed.data.graphs.forEach((graph, i) => {
    const first = seen.get(graph.name);
    if (first !== undefined) {
      throw new GraphSpecJsonError(`${path}: key graphs[${i}].name: graph "${graph.name}" is listed twice (first at graphs[${first}])`);
    }
    seen.set(graph.name, i);
  });
  return parsed.data.graphs as GraphSpec[];
}
