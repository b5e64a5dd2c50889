/**
 * Metadata of a reference ctx-bin: the safetensors `__metadata__` entry `"genie-ts"` holds this
 * object as a JSON string. Version 1 holds a Qwen2 decoder (`model.architecture` "qwen2");
 * version 2 adds vision models (`model.architecture` "vision": a ViT tower and FastVLM's projector,
 * see vision-model.ts); version 3 adds the Llama and Phi-3 decoders (`model.architecture` "llama",
 * "phi3") and `model.ropeScaling` (llama3, longrope). Writers use the lowest version that expresses
 * the model, so a plain Qwen2 decoder stays version 1, a vision model version 2, and a build that
 * reads only older versions rejects a newer ctx-bin by its version.
 */
import { z } from 'zod';
import { jsonPreview } from '../../formats/json.js';
import { isWellFormed } from '../../formats/json-text.js';
import type { TensorSpec } from '../../graphs/spec.js';
import { QnnDataType, type DataTypeName } from '../../tensor/dtype.js';
import { CtxBinError } from './errors.js';
import { DECODER_ARCHITECTURES, referenceModelSchema, referenceModelSchemaV3, type ReferenceModel } from './model.js';
import { referenceVisionModelSchema, type ReferenceVisionModel } from './vision-model.js';
import { describeFirstIssue } from './zod-issue.js';

export const METADATA_KEY = 'genie-ts';
export const CTX_BIN_FORMAT = 'genie-ts-reference';
/** The version of decoder ctx-bins (the first version; version 2 reads them unchanged). */
export const CTX_BIN_VERSION = 1;
/** The version of vision ctx-bins: version 1 plus `model.architecture` "vision" and the vision stages. */
export const VISION_CTX_BIN_VERSION = 2;
/** The version of decoders other than plain Qwen2: version 2 plus Llama, Phi-3 and `model.ropeScaling`. */
export const DECODER_V3_CTX_BIN_VERSION = 3;
/** Every version this build reads. */
export const CTX_BIN_VERSIONS: readonly number[] = [CTX_BIN_VERSION, VISION_CTX_BIN_VERSION, DECODER_V3_CTX_BIN_VERSION];

/** The lowest version that expresses `model` (what writers put in the file). */
export function ctxBinVersionOf(model: CtxBinModel): CtxBinVersion {
  if (model.architecture === 'vision') return VISION_CTX_BIN_VERSION;
  return model.architecture === 'qwen2' && model.ropeScaling === undefined ? CTX_BIN_VERSION : DECODER_V3_CTX_BIN_VERSION;
}

export type CtxBinVersion = typeof CTX_BIN_VERSION | typeof VISION_CTX_BIN_VERSION | typeof DECODER_V3_CTX_BIN_VERSION;

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

/**
 * The stages of a vision model's graph: the ViT tower (`pixel_values` -> image features), the
 * projector (image features -> decoder-width rows), or both fused.
 */
export const VISION_GRAPH_STAGES = ['vision', 'projector', 'vision+projector'] as const;
export type VisionGraphStages = (typeof VISION_GRAPH_STAGES)[number];

/** The model a ctx-bin's graphs execute: a decoder or a vision model. */
export type CtxBinModel = ReferenceModel | ReferenceVisionModel;

export interface ReferenceGraphMeta {
  readonly name: string;
  /** Decoder stages for a Qwen2 model, vision stages for a vision model. */
  readonly kind: GraphStages | VisionGraphStages;
  /**
   * Decoder (or vision tower) layers `[first, end)`; empty (`first == end`) when the kind has no
   * decoder (tower). A vision graph runs the whole tower: `[0, tower.layers]`.
   */
  readonly layers: readonly [number, number];
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
}

/** The metadata of a ctx-bin whose model is `M`; see `ctxBinVersionOf` for the version a model needs. */
export interface ReferenceCtxBinMetadata<M extends CtxBinModel = CtxBinModel> {
  readonly format: typeof CTX_BIN_FORMAT;
  readonly version: CtxBinVersion;
  readonly model: M;
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

function graphSchema(stages: readonly [string, ...string[]]) {
  return z.strictObject({
    name: nameSchema,
    kind: z.enum(stages),
    layers: z.tuple([z.int().nonnegative(), z.int().nonnegative()]),
    inputs: z.array(tensorSpecSchema),
    outputs: z.array(tensorSpecSchema).min(1),
  });
}

function metadataSchema(version: number, model: z.ZodType, stages: readonly [string, ...string[]]) {
  return z.strictObject({
    format: z.literal(CTX_BIN_FORMAT),
    version: z.literal(version),
    model,
    graphs: z.array(graphSchema(stages)).min(1),
  });
}

const DECODER_V1 = metadataSchema(CTX_BIN_VERSION, referenceModelSchema, GRAPH_STAGES);
const DECODER_V2 = metadataSchema(VISION_CTX_BIN_VERSION, referenceModelSchema, GRAPH_STAGES);
const VISION_V2 = metadataSchema(VISION_CTX_BIN_VERSION, referenceVisionModelSchema, VISION_GRAPH_STAGES);
const DECODER_V3 = metadataSchema(DECODER_V3_CTX_BIN_VERSION, referenceModelSchemaV3, GRAPH_STAGES);
const VISION_V3 = metadataSchema(DECODER_V3_CTX_BIN_VERSION, referenceVisionModelSchema, VISION_GRAPH_STAGES);

/** The architectures each version knows. */
const ARCHITECTURES_OF: Readonly<Record<number, readonly string[]>> = {
  [CTX_BIN_VERSION]: ['qwen2'],
  [VISION_CTX_BIN_VERSION]: ['qwen2', 'vision'],
  [DECODER_V3_CTX_BIN_VERSION]: [...DECODER_ARCHITECTURES, 'vision'],
};

/** The schema for `version` and `model.architecture`, or why there is none. */
function schemaFor(version: number, architecture: unknown): z.ZodType | string {
  const known = ARCHITECTURES_OF[version];
  if (typeof architecture === 'string' && !known.includes(architecture)) {
    const first = Object.entries(ARCHITECTURES_OF).find(([, list]) => list.includes(architecture));
    if (first !== undefined) {
      return `key model.architecture: "${architecture}" needs version ${first[0]} or later, this file says version ${version}`;
    }
  }
  if (!known.includes(architecture as string)) {
    const expected = known.map((a) => `"${a}"`).join(', ');
    return `key model.architecture: expected one of ${expected}, found ${jsonPreview(architecture)}`;
  }
  if (architecture === 'vision') return version === VISION_CTX_BIN_VERSION ? VISION_V2 : VISION_V3;
  if (version === CTX_BIN_VERSION) return DECODER_V1;
  return version === VISION_CTX_BIN_VERSION ? DECODER_V2 : DECODER_V3;
}

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
  const head = json as { format?: unknown; version?: unknown; model?: unknown } | null;
  if (typeof head !== 'object' || head === null) return fail(`__metadata__."${METADATA_KEY}" is not a JSON object`);
  if (head.format !== CTX_BIN_FORMAT) {
    fail(`key format: expected "${CTX_BIN_FORMAT}", found ${jsonPreview(head.format)}`);
  }
  if (!CTX_BIN_VERSIONS.includes(head.version as number)) {
    fail(`key version: ${jsonPreview(head.version)} is not supported (this build reads versions ${CTX_BIN_VERSIONS.slice(0, -1).join(', ')} and ${CTX_BIN_VERSIONS.at(-1)})`);
  }
  const model = head.model as { architecture?: unknown } | null | undefined;
  // A model that is not an object is left to the schema, which names what it found.
  const architecture = typeof model === 'object' && model !== null ? model.architecture : 'qwen2';
  const schema = schemaFor(head.version as number, architecture);
  if (typeof schema === 'string') return fail(schema);
  const parsed = schema.safeParse(json);
  if (!parsed.success) return fail(describeFirstIssue(parsed.error));
  const data = parsed.data as ReferenceCtxBinMetadata;
  const names = new Set<string>();
  data.graphs.forEach((graph, i) => {
    if (names.has(graph.name)) fail(`key graphs[${i}].name: graph "${graph.name}" is listed twice`);
    names.add(graph.name);
  });
  return data;
}

/** The `__metadata__` map that stores `metadata`. */
export function encodeCtxBinMetadata(metadata: ReferenceCtxBinMetadata): Record<string, string> {
  return { [METADATA_KEY]: JSON.stringify(metadata) };
}
