import * as z from 'zod';
import { isPlainObject } from '../../../formats/json.js';
import { describeValue, expectedFound } from '../issues.js';
import {
  filePath, forbiddenWhen, list, oneOf, optionalFilePath, positiveInt, positiveNumber, quoted, requiredWhen,
  strict, text, versioned, withRules,
} from './values.js';

/** Genie's default rope-dim (head_dim / 2 of a 128-wide head) when neither form sets one. */
export const DEFAULT_ROPE_DIM = 64;
export const DEFAULT_ROPE_THETA = 10000;

const loraAdapterSchema = versioned({
  name: text,
  alphas: list(text, 'alpha tensor names').optional(),
  /** LoRA v2/v3: one binary section per ctx-bin, "" for ctx-bins without LoRA weights. */
  'bin-sections': list(optionalFilePath, 'path strings').optional(),
  /** LoRA v1: a weights file. */
  path: filePath.optional(),
});

const loraGroupSchema = versioned({
  name: text,
  members: list(text, 'adapter names', { nonEmpty: true }),
  'quant-bin-sections': list(optionalFilePath, 'path strings').optional(),
});

/** `model.binary.lora` / `model.library.lora` (docs/genie-behaviour.md#lora-block). */
const loraSchema = withRules(
  versioned({
    'alpha-tensor-name': text.optional(),
    adapters: list(loraAdapterSchema, 'adapter objects', { nonEmpty: true }),
    groups: list(loraGroupSchema, 'group objects').optional(),
    'lora-version': oneOf([1, 2, 3]).optional(),
  }),
  (lora, report) => {
    const version = lora['lora-version'] ?? 2;
    const adapters = Array.isArray(lora.adapters) ? lora.adapters : [];
    const names = new Set<unknown>();
    adapters.forEach((adapter, i) => {
      if (!isPlainObject(adapter)) return;
      if (names.has(adapter.name)) report(['adapters', i, 'name'], `expected a unique adapter name, found ${describeValue(adapter.name)} twice`);
      names.add(adapter.name);
      const [needed, other] = version === 1 ? ['path', 'bin-sections'] : ['bin-sections', 'path'];
      if (adapter[needed] === undefined) report(['adapters', i, needed], requiredWhen(`lora-version is ${version}`));
      if (adapter[other] !== undefined) report(['adapters', i, other], forbiddenWhen(`lora-version is ${version}`, adapter[other]));
    });
    const groups = Array.isArray(lora.groups) ? lora.groups : [];
    groups.forEach((group, i) => {
      if (!isPlainObject(group) || !Array.isArray(group.members)) return;
      group.members.forEach((member, j) => {
        if (typeof member === 'string' && !names.has(member)) {
          report(['groups', i, 'members', j], `expected the name of an adapter in adapters, found ${describeValue(member)}`);
        }
      });
    });
  },
);

/** `model.binary`: QNN context binaries, one per split part. */
const binarySchema = withRules(
  versioned({
    'ctx-bins': list(filePath, 'context binary paths', { nonEmpty: true }),
    lora: loraSchema.optional(),
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
        );
      }
    });
  },
);

/** `model.library`: a QnnGenAiTransformer model file. */
const librarySchema = versioned({ 'model-bin': filePath, lora: loraSchema.optional() });

const ROPE_TYPES = ['default', 'llama3', 'longrope'] as const;

const llama3ScalingSchema = withRules(
  strict({
    'rope-type': z.literal('llama3'),
    factor: positiveNumber,
    'low-freq-factor': positiveNumber,
    'high-freq-factor': positiveNumber,
    'original-max-position-embeddings': positiveInt,
  }),
  (scaling, report) => {
    const low = scaling['low-freq-factor'];
    const high = scaling['high-freq-factor'];
    if (typeof low === 'number' && typeof high === 'number' && !(high > low)) {
      report(['high-freq-factor'], `expected a number > low-freq-factor (${low}), found ${high}`);
    }
  },
);

const factorList = list(positiveNumber, 'positive numbers', { nonEmpty: true });

/** `rope-scaling`, keyed by `rope-type` (math: docs/genie-behaviour.md#rope-tables). */
const ropeScalingSchema = z.discriminatedUnion(
  'rope-type',
  [
    strict({ 'rope-type': z.literal('default') }),
    llama3ScalingSchema,
    strict({
      'rope-type': z.literal('longrope'),
      /** Only feeds the attention factor sqrt(1 + ln(factor) / ln(original)); absent = 1. */
      factor: positiveNumber.optional(),
      'short-factor': factorList,
      'long-factor': factorList,
      'original-max-position-embeddings': positiveInt,
    }),
  ],
  {
    error: (issue) => {
      if (issue.code !== 'invalid_union') return expectedFound('an object', issue.input);
      const found = isPlainObject(issue.input) ? issue.input['rope-type'] : undefined;
      const expected = `one of ${ROPE_TYPES.map(quoted).join(', ')}`;
      return expectedFound(expected, found);
    },
  },
);

/** `model.positional-encoding`: the modern form of the legacy QnnHtp `pos-id-dim` / `rope-theta`. */
const positionalEncodingSchema = withRules(
  strict({
    type: oneOf(['rope', 'absolute', 'alibi']),
    /** head_dim / 2: the number of rotary frequencies. */
    'rope-dim': positiveInt.optional(),
    'rope-theta': positiveNumber.optional(),
    'rope-scaling': ropeScalingSchema.optional(),
  }),
  (encoding, report) => {
    const scaling = encoding['rope-scaling'];
    if (!isPlainObject(scaling) || scaling['rope-type'] !== 'longrope') return;
    const ropeDim = typeof encoding['rope-dim'] === 'number' ? encoding['rope-dim'] : DEFAULT_ROPE_DIM;
    for (const key of ['short-factor', 'long-factor']) {
      const factors = scaling[key];
      if (Array.isArray(factors) && factors.length > 0 && factors.length !== ropeDim) {
        report(['rope-scaling', key], `expected ${ropeDim} factors (rope-dim), found ${factors.length}`);
      }
    }
  },
);

/** `engine.model` (docs/genie-behaviour.md#model-block). */
export const modelSchema = withRules(
  versioned({
    type: oneOf(['binary', 'library']),
    binary: binarySchema.optional(),
    library: librarySchema.optional(),
    'positional-encoding': positionalEncodingSchema.optional(),
    /** Vocabulary-trim map of a draft model. */
    'draft-token-map': filePath.optional(),
  }),
  (model, report) => {
    for (const name of ['binary', 'library']) {
      if (model.type === name && model[name] === undefined) report([name], requiredWhen(`type is ${quoted(name)}`));
      if (model.type !== name && model[name] !== undefined && (model.type === 'binary' || model.type === 'library')) {
        report([name], forbiddenWhen(`type is ${quoted(model.type)} (a ${name} object needs type ${quoted(name)})`, model[name]));
      }
    }
  },
);

export type ModelConfig = z.infer<typeof modelSchema>;
export type BinaryModelConfig = z.infer<typeof binarySchema>;
export type LibraryModelConfig = z.infer<typeof librarySchema>;
export type LoraConfig = z.infer<typeof loraSchema>;
export type PositionalEncodingConfig = z.infer<typeof positionalEncodingSchema>;
export type RopeScalingConfig = z.infer<typeof ropeScalingSchema>;
