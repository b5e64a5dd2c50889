import * as z from 'zod';
import type { PathSegment } from '../../../formats/json.js';
import { integerInRange, leaf, positiveInt, tokenId, versioned, withRules, type RawObject, type Report } from './values.js';

const isTokenId = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

/** -1 means "none" (no BOS is added; Qwen configs use it because the chat template opens the turn). */
const tokenIdOrNone = integerInRange(-1, Number.MAX_SAFE_INTEGER, 'a token id, or -1 for none');

/** Scalar, or the array form Llama 3 configs use: `[128001, 128008, 128009]`. */
const eosToken = leaf<number | number[]>(
  'a token id or a non-empty array of token ids',
  (v) => isTokenId(v) || (Array.isArray(v) && v.length > 0 && v.every(isTokenId)),
);

/**
 * The token ids of a context are ids of its vocabulary: each below `n-vocab` (genie-ts's check; a
 * larger one could never be sampled, or would index past the embedding table).
 */
function tokenIdsInVocabulary(context: RawObject, report: Report): void {
  const nVocab = context['n-vocab'];
  if (!isTokenId(nVocab) || nVocab === 0) return;
  const check = (path: PathSegment[], id: unknown): void => {
    if (isTokenId(id) && id >= nVocab) report(path, `expected a token id below n-vocab (${nVocab}), found ${id}`);
  };
  for (const key of ['bos-token', 'eot-token', 'pad-token']) check([key], context[key]);
  const eos = context['eos-token'];
  if (Array.isArray(eos)) eos.forEach((id, i) => check(['eos-token', i], id));
  else check(['eos-token'], eos);
}

/** `dialog.context` (docs/genie-behaviour.md#context-block). */
export const contextSchema = withRules(
  versioned({
    size: positiveInt,
    'n-vocab': positiveInt,
    'bos-token': tokenIdOrNone,
    'eos-token': eosToken,
    'eot-token': tokenIdOrNone.optional(),
    'pad-token': tokenId.optional(),
    'draft-n-vocab': positiveInt.optional(),
    'n-embd': positiveInt.optional(),
    'embedding-length': positiveInt.optional(),
  }),
  tokenIdsInVocabulary,
);

export type ContextConfig = z.infer<typeof contextSchema>;
