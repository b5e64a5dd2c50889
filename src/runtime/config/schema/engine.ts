import * as z from 'zod';
import { isPlainObject } from '../../../formats/json.js';
import { describeValue, expectedFound } from '../issues.js';
import { dialogBackendSchema, embeddingModelBackendSchema, imageEncoderBackendSchema, standaloneBackendSchema } from './backend.js';
import { encoderModelSchema, modelSchema } from './model.js';
import {
  anyText, filePath, finiteNumber, forbiddenWhen, list, looseVersioned, nonEmptyText, nonNegativeInt, oneOf, positiveInt, text,
  versioned, withListRules, withRules, type RawObject, type Report,
} from './values.js';

export const ENGINE_ROLES = ['primary', 'secondary', 'target', 'draft'] as const;
export type EngineRole = (typeof ENGINE_ROLES)[number];

/**
 * `engine.longcontext` / `cache-groups[].longcontext` (docs/genie-behaviour.md#long-context). Genie
 * checks each block on its own; it does not tie `keydiff` / `sliding-window` to the type.
 */
const longContextSchema = versioned({
  type: oneOf(['keydiff', 'sliding-window']),
  /** Sink tokens that are never evicted. */
  'reserved-tokens': nonNegativeInt.optional(),
  /** The scorer ctx-bin run every `update-frequency` tokens to choose evictions; Genie ignores other keys in it. */
  keydiff: looseVersioned({ 'scoring-network': filePath, 'update-frequency': positiveInt }).optional(),
  'sliding-window': versioned({ 'window-size': positiveInt }).optional(),
});

const cacheGroupSchema = versioned({
  /** KV tensor-name prefix of the group, e.g. `past_` (the default group) or `swa_`; Genie refuses "". */
  prefix: nonEmptyText,
  longcontext: longContextSchema.optional(),
  'attention-mask-tensor-name': text.optional(),
  'cache-index-tensor-name': text.optional(),
});

/**
 * `engine.cache-groups`: KV families told apart by tensor-name prefix. Genie refuses an empty list;
 * a prefix that starts another group's cannot tell the groups apart (not Genie's check).
 */
const cacheGroupsSchema = withListRules(list(cacheGroupSchema, 'cache-group objects', { nonEmpty: 'error' }), (groups, report) => {
  const prefixes = groups.map((group) => (isPlainObject(group) && typeof group.prefix === 'string' ? group.prefix : undefined));
  for (let j = 1; j < prefixes.length; j++) {
    for (let i = 0; i < j; i++) {
      const earlier = prefixes[i];
      const later = prefixes[j];
      if (earlier === undefined || later === undefined) continue;
      if (earlier.startsWith(later) || later.startsWith(earlier)) {
        report(
          [j, 'prefix'],
          `expected a prefix that is not a prefix of another group's (nor has one), found ${describeValue(later)} against ${describeValue(earlier)} of cache-groups[${i}]`,
          'unsupported',
        );
      }
    }
  }
});

/** Legacy RoPE keys live in QnnHtp; Genie rejects them next to `model.positional-encoding`. */
function ropeFormRule(engine: RawObject, report: Report): void {
  const htp = isPlainObject(engine.backend) ? engine.backend.QnnHtp : undefined;
  const model = engine.model;
  if (!isPlainObject(htp) || !isPlainObject(model) || model['positional-encoding'] === undefined) return;
  for (const key of ['pos-id-dim', 'rope-theta']) {
    if (htp[key] !== undefined) {
      report(['backend', 'QnnHtp', key], forbiddenWhen('model.positional-encoding is set (use one form or the other)', htp[key]));
    }
  }
}

/**
 * `engine` of a dialog / text-generator (docs/genie-behaviour.md#engine-block). Which `role` values
 * it may carry, if any, depends on the dialog type: the dialog's rule checks it.
 */
export const engineSchema = withRules(
  versioned({
    /** Host threads for KV-cache copy jobs (not QNN threads); genie-ts copies on the JS thread. */
    'n-threads': finiteNumber,
    backend: dialogBackendSchema,
    model: modelSchema,
    role: oneOf(ENGINE_ROLES).optional(),
    longcontext: longContextSchema.optional(),
    'cache-groups': cacheGroupsSchema.optional(),
  }),
  ropeFormRule,
);

/** A dialog's `engine`: one object, or two for `spd` / `kv-share` / `eaglet`. */
export const engineOrPairSchema = z.union([engineSchema, z.array(engineSchema)], {
  error: (issue) => expectedFound('an engine object or an array of engine objects', issue.input),
});

/** The `standalone-engine` root's engine: any of the four roles (optional), no cache groups. */
export const standaloneEngineSchema = withRules(
  versioned({
    'n-threads': finiteNumber,
    backend: standaloneBackendSchema,
    model: modelSchema,
    role: oneOf(ENGINE_ROLES).optional(),
    longcontext: longContextSchema.optional(),
  }),
  ropeFormRule,
);

/** The keys of an encoder engine (embedding model, text encoder, image encoder). */
function encoderEngineSchema<B extends z.ZodType>(backend: B) {
  return versioned({
    /** Genie passes it on as the model type (its image encoders say "image"). */
    mode: anyText.optional(),
    'n-threads': finiteNumber.optional(),
    backend,
    model: encoderModelSchema,
  });
}

/** The engine of an `embedding` model root or a text-encoder / lut-encoder node (its QnnHtp decides pooling). */
export const embeddingModelEngineSchema = encoderEngineSchema(embeddingModelBackendSchema);

/** The image-encoder node's engine: an encoder engine whose QnnHtp Genie completes itself. */
export const imageEncoderEngineSchema = encoderEngineSchema(imageEncoderBackendSchema);

export type EngineConfig = z.infer<typeof engineSchema>;
export type LongContextConfig = z.infer<typeof longContextSchema>;
export type CacheGroupConfig = z.infer<typeof cacheGroupSchema>;
