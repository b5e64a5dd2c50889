import * as z from 'zod';
import { isPlainObject } from '../../../formats/json.js';
import { contextSchema } from './context.js';
import { dialogSchema, textGeneratorSchema } from './dialog.js';
import { embeddingSchema, lutSchema } from './embedding.js';
import { embeddingModelEngineSchema, engineSchema, imageEncoderEngineSchema } from './engine.js';
import { samplerSchema } from './sampler.js';
import { tokenizerSchema } from './tokenizer.js';
import { bool, leaf, oneOf, positiveInt, requiredWhen, tokenId, versioned, withRules } from './values.js';

/** The `text-encoder` pipeline node: text -> LUT rows (docs/genie-behaviour.md#other-config-roots). */
const textEncoderSchema = versioned({
  type: oneOf(['lut']),
  lut: lutSchema,
  tokenizer: tokenizerSchema,
});

/** The `image-encoder` pipeline node: pixels -> embedding rows. */
const imageEncoderSchema = versioned({ engine: imageEncoderEngineSchema });

/** The `embedding` root: a text-embedding model such as BGE (genie-t2e-run). */
const embeddingModelSchema = versioned({
  context: versioned({
    'n-vocab': positiveInt,
    'ctx-size': positiveInt,
    'embed-size': positiveInt,
    'pad-token': tokenId.optional(),
  }),
  prompt: versioned({
    /** Text placed before and after the user's input. */
    'prompt-template': leaf<[string, string]>(
      'an array of 2 strings [before, after]',
      (v) => Array.isArray(v) && v.length === 2 && v.every((part) => typeof part === 'string'),
    ).optional(),
  }).optional(),
  tokenizer: tokenizerSchema,
  'truncate-input': bool.optional(),
  engine: embeddingModelEngineSchema,
});

/** The `standalone-engine` root: an engine to bind into a dialog, e.g. a draft model. */
const standaloneEngineSchema = withRules(
  versioned({
    embedding: embeddingSchema.optional(),
    context: contextSchema,
    engine: engineSchema,
  }),
  (root, report) => {
    if (isPlainObject(root.engine) && root.engine.role === undefined) {
      report(['engine', 'role'], requiredWhen('the engine is standalone (it is bound by role)'));
    }
  },
);

/** The `profile` root (GenieProfileConfig). */
const profileSchema = versioned({ trace: versioned({ enable: bool.optional() }).optional() });

/** Every root Genie 2.40 accepts, by top-level key. */
export const ROOT_SCHEMAS = {
  dialog: dialogSchema,
  'text-generator': textGeneratorSchema,
  'text-encoder': textEncoderSchema,
  'image-encoder': imageEncoderSchema,
  sampler: samplerSchema,
  embedding: embeddingModelSchema,
  'standalone-engine': standaloneEngineSchema,
  profile: profileSchema,
} as const;

export type RootName = keyof typeof ROOT_SCHEMAS;
export const ROOT_NAMES = Object.keys(ROOT_SCHEMAS) as RootName[];

export type TextEncoderConfig = z.infer<typeof textEncoderSchema>;
export type ImageEncoderConfig = z.infer<typeof imageEncoderSchema>;
export type EmbeddingModelConfig = z.infer<typeof embeddingModelSchema>;
export type StandaloneEngineConfig = z.infer<typeof standaloneEngineSchema>;
export type ProfileConfig = z.infer<typeof profileSchema>;
