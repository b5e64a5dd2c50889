import * as z from 'zod';
import { isPlainObject } from '../../../formats/json.js';
import { describeValue } from '../issues.js';
import { contextSchema } from './context.js';
import { embeddingSchema } from './embedding.js';
import { engineOrPairSchema } from './engine.js';
import { samplerSchema } from './sampler.js';
import { tokenizerSchema } from './tokenizer.js';
import {
  bool, list, nonNegativeInt, numberIn, oneOf, positiveInt, quoted, requiredWhen, strict, text, versioned,
  withRules, type RawObject, type Report,
} from './values.js';

export const DIALOG_TYPES = ['basic', 'ssd-q1', 'lade', 'spd', 'multistream', 'eaglet', 'kv-share'] as const;
export type DialogType = (typeof DIALOG_TYPES)[number];

/**
 * Per-type sub-objects of the decoding strategies
 * (docs/genie-behaviour.md#decoding-strategy-blocks); parsed, not run.
 */
const ssdQ1Schema = withRules(
  versioned({
    'ssd-version': positiveInt,
    'forecast-token-count': positiveInt,
    branches: list(positiveInt, 'positive integers', { nonEmpty: true }),
    'forecast-prefix': positiveInt,
    'forecast-prefix-name': text,
    'branch-mode': oneOf(['top-1', 'all-expand']).optional(),
    'n-streams': positiveInt.optional(),
    'p-threshold': numberIn('[', 0, 1, ']').optional(),
  }),
  (ssd, report) => {
    const count = ssd['forecast-token-count'];
    if (Array.isArray(ssd.branches) && typeof count === 'number' && ssd.branches.length > count) {
      report(['branches'], `expected at most forecast-token-count (${count}) branches, found ${ssd.branches.length}`);
    }
    const streams = ssd['n-streams'];
    if (ssd['p-threshold'] !== undefined && !(typeof streams === 'number' && streams > 1)) {
      report(['p-threshold'], `needs n-streams > 1, found ${streams === undefined ? 'no n-streams' : `n-streams ${describeValue(streams)}`}`);
    }
  },
);

const ladeSchema = versioned({
  'update-mode': oneOf(['FWD_MAX_HIT', 'FWD_LEVEL', 'ALWAYS_FWD_ONE']).optional(),
  window: positiveInt.optional(),
  ngram: positiveInt.optional(),
  gcap: positiveInt.optional(),
});

const spdSchema = versioned({ 'draft-len': positiveInt.optional() });

const multistreamSchema = versioned({
  'n-streams': positiveInt.optional(),
  'p-threshold': numberIn('[', 0, 1, ']').optional(),
});

const eagletSchema = versioned({
  'eaglet-version': positiveInt.optional(),
  'draft-len': positiveInt.optional(),
  'n-branches': positiveInt.optional(),
  'max-tokens-target-can-evaluate': positiveInt.optional(),
  'draft-kv-cache': bool.optional(),
});

/** Genie lists no version for this one. */
const kvShareSchema = strict({ 'enable-in-memory-kv-share': bool.optional() });

/** `dialog.debug`: tensor dumps. Genie lists no version for it. */
const debugSchema = strict({
  path: text.optional(),
  'dump-tensors': bool.optional(),
  'dump-specs': bool.optional(),
  'dump-outputs': bool.optional(),
});

/** The engine roles each multi-engine dialog type expects. */
const ROLES_BY_TYPE: Readonly<Record<string, readonly string[]>> = {
  spd: ['draft', 'target'],
  'kv-share': ['primary', 'secondary'],
  eaglet: ['target', 'draft'],
};
/** Types whose engines must name their role even when there is only one (the other is bound later). */
const ROLE_MANDATORY = ['spd', 'kv-share'];

function engineRolesRule(dialog: RawObject, report: Report): void {
  const type = dialog.type;
  if (typeof type !== 'string' || !(DIALOG_TYPES as readonly string[]).includes(type)) return;
  const roles = ROLES_BY_TYPE[type];
  const engine = dialog.engine;
  if (Array.isArray(engine)) {
    if (roles === undefined) {
      report(['engine'], `expected a single engine object for type ${quoted(type)}, found ${describeValue(engine)} (only spd, kv-share and eaglet take two)`);
      return;
    }
    if (engine.length !== roles.length) {
      report(['engine'], `expected ${roles.length} engines (roles ${roles.map(quoted).join(' and ')}), found ${engine.length}`);
    }
    const seen = new Set<unknown>();
    engine.forEach((entry, i) => {
      if (!isPlainObject(entry)) return;
      const role = entry.role;
      if (role === undefined) report(['engine', i, 'role'], requiredWhen(`the engine is an array (type ${quoted(type)})`));
      else if (!roles.includes(role as string)) report(['engine', i, 'role'], `expected one of ${roles.map(quoted).join(', ')} for type ${quoted(type)}, found ${describeValue(role)}`);
      else if (seen.has(role)) report(['engine', i, 'role'], `expected each role once, found ${describeValue(role)} twice`);
      seen.add(role);
    });
  } else if (isPlainObject(engine) && ROLE_MANDATORY.includes(type) && engine.role === undefined) {
    report(['engine', 'role'], requiredWhen(`type is ${quoted(type)}`));
  }
}

const dialogShape = {
  type: oneOf(DIALOG_TYPES),
  context: contextSchema,
  tokenizer: tokenizerSchema,
  engine: engineOrPairSchema,
  sampler: samplerSchema.optional(),
  embedding: embeddingSchema.optional(),
  'stop-sequence': list(text, 'non-empty strings').optional(),
  /** Cap on the tokens delivered per query. */
  'max-num-tokens': nonNegativeInt.optional(),
  debug: debugSchema.optional(),
  'ssd-q1': ssdQ1Schema.optional(),
  lade: ladeSchema.optional(),
  spd: spdSchema.optional(),
  multistream: multistreamSchema.optional(),
  eaglet: eagletSchema.optional(),
  'kv-share': kvShareSchema.optional(),
};

/** The `dialog` root (docs/genie-behaviour.md#dialog-block). */
export const dialogSchema = withRules(versioned(dialogShape), engineRolesRule);

/** The `text-generator` pipeline node: a dialog plus the embedding accumulator's byte size. */
export const textGeneratorSchema = withRules(
  versioned({ ...dialogShape, 'accumulator-size': positiveInt.optional() }),
  engineRolesRule,
);

export type DialogConfig = z.infer<typeof dialogSchema>;
export type TextGeneratorConfig = z.infer<typeof textGeneratorSchema>;
export type DebugConfig = z.infer<typeof debugSchema>;
