import * as z from 'zod';
import { BACKEND_TYPES, type BackendType } from '../../backend-registry.js';
import {
  anyValue, bool, filePath, forbiddenWhen, foundKey, hexMask, leaf, nonNegativeInt, oneOf, positiveInt, positiveNumber, quoted,
  requiredWhen, text, versioned, withRules, type RawObject, type Report,
} from './values.js';

/** `engine.backend.type`: the names in the backend registry (runtime/backend-registry.ts). */
export { BACKEND_TYPES, type BackendType } from '../../backend-registry.js';

/** Backend types that carry an object of the same name; the others must carry none. */
const BACKEND_OBJECTS = ['QnnHtp', 'QnnGenAiTransformer'] as const;

/** The types an encoder engine (embedding model, text and image encoder nodes) takes: Genie's there have no QnnGpu. */
const ENCODER_BACKEND_TYPES = BACKEND_TYPES.filter((type) => type !== 'QnnGpu');

const kvDim = leaf<number>(
  'a positive integer, or -1 to deduce it from the past_key tensors',
  (v) => typeof v === 'number',
  (v) => Number.isInteger(v) && ((v as number) > 0 || v === -1),
);

/** The keys of a decoder engine's QnnHtp object (dialog, text-generator, standalone engine). */
const htpDecoderKeys = {
  /** The five keys Genie requires in a decoder engine's QnnHtp object. */
  'spill-fill-bufsize': nonNegativeInt,
  'mmap-budget': nonNegativeInt,
  'use-mmap': bool,
  'cpu-mask': hexMask,
  poll: bool,
  /** Legacy RoPE keys, exclusive with `model.positional-encoding`. */
  'pos-id-dim': positiveInt.optional(),
  'rope-theta': positiveNumber.optional(),
  'kv-dim': kvDim.optional(),
  /**
   * Genie takes any string here; SHIFT_CONCAT and POINTER_SHIFT are deprecated (Genie warns and uses
   * SMART_MASK / NATIVE_KV), another value is not run.
   */
  'kv-update-method': oneOf(['SMART_MASK', 'NATIVE_KV', 'SHIFT_CONCAT', 'POINTER_SHIFT'], { genie: 'string' }).optional(),
  'allow-async-init': bool.optional(),
  'enable-graph-switching': bool.optional(),
  'graph-switching-lora-policy': oneOf(['lazy', 'eager']).optional(),
  'skip-lora-validation': bool.optional(),
  'shared-engine': bool.optional(),
};

function lazyLoraRule(htp: RawObject, report: Report): void {
  if (htp['graph-switching-lora-policy'] === 'lazy' && htp['enable-graph-switching'] !== true) {
    report(['graph-switching-lora-policy'], `"lazy" needs enable-graph-switching true, found ${foundKey(htp, 'enable-graph-switching')}`);
  }
}

/**
 * `backend.QnnHtp` of a dialog / text-generator engine (docs/genie-behaviour.md#qnnhtp-block): the
 * only one with `data-alignment-size` and the shared-engine rule.
 */
const htpDialogSchema = withRules(versioned({ ...htpDecoderKeys, 'data-alignment-size': positiveInt.optional() }), (htp, report) => {
  lazyLoraRule(htp, report);
  if (htp['shared-engine'] === true && htp['allow-async-init'] !== true) {
    report(['shared-engine'], `true needs allow-async-init true, found ${foundKey(htp, 'allow-async-init')}`);
  }
});

/** A standalone engine's QnnHtp: the dialog's keys but `data-alignment-size`, no shared-engine rule. */
const htpStandaloneSchema = withRules(versioned(htpDecoderKeys), lazyLoraRule);

/**
 * An encoder engine's QnnHtp (docs/genie-behaviour.md#qnnhtp-block): its own key set, none of the
 * decoder's thread-pool keys (n-threads, mmap-budget, cpu-mask, poll are no keys of it). Genie types
 * its `data-alignment-size` as a boolean.
 */
const htpEncoderKeys = {
  'spill-fill-bufsize': nonNegativeInt,
  'use-mmap': bool,
  'allow-async-init': bool,
  'data-alignment-size': bool.optional(),
};

/** The `embedding` model root's QnnHtp: pooling is mandatory there. */
export const htpEmbeddingModelSchema = versioned({ ...htpEncoderKeys, 'pooled-output': bool, 'disable-kv-cache': bool.optional() });

/** The image-encoder node's QnnHtp: Genie overwrites pooled-output (false) and disable-kv-cache (true) before it checks. */
export const htpImageEncoderSchema = versioned({ ...htpEncoderKeys, 'pooled-output': anyValue.optional(), 'disable-kv-cache': anyValue.optional() });

const genAiTransformerKeys = {
  'use-mmap': bool.optional(),
  'kv-quantization': bool.optional(),
  'n-logits': positiveInt.optional(),
  'n-layer': positiveInt.optional(),
  'n-embd': positiveInt.optional(),
  'n-heads': positiveInt.optional(),
  'n-kv-heads': positiveInt.optional(),
  'model-input': text.optional(),
  'shared-engine': bool.optional(),
};

/**
 * A dialog's `backend.QnnGenAiTransformer`: Qualcomm's CPU backend for a `library` model. Genie
 * accepts `enable-in-memory-kv-share` here only where it moves it into the dialog's `kv-share`
 * block (the dialog's rule, docs/genie-behaviour.md#decoding-strategy-blocks).
 */
const genAiTransformerDialogSchema = versioned({ ...genAiTransformerKeys, 'enable-in-memory-kv-share': bool.optional() });
const genAiTransformerStandaloneSchema = versioned(genAiTransformerKeys);
/** An encoder engine's QnnGenAiTransformer. */
const genAiTransformerEncoderSchema = versioned({
  'n-logits': positiveInt.optional(),
  'n-layer': positiveInt.optional(),
  'n-embd': positiveInt.optional(),
  'n-heads': positiveInt.optional(),
});

/** Genie's object-to-type rule: the object named like `type` is mandatory, any other one is an error. */
function backendObjectRule(types: readonly BackendType[]) {
  return (backend: RawObject, report: Report): void => {
    const type = backend.type;
    if (!(types as readonly unknown[]).includes(type)) return;
    for (const name of BACKEND_OBJECTS) {
      if (type === name && backend[name] === undefined) report([name], requiredWhen(`type is ${quoted(type)}`));
      if (type !== name && backend[name] !== undefined) {
        report([name], forbiddenWhen(`type is ${quoted(type)} (a ${name} object needs type ${quoted(name)})`, backend[name]));
      }
    }
  };
}

function backendSchema<H extends z.ZodType, G extends z.ZodType>(htp: H, genAi: G, types: readonly BackendType[] = BACKEND_TYPES) {
  return withRules(
    versioned({
      type: oneOf(types),
      /**
       * The HTP backend-extension JSON (perf profile, VTCM, ...),
       * docs/genie-behaviour.md#htp-extensions-file.
       */
      extensions: filePath.optional(),
      QnnHtp: htp.optional(),
      QnnGenAiTransformer: genAi.optional(),
    }),
    backendObjectRule(types),
  );
}

export const dialogBackendSchema = backendSchema(htpDialogSchema, genAiTransformerDialogSchema);
export const standaloneBackendSchema = backendSchema(htpStandaloneSchema, genAiTransformerStandaloneSchema);
export const embeddingModelBackendSchema = backendSchema(htpEmbeddingModelSchema, genAiTransformerEncoderSchema, ENCODER_BACKEND_TYPES);
export const imageEncoderBackendSchema = backendSchema(htpImageEncoderSchema, genAiTransformerEncoderSchema, ENCODER_BACKEND_TYPES);

export type BackendConfig = z.infer<typeof dialogBackendSchema>;
export type QnnHtpConfig = z.infer<typeof htpDialogSchema>;
export type QnnGenAiTransformerConfig = z.infer<typeof genAiTransformerDialogSchema>;
