/**
 * KV cache (SMART_MASK concat and scatter layouts), attention masks and cache_index for the
 * per-step loop: pure, allocation-free after construction, over caller-owned typed arrays.
 */
export { KvCacheManager, type KvCacheOptions, type KvMode, type KvSlot } from './kv-cache.js';
export { kvClearValue } from './clear-value.js';
export {
  DEFAULT_MASKED_VALUE, advanceAttentionMask, fillAttentionMask, maskValues, type AttentionMaskParams, type MaskValues,
} from './attention-mask.js';
export { fillCacheIndex } from './cache-index.js';
