import * as z from 'zod';
import { isPlainObject } from '../../../formats/json.js';
import { describeValue } from '../issues.js';
import { contextSchema } from './context.js';
import { embeddingSchema } from './embedding.js';
import { engineOrPairSchema } from './engine.js';
import { samplerSchema } from './sampler.js';
import { tokenizerSchema } from './tokenizer.js';
import {
  anObject, anyText, anyValue, bool, checkNested, leaf, list, nonNegativeInt, oneOf, positiveInt, quoted, requiredWhen, strict,
  text, versioned, withRules, type RawObject, type Report,
} from './values.js';

export const DIALOG_TYPES = ['basic', 'ssd-q1', 'lade', 'spd', 'multistream', 'eaglet', 'kv-share'] as const;
export type DialogType = (typeof DIALOG_TYPES)[number];

const isNumber = (v: unknown): v is number => typeof v === 'number';
/** Genie reads these counts as ints and refuses one that is not > 0. */
const countAboveZero = leaf<number>('a positive integer', (v) => isNumber(v) && Math.trunc(v) > 0, Number.isInteger);

/*
 * Per-type sub-objects of the decoding strategies (docs/genie-behaviour.md#decoding-strategy-blocks);
 * parsed, not run.
 */
const ssdQ1Schema = withRules(
  versioned({
    'ssd-version': positiveInt,
    'forecast-token-count': positiveInt,
    branches: list(leaf<number>('an integer', Number.isInteger), 'integers', { nonEmpty: 'runnable' }),
    'forecast-prefix': positiveInt,
    'forecast-prefix-name': text,
    'branch-mode': oneOf(['top-1', 'all-expand']).optional(),
    'n-streams': positiveInt.optional(),
    'p-threshold': leaf<number>('a number in [0, 1]', isNumber, (v) => (v as number) >= 0 && (v as number) <= 1).optional(),
  }),
  (ssd, report) => {
    const count = ssd['forecast-token-count'];
    if (Array.isArray(ssd.branches) && isNumber(count) && ssd.branches.length > Math.trunc(count)) {
      report(['branches'], `expected at most forecast-token-count (${count}) branches, found ${ssd.branches.length}`);
    }
    // Genie: a p-threshold above 0 is for several streams; n-streams is 1 when absent.
    const streams = ssd['n-streams'];
    const threshold = ssd['p-threshold'];
    if (isNumber(threshold) && threshold > 0 && (streams === undefined || (isNumber(streams) && Math.trunc(streams) <= 1))) {
      report(['p-threshold'], `a p-threshold above 0 needs n-streams > 1, found ${streams === undefined ? 'no n-streams' : `n-streams ${describeValue(streams)}`}`);
    }
  },
);

const ladeSchema = versioned({
  'update-mode': oneOf(['FWD_MAX_HIT', 'FWD_LEVEL', 'ALWAYS_FWD_ONE']),
  window: positiveInt,
  ngram: positiveInt,
  gcap: positiveInt,
});

const spdSchema = versioned({ 'draft-len': positiveInt });

const multistreamSchema = versioned({
  'n-streams': positiveInt,
  'p-threshold': leaf<number>('a number in [0, 1]', isNumber, (v) => (v as number) >= 0 && (v as number) <= 1).optional(),
});

const eagletSchema = versioned({
  'eaglet-version': positiveInt,
  'draft-len': countAboveZero,
  'n-branches': countAboveZero,
  'max-tokens-target-can-evaluate': countAboveZero,
  'draft-kv-cache': bool,
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

/** The engine roles of each dialog type that reads roles; the other types take no `role` key. */
const ROLES_BY_TYPE: Readonly<Record<string, readonly string[]>> = {
  spd: ['draft', 'target'],
  'kv-share': ['primary', 'secondary'],
  eaglet: ['target', 'draft'],
};
/** Types whose engine must be the array of two. */
const PAIR_MANDATORY = ['spd', 'kv-share'];

/** A dialog type's own block: mandatory for that type (kv-share's is optional). */
const BLOCK_MANDATORY = ['ssd-q1', 'lade', 'spd', 'multistream', 'eaglet'];
/** Blocks Genie refuses next to another dialog type; it ignores the multistream and eaglet ones there. */
const BLOCK_TYPE_BOUND = ['ssd-q1', 'lade', 'spd', 'kv-share'];

const KV_SHARE_KEY = 'enable-in-memory-kv-share';

function engineRolesRule(dialog: RawObject, report: Report): void {
  const type = dialog.type;
  if (typeof type !== 'string' || !(DIALOG_TYPES as readonly string[]).includes(type)) return;
  const roles = ROLES_BY_TYPE[type];
  const engine = dialog.engine;
  const roleIssue = (path: (string | number)[], role: unknown): void => {
    if (roles === undefined) {
      report(path, `not allowed when type is ${quoted(type)} (Genie reads engine roles only in spd, kv-share and eaglet dialogs), found ${describeValue(role)}`);
    } else if (!roles.includes(role as string)) {
      report(path, `expected one of ${roles.map(quoted).join(', ')} for type ${quoted(type)}, found ${describeValue(role)}`);
    }
  };
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
      else if (!roles.includes(role as string)) roleIssue(['engine', i, 'role'], role);
      else if (seen.has(role)) report(['engine', i, 'role'], `expected each role once, found ${describeValue(role)} twice`);
      seen.add(role);
    });
  } else if (isPlainObject(engine)) {
    if (PAIR_MANDATORY.includes(type)) {
      report(['engine'], `expected an array of 2 engines (roles ${roles.map(quoted).join(' and ')}) for type ${quoted(type)}, found an object`);
    }
    if (engine.role !== undefined) roleIssue(['engine', 'role'], engine.role);
  }
}

/** Each type's own block: present for its type, absent (or ignored) for the others, checked when it applies. */
function strategyBlocksRule(dialog: RawObject, report: Report): void {
  const type = dialog.type;
  if (typeof type !== 'string' || !(DIALOG_TYPES as readonly string[]).includes(type)) return;
  for (const block of BLOCK_MANDATORY) {
    if (block === type && dialog[block] === undefined) report([block], requiredWhen(`type is ${quoted(type)}`));
  }
  for (const block of BLOCK_TYPE_BOUND) {
    if (block !== type && dialog[block] !== undefined) {
      report([block], `not allowed when type is ${quoted(type)} (only a ${quoted(block)} dialog takes it), found ${describeValue(dialog[block])}`);
    }
  }
  if (type === 'multistream' && isPlainObject(dialog.multistream)) checkNested(multistreamSchema, dialog.multistream, ['multistream'], report);
  if (type === 'eaglet' && isPlainObject(dialog.eaglet)) checkNested(eagletSchema, dialog.eaglet, ['eaglet'], report);
}

/**
 * Older kv-share configs put `enable-in-memory-kv-share` in the secondary engine's
 * QnnGenAiTransformer object; Genie's dialog config moves it into the `kv-share` block when the
 * dialog is type kv-share without one, its engine an array whose entries all carry a role
 * (docs/genie-behaviour.md#decoding-strategy-blocks). Anywhere else the key is unknown.
 */
function kvShareMigrationRule(migrates: boolean) {
  return (dialog: RawObject, report: Report): void => {
    const engines = Array.isArray(dialog.engine) ? dialog.engine.map((e, i) => ({ e, at: ['engine', i] })) : [{ e: dialog.engine, at: ['engine'] }];
    const allRoled = Array.isArray(dialog.engine) && dialog.engine.every((e) => isPlainObject(e) && typeof e.role === 'string');
    const moved = migrates && dialog.type === 'kv-share' && dialog['kv-share'] === undefined && allRoled;
    let secondaryMoved = false;
    for (const { e, at } of engines) {
      const backend = isPlainObject(e) ? e.backend : undefined;
      const genAi = isPlainObject(backend) ? backend.QnnGenAiTransformer : undefined;
      if (!isPlainObject(genAi) || genAi[KV_SHARE_KEY] === undefined) continue;
      if (moved && !secondaryMoved && isPlainObject(e) && e.role === 'secondary') {
        secondaryMoved = true;
        continue;
      }
      report(
        [...at, 'backend', 'QnnGenAiTransformer', KV_SHARE_KEY],
        'unknown key here (Genie takes it from the secondary engine of a kv-share dialog without a "kv-share" block, and from the block otherwise)',
      );
    }
  };
}

const dialogShape = {
  type: oneOf(DIALOG_TYPES),
  context: contextSchema,
  tokenizer: tokenizerSchema,
  engine: engineOrPairSchema,
  sampler: samplerSchema.optional(),
  embedding: embeddingSchema.optional(),
  /** Strings; Genie matches none with "" (its stop-sequence trie never reaches an empty one). */
  'stop-sequence': list(anyText, 'strings').optional(),
  /** Cap on the tokens delivered per query; Genie refuses a negative one. */
  'max-num-tokens': leaf<number>('an integer >= 0', (v) => isNumber(v) && Math.trunc(v) >= 0, Number.isInteger).optional(),
  debug: debugSchema.optional(),
  'ssd-q1': ssdQ1Schema.optional(),
  lade: ladeSchema.optional(),
  spd: spdSchema.optional(),
  /** Checked only in a multistream dialog (Genie ignores the block elsewhere). */
  multistream: anObject.optional(),
  /** Checked only in an eaglet dialog (Genie ignores the block elsewhere). */
  eaglet: anObject.optional(),
  'kv-share': kvShareSchema.optional(),
  /** Genie's dialog validator takes this pipeline key anywhere and does nothing with it. */
  'accumulator-size': anyValue.optional(),
};

function dialogRules(migratesKvShare: boolean) {
  const migration = kvShareMigrationRule(migratesKvShare);
  return (dialog: RawObject, report: Report): void => {
    engineRolesRule(dialog, report);
    strategyBlocksRule(dialog, report);
    migration(dialog, report);
  };
}

/** The `dialog` root (docs/genie-behaviour.md#dialog-block). */
export const dialogSchema = withRules(versioned(dialogShape), dialogRules(true));

/** The `text-generator` pipeline node: a dialog whose `accumulator-size` sizes the embedding accumulator. */
export const textGeneratorSchema = withRules(
  versioned({ ...dialogShape, 'accumulator-size': nonNegativeInt.optional() }),
  dialogRules(false),
);

export type DialogConfig = z.infer<typeof dialogSchema>;
export type TextGeneratorConfig = z.infer<typeof textGeneratorSchema>;
export type DebugConfig = z.infer<typeof debugSchema>;
