import * as z from 'zod';
import { isPlainObject } from '../../../formats/json.js';
import { describeValue } from '../issues.js';
import {
  anObject, anyText, filePath, forbiddenWhen, leaf, list, neededToRun, oneOf, optionalFilePath, positiveInt,
  positiveNumber, quoted, requiredWhen, strict, versioned, withRules, type RawObject, type Report,
} from './values.js';

/** Genie's default rope-dim (head_dim / 2 of a 128-wide head) when neither form sets one. */
export const DEFAULT_ROPE_DIM = 64;
export const DEFAULT_ROPE_THETA = 10000;

const loraAdapterSchema = versioned({
  name: anyText,
  alphas: list(anyText, 'strings').optional(),
  /** LoRA v2/v3: one binary section per ctx-bin, "" for ctx-bins without LoRA weights. */
  'bin-sections': list(optionalFilePath, 'path strings').optional(),
  /** LoRA v1: a weights file. */
  path: filePath.optional(),
});

const loraGroupSchema = versioned({
  name: anyText,
  members: list(anyText, 'adapter names'),
  'quant-bin-sections': list(optionalFilePath, 'path strings'),
});

/** Genie casts `lora-version` to a uint8 and takes 1, 2 and 3. */
const loraVersion = leaf<1 | 2 | 3>(
  'one of 1, 2, 3',
  (v) => typeof v === 'number' && Number.isFinite(v) && [1, 2, 3].includes(((Math.trunc(v) % 256) + 256) % 256),
  (v) => v === 1 || v === 2 || v === 3,
);

/**
 * Genie's adapter rules (docs/genie-behaviour.md#lora-block): a `path` makes a v1 adapter, `alphas` or
 * `bin-sections` a v2/v3 one (the path wins when both are there), and the kind must match
 * `lora-version`; groups are v2/v3 only. One bin-section per ctx-bin and unique names are not
 * Genie's checks: genie-ts runs no LoRA, it reports them as values it would not run.
 */
function loraRules(lora: RawObject, report: Report): void {
  const uint8 = typeof lora['lora-version'] === 'number' ? ((Math.trunc(lora['lora-version']) % 256) + 256) % 256 : 2;
  const v1 = uint8 === 1;
  const adapters = Array.isArray(lora.adapters) ? lora.adapters : [];
  const names = new Set<unknown>();
  adapters.forEach((adapter, i) => {
    if (!isPlainObject(adapter)) return;
    const hasPath = adapter.path !== undefined;
    const hasSections = adapter.alphas !== undefined || adapter['bin-sections'] !== undefined;
    if (v1 && !hasPath && hasSections) report(['adapters', i], 'expected a path (a LoRA v1 adapter), found alphas / bin-sections, which need lora-version 2 or 3');
    else if (!v1 && hasPath) report(['adapters', i, 'path'], forbiddenWhen(`lora-version is ${uint8} (weight files need lora-version 1)`, adapter.path));
    else if (!hasPath && !hasSections) report(['adapters', i], 'expected a path (lora-version 1) or alphas / bin-sections (lora-version 2, 3), found neither');
    else if (!v1 && adapter['bin-sections'] === undefined) report(['adapters', i, 'bin-sections'], requiredWhen(`lora-version is ${uint8}`), 'unsupported');
    if (names.has(adapter.name)) report(['adapters', i, 'name'], `expected a unique adapter name, found ${describeValue(adapter.name)} twice`, 'unsupported');
    names.add(adapter.name);
  });
  const groups = Array.isArray(lora.groups) ? lora.groups : [];
  if (v1 && lora.groups !== undefined) report(['groups'], forbiddenWhen('lora-version is 1 (groups need lora-version 2 or 3)', lora.groups));
  groups.forEach((group, i) => {
    if (!isPlainObject(group) || !Array.isArray(group.members)) return;
    group.members.forEach((member, j) => {
      if (typeof member === 'string' && !names.has(member)) {
        report(['groups', i, 'members', j], `expected the name of an adapter in adapters, found ${describeValue(member)}`, 'unsupported');
      }
    });
  });
}

const loraKeys = {
  'alpha-tensor-name': anyText.optional(),
  adapters: list(loraAdapterSchema, 'adapter objects'),
  'lora-version': loraVersion.optional(),
};

/** `model.binary.lora` / `model.library.lora` of a decoder engine (docs/genie-behaviour.md#lora-block). */
const loraSchema = withRules(versioned({ ...loraKeys, groups: list(loraGroupSchema, 'group objects').optional() }), loraRules);
/** An encoder engine's LoRA: no groups. */
const encoderLoraSchema = withRules(versioned(loraKeys), loraRules);

/** `model.binary`: QNN context binaries, one per split part. */
function binarySchema<L extends z.ZodType>(lora: L) {
  return withRules(
    versioned({
      'ctx-bins': list(filePath, 'context binary paths', { nonEmpty: 'runnable' }),
      lora: lora.optional(),
    }),
    (binary, report) => {
      const ctxBins = binary['ctx-bins'];
      const lora = binary.lora;
      if (!Array.isArray(ctxBins) || !isPlainObject(lora) || !Array.isArray(lora.adapters)) return;
      lora.adapters.forEach((adapter, i) => {
        const sections = isPlainObject(adapter) ? adapter['bin-sections'] : undefined;
        if (Array.isArray(sections) && sections.length !== ctxBins.length) {
          report(
            ['lora', 'adapters', i, 'bin-sections'],
            `expected ${ctxBins.length} entries (one per ctx-bin, "" for none), found ${sections.length}`,
            'unsupported',
          );
        }
      });
    },
  );
}

/** `model.library`: a QnnGenAiTransformer model file. */
function librarySchema<L extends z.ZodType>(lora: L) {
  return versioned({ 'model-bin': filePath, lora: lora.optional() });
}

const ROPE_TYPES = ['default', 'llama3', 'longrope'] as const;

/** A factor list: Genie checks only that it is an array. */
const factorList = list(leaf<number>('a positive number', () => true, (v) => typeof v === 'number' && Number.isFinite(v) && v > 0), 'positive numbers', {
  nonEmpty: 'runnable',
});

/** The keys each rope-type needs to be computed (docs/genie-behaviour.md#rope-tables). */
const NEEDED_SCALING_KEYS: Readonly<Record<string, readonly string[]>> = {
  llama3: ['factor', 'low-freq-factor', 'high-freq-factor', 'original-max-position-embeddings'],
  longrope: ['short-factor', 'long-factor', 'original-max-position-embeddings'],
};

/**
 * `rope-scaling` (math: docs/genie-behaviour.md#rope-tables). Genie checks each key's type and the
 * rope-type, nothing else; the keys a rope-type needs are genie-ts's own need (keys of another
 * rope-type are ignored, as Genie ignores them).
 */
const ropeScalingSchema = withRules(
  strict({
    'rope-type': oneOf(ROPE_TYPES).optional(),
    factor: positiveNumber.optional(),
    'low-freq-factor': positiveNumber.optional(),
    'high-freq-factor': positiveNumber.optional(),
    'original-max-position-embeddings': positiveInt.optional(),
    'short-factor': factorList.optional(),
    'long-factor': factorList.optional(),
  }),
  (scaling, report) => {
    const needed = NEEDED_SCALING_KEYS[scaling['rope-type'] as string] ?? [];
    for (const key of needed) {
      if (scaling[key] === undefined) report([key], neededToRun(`compute ${quoted(scaling['rope-type'])} scaling`), 'unsupported');
    }
    const low = scaling['low-freq-factor'];
    const high = scaling['high-freq-factor'];
    if (scaling['rope-type'] === 'llama3' && typeof low === 'number' && typeof high === 'number' && !(high > low)) {
      report(['high-freq-factor'], `expected a number > low-freq-factor (${low}), found ${high}`, 'unsupported');
    }
  },
);

/** `model.positional-encoding` of a decoder engine: the modern form of the legacy QnnHtp `pos-id-dim` / `rope-theta`. */
const positionalEncodingSchema = withRules(
  strict({
    type: oneOf(['rope', 'absolute', 'alibi']).optional(),
    /** head_dim / 2: the number of rotary frequencies. */
    'rope-dim': positiveInt.optional(),
    'rope-theta': positiveNumber.optional(),
    'rope-scaling': ropeScalingSchema.optional(),
  }),
  (encoding, report) => {
    if (encoding.type === undefined) report(['type'], neededToRun('know the position encoding (Genie reads it too)'), 'unsupported');
    const scaling = encoding['rope-scaling'];
    if (!isPlainObject(scaling) || scaling['rope-type'] !== 'longrope') return;
    const ropeDim = typeof encoding['rope-dim'] === 'number' ? encoding['rope-dim'] : DEFAULT_ROPE_DIM;
    for (const key of ['short-factor', 'long-factor']) {
      const factors = scaling[key];
      if (Array.isArray(factors) && factors.length > 0 && factors.length !== ropeDim) {
        report(['rope-scaling', key], `expected ${ropeDim} factors (rope-dim), found ${factors.length}`, 'unsupported');
      }
    }
  },
);

/** An encoder engine's positional-encoding: only rope, and Genie does not look into its rope-scaling. */
const encoderPositionalEncodingSchema = strict({
  type: oneOf(['rope']).optional(),
  'rope-dim': positiveInt.optional(),
  'rope-theta': positiveNumber.optional(),
  'rope-scaling': anObject.optional(),
});

/** Genie's model-type rule: the object named like `type` is mandatory, the other one is an error. */
function modelTypeRule(model: RawObject, report: Report): void {
  for (const name of ['binary', 'library']) {
    if (model.type === name && model[name] === undefined) report([name], requiredWhen(`type is ${quoted(name)}`));
    if (model.type !== name && model[name] !== undefined && (model.type === 'binary' || model.type === 'library')) {
      report([name], forbiddenWhen(`type is ${quoted(model.type)} (a ${name} object needs type ${quoted(name)})`, model[name]));
    }
  }
}

/** `engine.model` of a decoder engine (docs/genie-behaviour.md#model-block). */
export const modelSchema = withRules(
  versioned({
    type: oneOf(['binary', 'library']),
    binary: binarySchema(loraSchema).optional(),
    library: librarySchema(loraSchema).optional(),
    'positional-encoding': positionalEncodingSchema.optional(),
    /** Vocabulary-trim map of a draft model. */
    'draft-token-map': filePath.optional(),
  }),
  modelTypeRule,
);

/** An encoder engine's model (embedding model, text and image encoders): no draft-token-map. */
export const encoderModelSchema = withRules(
  versioned({
    type: oneOf(['binary', 'library']),
    binary: binarySchema(encoderLoraSchema).optional(),
    library: librarySchema(encoderLoraSchema).optional(),
    'positional-encoding': encoderPositionalEncodingSchema.optional(),
  }),
  modelTypeRule,
);

export type ModelConfig = z.infer<typeof modelSchema>;
export type BinaryModelConfig = NonNullable<ModelConfig['binary']>;
export type LibraryModelConfig = NonNullable<ModelConfig['library']>;
export type LoraConfig = z.infer<typeof loraSchema>;
export type PositionalEncodingConfig = z.infer<typeof positionalEncodingSchema>;
export type RopeScalingConfig = z.infer<typeof ropeScalingSchema>;
