import * as z from 'zod';
import { BACKEND_TYPES } from '../../backend-registry.js';
import {
  bool, filePath, forbiddenWhen, foundKey, hexMask, leaf, nonNegativeInt, oneOf, positiveInt, positiveNumber, quoted, requiredWhen,
  text, versioned, withRules, type RawObject, type Report,
} from './values.js';

/** `engine.backend.type`: the names in the backend registry (runtime/backend-registry.ts). */
export { BACKEND_TYPES, type BackendType } from '../../backend-registry.js';

/** Backend types that carry an object of the same name; the others must carry none. */
const BACKEND_OBJECTS = ['QnnHtp', 'QnnGenAiTransformer'] as const;

const kvDim = leaf<number>('a positive integer, or -1 to deduce it from the past_key tensors', (v) =>
  Number.isInteger(v) && ((v as number) > 0 || v === -1),
);

/** Keys every QnnHtp object accepts; which are mandatory depends on the config root. */
const htpCommonKeys = {
  'data-alignment-size': positiveInt.optional(),
  /** Legacy RoPE keys, exclusive with `model.positional-encoding`. */
  'pos-id-dim': positiveInt.optional(),
  'rope-theta': positiveNumber.optional(),
  'kv-dim': kvDim.optional(),
  /** SHIFT_CONCAT and POINTER_SHIFT are deprecated; Genie warns and uses SMART_MASK / NATIVE_KV. */
  'kv-update-method': oneOf(['SMART_MASK', 'NATIVE_KV', 'SHIFT_CONCAT', 'POINTER_SHIFT']).optional(),
  'allow-async-init': bool.optional(),
  'enable-graph-switching': bool.optional(),
  'graph-switching-lora-policy': oneOf(['lazy', 'eager']).optional(),
  'skip-lora-validation': bool.optional(),
  'shared-engine': bool.optional(),
};

/** The five keys Genie's dialog validator requires in every QnnHtp object. */
const htpMandatoryKeys = {
  'spill-fill-bufsize': nonNegativeInt,
  'mmap-budget': nonNegativeInt,
  'use-mmap': bool,
  'cpu-mask': hexMask,
  poll: bool,
};

const htpEncoderKeys = {
  'pooled-output': bool.optional(),
  'disable-kv-cache': bool.optional(),
};

function htpRules(htp: RawObject, report: Report): void {
  if (htp['graph-switching-lora-policy'] === 'lazy' && htp['enable-graph-switching'] !== true) {
    report(['graph-switching-lora-policy'], `"lazy" needs enable-graph-switching true, found ${foundKey(htp, 'enable-graph-switching')}`);
  }
  if (htp['shared-engine'] === true && htp['allow-async-init'] !== true) {
    report(['shared-engine'], `true needs allow-async-init true, found ${foundKey(htp, 'allow-async-init')}`);
  }
}

/**
 * `backend.QnnHtp` of a dialog / text-generator / standalone engine
 * (docs/genie-behaviour.md#qnnhtp-block).
 */
const htpSchema = withRules(versioned({ ...htpMandatoryKeys, ...htpCommonKeys }), htpRules);
/** The embedding-model root's QnnHtp also controls pooling and the KV cache. */
export const htpEmbeddingModelSchema = withRules(
  versioned({ ...htpMandatoryKeys, ...htpCommonKeys, ...htpEncoderKeys }),
  htpRules,
);
/** The image-encoder node's QnnHtp: Genie's examples set only a few keys, none beyond `version` is mandatory. */
export const htpImageEncoderSchema = withRules(
  versioned({
    'spill-fill-bufsize': nonNegativeInt.optional(),
    'mmap-budget': nonNegativeInt.optional(),
    'use-mmap': bool.optional(),
    'cpu-mask': hexMask.optional(),
    poll: bool.optional(),
    ...htpCommonKeys,
    ...htpEncoderKeys,
  }),
  htpRules,
);

/** `backend.QnnGenAiTransformer`: Qualcomm's CPU backend for a `library` model. */
const genAiTransformerSchema = versioned({
  'use-mmap': bool.optional(),
  'kv-quantization': bool.optional(),
  'n-logits': positiveInt.optional(),
  'n-layer': positiveInt.optional(),
  'n-embd': positiveInt.optional(),
  'n-heads': positiveInt.optional(),
  'n-kv-heads': positiveInt.optional(),
  'model-input': text.optional(),
  'shared-engine': bool.optional(),
});

/** Genie's object-to-type rule: the object named like `type` is mandatory, any other one is an error. */
function backendObjectRule(backend: RawObject, report: Report): void {
  const type = backend.type;
  if (!(BACKEND_TYPES as readonly unknown[]).includes(type)) return;
  for (const name of BACKEND_OBJECTS) {
    if (type === name && backend[name] === undefined) report([name], requiredWhen(`type is ${quoted(type)}`));
    if (type !== name && backend[name] !== undefined) {
      report([name], forbiddenWhen(`type is ${quoted(type)} (a ${name} object needs type ${quoted(name)})`, backend[name]));
    }
  }
}

export function backendSchema<H extends z.ZodType>(htp: H) {
  return withRules(
    versioned({
      type: oneOf(BACKEND_TYPES),
      /**
       * The HTP backend-extension JSON (perf profile, VTCM, ...),
       * docs/genie-behaviour.md#htp-extensions-file.
       */
      extensions: filePath.optional(),
      QnnHtp: htp.optional(),
      QnnGenAiTransformer: genAiTransformerSchema.optional(),
    }),
    backendObjectRule,
  );
}

export const dialogBackendSchema = backendSchema(htpSchema);

export type BackendConfig = z.infer<typeof dialogBackendSchema>;
export type QnnHtpConfig = z.infer<typeof htpSchema>;
export type QnnGenAiTransformerConfig = z.infer<typeof genAiTransformerSchema>;
