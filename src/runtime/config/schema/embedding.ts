import * as z from 'zod';
import {
  filePath, forbiddenWhen, leaf, loose, neededToRun, oneOf, positiveInt, positiveNumber, quoted, requiredWhen,
  versioned, withRules, type RawObject, type Report,
} from './values.js';

export const EMBEDDING_DATATYPES = ['float32', 'native', 'ufixed8', 'ufixed16', 'sfixed8', 'sfixed16'] as const;
export type EmbeddingDatatype = (typeof EMBEDDING_DATATYPES)[number];
const FIXED_POINT_DATATYPES: readonly string[] = ['ufixed8', 'ufixed16', 'sfixed8', 'sfixed16'];

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/**
 * QNN's offset (minus the zero point). Genie stores it in an int32, so a fraction is cut off toward
 * zero (the SDK's examples carry offsets like -107.10983274409456); genie-ts does the same
 * (docs/genie-behaviour.md#embedding-block).
 */
const quantOffset = leaf<number>(
  'a number whose integer part is an int32',
  (v) => typeof v === 'number',
  (v) => Number.isFinite(v) && Math.trunc(v as number) >= INT32_MIN && Math.trunc(v as number) <= INT32_MAX,
);

/**
 * Encoding of LUT values in QNN's convention: `float = (q + offset) * scale`. Genie checks only that
 * it is an object (no version, other keys ignored); genie-ts needs both numbers.
 */
const quantParamSchema = withRules(loose({ scale: positiveNumber.optional(), offset: quantOffset.optional() }), (param, report) => {
  for (const key of ['scale', 'offset']) {
    if (param[key] === undefined) report([key], neededToRun('read the quantized table'), 'unsupported');
  }
});

/** A fixed-point table needs its scale/offset to be read (Genie would take scale 1, offset 0). */
function quantParamRule(value: RawObject, report: Report): void {
  if (FIXED_POINT_DATATYPES.includes(value.datatype as string) && value['quant-param'] === undefined) {
    report(['quant-param'], neededToRun(`read ${quoted(value.datatype)} values; Genie would take scale 1, offset 0`), 'unsupported');
  }
}

/**
 * `embedding` inside dialog / text-generator / standalone-engine
 * (docs/genie-behaviour.md#embedding-block).
 */
export const embeddingSchema = withRules(
  versioned({
    /** n_embd, the row width. */
    size: positiveInt,
    type: oneOf(['lut', 'callback']).optional(),
    'lut-path': filePath.optional(),
    datatype: oneOf(EMBEDDING_DATATYPES).optional(),
    'quant-param': quantParamSchema.optional(),
  }),
  (embedding, report) => {
    if (embedding.type === 'lut' && embedding['lut-path'] === undefined) report(['lut-path'], requiredWhen('type is "lut"'));
    if (embedding.type !== 'lut' && embedding['lut-path'] !== undefined) {
      const type = embedding.type === undefined ? 'absent' : quoted(embedding.type);
      report(['lut-path'], forbiddenWhen(`type is ${type} (a lut-path needs type "lut")`, embedding['lut-path']));
    }
    quantParamRule(embedding, report);
  },
);

/**
 * The `lut` of an encoder (an `embedding` model root or a `text-encoder` / `lut-encoder` node):
 * Genie requires only `version` and `size`.
 */
export const lutSchema = withRules(
  versioned({
    'lut-path': filePath.optional(),
    size: positiveInt,
    datatype: oneOf(EMBEDDING_DATATYPES).optional(),
    'quant-param': quantParamSchema.optional(),
  }),
  quantParamRule,
);

export type EmbeddingConfig = z.infer<typeof embeddingSchema>;
export type QuantParamConfig = z.infer<typeof quantParamSchema>;
export type LutConfig = z.infer<typeof lutSchema>;
