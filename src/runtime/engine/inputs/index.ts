import { attentionMaskPart } from './attention-mask.js';
import { cacheIndexPart } from './cache-index.js';
import { embeddingRowsPart } from './embedding-rows.js';
import type { InputPartFactory } from './input-part.js';
import { positionIdsPart } from './position-ids.js';
import { ropeCosSinPart } from './rope-cos-sin.js';
import { tokenIdsPart } from './token-ids.js';

export { StepPositionPart, type InputPart, type InputPartContext, type InputPartFactory } from './input-part.js';
export { KvCachePart } from './kv-cache.js';

/**
 * Every input family the engine can feed, in fill order; each factory returns undefined for a model
 * whose graphs do not take that input. A new input kind is one file in this folder and one line here.
 * The KV cache is not listed: the engine owns it by name (it also rewinds, resets and reports it).
 */
export const INPUT_PARTS: readonly InputPartFactory[] = [
  tokenIdsPart,
  embeddingRowsPart,
  attentionMaskPart,
  ropeCosSinPart,
  positionIdsPart,
  cacheIndexPart,
];
