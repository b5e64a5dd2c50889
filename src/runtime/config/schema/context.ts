import * as z from 'zod';
import type { PathSegment } from '../../../formats/json.js';
import { leaf, positiveInt, tokenId, versioned, withRules, type RawObject, type Report } from './values.js';

const isTokenId = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;
const isTokenIdOrNone = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= -1;

/** -1 means "none" (no BOS is added; Qwen configs use it because the chat template opens the turn). */
const tokenIdOrNone = leaf<number>('a token id, or -1 for none', (v) => typeof v === 'number', isTokenIdOrNone);

/**
 * Scalar, or the array form Llama 3 configs use: `[128001, 128008, 128009]`. Genie checks only that
 * it is a number or an array.
 */
const eosToken = leaf<number | number[]>(
  'a token id or a non-empty array of token ids',
  (v) => typeof v === 'number' || Array.isArray(v),
  (v) => isTokenId(v) || (Array.isArray(v) && v.length > 0 && v.every(isTokenId)),
);

/**
 * The token ids of a context are ids of its vocabulary: each below `n-vocab`. Genie does not check
 * this; a larger one could never be sampled, or would index past the embedding table, so genie-ts
 * does not run such a config.
 */
function tokenIdsInVocabulary(context: RawObject, report: Report): void {
  const nVocab = context['n-vocab'];
  if (!isTokenId(nVocab) || nVocab === 0) return;
  const check = (path: PathSegment[], id: unknown): void => {
    if (isTokenId(id) && id >= nVocab) report(path, `expected a token id below n-vocab (${nVocab}), found ${id}`, 'unsupported');
  };
  for (const key of ['bos-token', 'eot-token', 'pad-token']) check([key], context[key]);
  const eos = context['eos-token'];
  if (Array.isArray(eos)) eos.forEach((id, i) => check(['eos-token', i], id));
  else check(['eos-token'], eos);
}

/** `context` of a dialog / text-generator / standalone-engine (docs/genie-behaviour.md#context-block). */
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
  }),
  tokenIdsInVocabulary,
);

export type ContextConfig = z.infer<typeof contextSchema>;
