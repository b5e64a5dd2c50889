import * as z from 'zod';
import { integerInRange, leaf, positiveInt, tokenId, versioned } from './values.js';

const isTokenId = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0;

/** -1 means "none" (no BOS is added; Qwen configs use it because the chat template opens the turn). */
const tokenIdOrNone = integerInRange(-1, Number.MAX_SAFE_INTEGER, 'a token id, or -1 for none');

/** Scalar, or the array form Llama 3 configs use: `[128001, 128008, 128009]`. */
const eosToken = leaf<number | number[]>(
  'a token id or a non-empty array of token ids',
  (v) => isTokenId(v) || (Array.isArray(v) && v.length > 0 && v.every(isTokenId)),
);

/** `dialog.context` (docs/genie-behaviour.md#context-block). */
export const contextSchema = versioned({
  size: positiveInt,
  'n-vocab': positiveInt,
  'bos-token': tokenIdOrNone,
  'eos-token': eosToken,
  'eot-token': tokenIdOrNone.optional(),
  'pad-token': tokenId.optional(),
  'draft-n-vocab': positiveInt.optional(),
  'n-embd': positiveInt.optional(),
  'embedding-length': positiveInt.optional(),
});

export type ContextConfig = z.infer<typeof contextSchema>;
