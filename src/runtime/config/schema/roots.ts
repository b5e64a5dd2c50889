import * as z from 'zod';
import { contextSchema } from './context.js';
import { dialogSchema, textGeneratorSchema } from './dialog.js';
import { embeddingSchema, lutSchema } from './embedding.js';
import { embeddingModelEngineSchema, imageEncoderEngineSchema, standaloneEngineSchema } from './engine.js';
import { samplerSchema } from './sampler.js';
import { tokenizerSchema } from './tokenizer.js';
import {
  anyText, anyValue, bool, list, neededToRun, positiveInt, quoted, requiredWhen, tokenId, versioned, withRules, type RawObject,
  type Report,
} from './values.js';

/** An encoder's context: all five keys are mandatory (Genie's embedding context). */
const encoderContextSchema = versioned({
  'n-vocab': positiveInt,
  'ctx-size': positiveInt,
  'embed-size': positiveInt,
  'pad-token': tokenId,
});

/** Text placed before and after the user's input; Genie reads the first two strings. */
const promptSchema = withRules(
  versioned({ 'prompt-template': list(anyText, 'strings') }),
  (prompt, report) => {
    const template = prompt['prompt-template'];
    if (Array.isArray(template) && template.length !== 2) {
      report(['prompt-template'], `expected 2 strings [before, after], found ${template.length}`, 'unsupported');
    }
  },
);

/**
 * The keys of Genie's embedding config, shared by the `embedding` model root and the encoder nodes
 * (`text-encoder`, `lut-encoder`, `image-encoder`), which Genie checks with the same function
 * (docs/genie-behaviour.md#other-config-roots).
 */
function encoderShape<E extends z.ZodType>(engine: E) {
  return {
    /** Genie takes any string (the SDK's examples: "lut", "basic"). */
    type: anyText.optional(),
    context: encoderContextSchema.optional(),
    tokenizer: tokenizerSchema.optional(),
    prompt: promptSchema.optional(),
    'truncate-input': bool.optional(),
    engine: engine.optional(),
    lut: lutSchema.optional(),
  };
}

/** Genie's embedding config needs context, tokenizer and engine, except for the image and LUT encoder types. */
function embeddingModelRule(root: RawObject, report: Report): void {
  if (root.type === 'image-encoder' || root.type === 'lut-encoder') return;
  const condition = root.type === undefined ? 'type is absent' : `type is ${quoted(root.type)}`;
  for (const key of ['context', 'tokenizer', 'engine']) {
    if (root[key] === undefined) report([key], requiredWhen(`${condition} (only "image-encoder" and "lut-encoder" do without)`));
  }
}

/** The `embedding` root: a text-embedding model such as BGE (genie-t2e-run). */
const embeddingModelSchema = withRules(versioned(encoderShape(embeddingModelEngineSchema)), embeddingModelRule);

/** The `text-encoder` and `lut-encoder` pipeline nodes: text -> embedding rows (a LUT, or an encoder model). */
const textEncoderSchema = versioned(encoderShape(embeddingModelEngineSchema));

/**
 * The `image-encoder` pipeline node: pixels -> embedding rows. Genie sets its type itself and does
 * not require an engine, which genie-ts needs to run it.
 */
const imageEncoderSchema = withRules(versioned({ ...encoderShape(imageEncoderEngineSchema), type: anyValue.optional() }), (root, report) => {
  if (root.engine === undefined) report(['engine'], neededToRun('encode images'), 'unsupported');
});

/** The `standalone-engine` root: an engine to bind into a dialog, e.g. a draft model. */
const standaloneSchema = versioned({
  embedding: embeddingSchema.optional(),
  context: contextSchema,
  engine: standaloneEngineSchema,
});

/** The `profile` root (GenieProfileConfig). */
const profileSchema = versioned({ trace: versioned({ enable: bool }).optional() });

/** Every root Genie 2.40 accepts, by top-level key. */
export const ROOT_SCHEMAS = {
  dialog: dialogSchema,
  'text-generator': textGeneratorSchema,
  'text-encoder': textEncoderSchema,
  'lut-encoder': textEncoderSchema,
  'image-encoder': imageEncoderSchema,
  sampler: samplerSchema,
  embedding: embeddingModelSchema,
  'standalone-engine': standaloneSchema,
  profile: profileSchema,
} as const;

export type RootName = keyof typeof ROOT_SCHEMAS;
export const ROOT_NAMES = Object.keys(ROOT_SCHEMAS) as RootName[];

/**
 * Pipeline node roots: Genie parses their text without its duplicate-key check
 * (docs/genie-behaviour.md#config-general-rules).
 */
export const NODE_ROOTS: readonly RootName[] = ['text-generator', 'text-encoder', 'lut-encoder', 'image-encoder'];

export type TextEncoderConfig = z.infer<typeof textEncoderSchema>;
export type ImageEncoderConfig = z.infer<typeof imageEncoderSchema>;
export type EmbeddingModelConfig = z.infer<typeof embeddingModelSchema>;
export type StandaloneEngineConfig = z.infer<typeof standaloneSchema>;
export type ProfileConfig = z.infer<typeof profileSchema>;
