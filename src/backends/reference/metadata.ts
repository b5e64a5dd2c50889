/**
 * Metadata of a reference ctx-bin: the safetensors `__metadata__` entry `"genie-ts"` holds this
 * object as a JSON string. Version 1.
 */
import { z } from 'zod';
import { jsonPreview } from '../../formats/json.js';
import { isWellFormed } from '../../formats/json-text.js';
import type { TensorSpec } from '../../graphs/spec.js';
import { QnnDataType, type DataTypeName } from '../../tensor/dtype.js';
import { CtxBinError } from './errors.js';
import { referenceModelSchema, type ReferenceModel } from './model.js';
import { describeFirstIssue } from './zod-issue.js';

export const METADATA_KEY = 'genie-ts';
export const CTX_BIN_FORMAT = 'genie-ts-reference';
export const CTX_BIN_VERSION = 1;

/**
 * The stages a reference graph computes, joined by `+` in execution order: embedding lookup, decoder
 * layers, final norm + LM head. Stored as a graph's `kind` in the metadata. Not the `GraphKind` of
 * `graphs/`, which is the role a graph's IO gives it in a model layout.
 */
export const GRAPH_STAGES = [
  'embedding',
  'decoder',
  'lm-head',
  'embedding+decoder',
  'decoder+lm-head',
  'embedding+decoder+lm-head',
] as const;
export type GraphStages = (typeof GRAPH_STAGES)[number];

export interface ReferenceGraphMeta {
  readonly name: string;
  readonly kind: GraphStages;
  /** Decoder layers `[first, end)`; empty (`first == end`) when the kind has no decoder. */
  readonly layers: readonly [number, number];
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
}

export interface ReferenceCtxBinMetadata {
  readonly format: typeof CTX_BIN_FORMAT;
  readonly version: typeof CTX_BIN_VERSION;
  readonly model: ReferenceModel;
  readonly graphs: readonly ReferenceGraphMeta[];
}

/**
 * A graph or tensor name: QNN passes names as NUL-terminated UTF-8, so a NUL would cut one short
 * (two names could become one) and a lone UTF-16 surrogate has no UTF-8 form.
 */
const nameSchema = z
  .string()
  .min(1)
  .refine((name) => !name.includes('\0') && isWellFormed(name), {
    message: 'a name must be a C string: no NUL character and no lone UTF-16 surrogate',
  });

const tensorSpecSchema = z.strictObject({
  name: nameSchema,
  dtype: z.enum(Object.keys(QnnDataType) as [DataTypeName, ...DataTypeName[]]),
  shape: z.array(z.int().positive()).min(1),
  encoding: z.strictObject({ scale: z.number().positive(), offset: z.int() }).optional(),
});

const graphSchema = z.strictObject({
  name: nameSchema,
  kind: z.enum(GRAPH_STAGES),
  layers: z.tuple([z.int().nonnegative(), z.int().nonnegative()]),
  inputs: z.array(tensorSpecSchema),
  outputs: z.array(tensorSpecSchema).min(1),
});

const metadataSchema = z.strictObject({
  format: z.literal(CTX_BIN_FORMAT),
  version: z.literal(CTX_BIN_VERSION),
  model: referenceModelSchema,
  graphs: z.array(graphSchema).min(1),
});

/**
 * Parses and validates the metadata of ctx-bin `file` (the safetensors `__metadata__` map).
 * Checks structure only; whether each graph's IO fits its kind is checked by the graph plan.
 */
export function parseCtxBinMetadata(metadata: Readonly<Record<string, string>>, file: string): ReferenceCtxBinMetadata {
  const fail = (what: string): never => {
    throw new CtxBinError(`reference ctx-bin "${file}": ${what}`);
  };
  const text = metadata[METADATA_KEY];
  if (text === undefined) return fail(`__metadata__ has no "${METADATA_KEY}" entry (not a genie-ts reference ctx-bin)`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    return fail(`__metadata__."${METADATA_KEY}" is not valid JSON: ${(cause as Error).message}`);
  }
  const head = json as { format?: unknown; version?: unknown } | null;
  if (typeof head !== 'object' || head === null) return fail(`__metadata__."${METADATA_KEY}" is not a JSON object`);
  if (head.format !== CTX_BIN_FORMAT) {
    fail(`key format: expected "${CTX_BIN_FORMAT}", found ${jsonPreview(head.format)}`);
  }
  if (head.version !== CTX_BIN_VERSION) {
    fail(`key version: ${jsonPreview(head.version)} is not supported (this build reads version ${CTX_BIN_VERSION})`);
  }
  const parsed = metadataSchema.safeParse(json);
  if (!parsed.success) return fail(describeFirstIssue(parsed.error));
  const names = new Set<string>();
  parsed.data.graphs.forEach((graph, i) => {
    if (names.has(graph.name)) fail(`key graphs[${i}].name: graph "${graph.name}" is listed twice`);
    names.add(graph.name);
  });
  return parsed.data;
}

/** The `__metadata__` map that stores `metadata`. */
export function encodeCtxBinMetadata(metadata: ReferenceCtxBinMetadata): Record<string, string> {
  return { [METADATA_KEY]: JSON.stringify(metadata) };
}
