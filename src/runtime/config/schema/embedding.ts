import * as z from 'zod';
import {
  filePath, forbiddenWhen, integer, oneOf, positiveInt, positiveNumber, quoted, requiredWhen, strict, versioned, withRules,
  type RawObject, type Report,
} from './values.js';

export const EMBEDDING_DATATYPES = ['float32', 'native', 'ufixed8', 'ufixed16', 'sfixed8', 'sfixed16'] as const;
export type EmbeddingDatatype = (typeof EMBEDDING_DATATYPES)[number];
const FIXED_POINT_DATATYPES: readonly string[] = ['ufixed8', 'ufixed16', 'sfixed8', 'sfixed16'];

/** Encoding of LUT values in QNN's convention: `float = (q + offset) * scale`. Genie gives it no version. */
const quantParamSchema = strict({ scale: positiveNumber, offset: integer });

/** A fixed-point table is meaningless without its scale/offset. */
function quantParamRule(value: RawObject, report: Report): void {
  if (FIXED_POINT_DATATYPES.includes(value.datatype as string) && value['quant-param'] === undefined) {
    report(['quant-param'], requiredWhen(`datatype is ${quoted(value.datatype)}`));
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

/** `text-encoder.lut`: the LUT of a text-encoder pipeline node. */
export const lutSchema = withRules(
  versioned({
    'lut-path': filePath,
    size: positiveInt,
    datatype: oneOf(EMBEDDING_DATATYPES).optional(),
    'quant-param': quantParamSchema.optional(),
  }),
  quantParamRule,
);

export type EmbeddingConfig = z.infer<typeof embeddingSchema>;
export type QuantParamConfig = z.infer<typeof quantParamSchema>;
export type LutConfig = z.infer<typeof lutSchema>;
