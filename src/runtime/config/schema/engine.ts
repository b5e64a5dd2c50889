import * as z from 'zod';
import { isPlainObject } from '../../../formats/json.js';
import { describeValue, expectedFound } from '../issues.js';
import {
  backendSchema, dialogBackendSchema, htpEmbeddingModelSchema, htpImageEncoderSchema,
} from './backend.js';
import { modelSchema } from './model.js';
import {
  filePath, forbiddenWhen, list, nonNegativeInt, oneOf, positiveInt, quoted, requiredWhen, text, versioned,
  withListRules, withRules, type RawObject, type Report,
} from './values.js';

export const ENGINE_ROLES = ['primary', 'secondary', 'target', 'draft'] as const;
export type EngineRole = (typeof ENGINE_ROLES)[number];

const LONGCONTEXT_TYPES = ['keydiff', 'sliding-window'] as const;

/** `engine.longcontext` / `cache-groups[].longcontext` (docs/genie-behaviour.md#long-context). */
const longContextSchema = withRules(
  versioned({
    type: oneOf(LONGCONTEXT_TYPES),
    /** Sink tokens that are never evicted. */
    'reserved-tokens': nonNegativeInt.optional(),
    keydiff: versioned({
      /** The scorer ctx-bin run every `update-frequency` tokens to choose evictions. */
      'scoring-network': filePath,
      'update-frequency': positiveInt.optional(),
    }).optional(),
    'sliding-window': versioned({ 'window-size': positiveInt.optional() }).optional(),
  }),
  (longContext, report) => {
    const type = longContext.type;
    if (!(LONGCONTEXT_TYPES as readonly unknown[]).includes(type)) return;
    if (type === 'keydiff' && longContext.keydiff === undefined) report(['keydiff'], requiredWhen('type is "keydiff"'));
    for (const name of LONGCONTEXT_TYPES) {
      if (name !== type && longContext[name] !== undefined) {
        report([name], forbiddenWhen(`type is ${quoted(type)} (a ${name} object needs type ${quoted(name)})`, longContext[name]));
      }
    }
  },
);

const cacheGroupSchema = versioned({
  /** KV tensor-name prefix of the group, e.g. `past_` (the default group) or `swa_`. */
  prefix: text,
  longcontext: longContextSchema.optional(),
  'attention-mask-tensor-name': text.optional(),
  'cache-index-tensor-name': text.optional(),
});

/** `engine.cache-groups`: KV families told apart by tensor-name prefix; no prefix may start another. */
const cacheGroupsSchema = withListRules(
  list(cacheGroupSchema, 'cache-group objects', { nonEmpty: true }),
  (groups, report) => {
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
          );
        }
      }
    }
  },
);

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

function buildEngineSchema<B extends z.ZodType>(backend: B) {
  return withRules(
    versioned({
      /** Host threads for KV-cache copy jobs (not QNN threads). */
      'n-threads': positiveInt,
      backend,
      model: modelSchema,
      /** Mandatory for `spd` and `kv-share` dialogs and the array form. */
      role: oneOf(ENGINE_ROLES).optional(),
      longcontext: longContextSchema.optional(),
      'cache-groups': cacheGroupsSchema.optional(),
    }),
    ropeFormRule,
  );
}

/** `engine` of a dialog / text-generator / standalone-engine (docs/genie-behaviour.md#engine-block). */
export const engineSchema = buildEngineSchema(dialogBackendSchema);

/** A dialog's `engine`: one object, or two for `spd` / `kv-share` / `eaglet`. */
export const engineOrPairSchema = z.union([engineSchema, z.array(engineSchema)], {
  error: (issue) => expectedFound('an engine object or an array of engine objects', issue.input),
});

/** The embedding-model root's engine (its QnnHtp adds pooled-output / disable-kv-cache). */
export const embeddingModelEngineSchema = buildEngineSchema(backendSchema(htpEmbeddingModelSchema));

/** The image-encoder node's engine: `mode: "image"`, a lighter QnnHtp. */
export const imageEncoderEngineSchema = withRules(
  versioned({
    mode: oneOf(['image']),
    'n-threads': positiveInt.optional(),
    backend: backendSchema(htpImageEncoderSchema),
    model: modelSchema,
  }),
  ropeFormRule,
);

export type EngineConfig = z.infer<typeof engineSchema>;
export type LongContextConfig = z.infer<typeof longContextSchema>;
export type CacheGroupConfig = z.infer<typeof cacheGroupSchema>;
