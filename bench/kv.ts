/**
 * Per-step host work for Qwen2-0.5B (24 layers, 2 KV heads, head_dim 64, CL 4096, uint8 KV, uint16
 * mask and cos/sin) at nValid ~2000: KV update + mask rows + cos/sin gather. The floor is one
 * contiguous copy of the same KV bytes plus one fill of the same mask elements: what a perfect
 * memcpy/memset would cost.
 */
import { heapDeltaBytes, medianUs, type Measurement } from './harness.js';
import { fillAttentionMask, KvCacheManager, kvClearValue, maskValues, type AttentionMaskParams } from '../src/kv/index.js';
import { RopeTable } from '../src/rope/index.js';

const LAYERS = 24;
const KV_HEADS = 2;
const HEAD_DIM = 64;
const CL = 4096;
const N_VALID = 2000;

export async function run(): Promise<Measurement[]> {
  const slots = Array.from({ length: LAYERS }, () => ({
    key: new Uint8Array(KV_HEADS * HEAD_DIM * CL),
    value: new Uint8Array(KV_HEADS * HEAD_DIM * CL),
    heads: KV_HEADS,
    headDim: HEAD_DIM,
  }));
  const cache = new KvCacheManager({
    contextLength: CL, ar: 128, mode: 'concat', clearValue: kvClearValue('UFIXED_POINT_8', { scale: 0.05, offset: -128 }), slots,
  });
  for (let n = 0; n < N_VALID; n += 125) cache.update(n, 125);

  const mask = new Uint16Array(128 * CL);
  const { attend, masked } = maskValues('UFIXED_POINT_16');
  const params: AttentionMaskParams = { ar: 1, cl: CL, nValid: N_VALID, nNew: 1, mode: 'concat', attendValue: attend, maskedValue: masked };

  const ropeEncoding = { scale: 2 / 65535, offset: -32768 };
  const rope = new RopeTable({
    ropeDim: HEAD_DIM / 2, theta: 1e6, contextLength: CL, dtype: 'UFIXED_POINT_16', cosEncoding: ropeEncoding, sinEncoding: ropeEncoding,
  });
  const cos = new Uint16Array(128 * (HEAD_DIM / 2));
  const sin = new Uint16Array(128 * (HEAD_DIM / 2));

  const scratch = new Uint8Array(2 * LAYERS * KV_HEADS * HEAD_DIM * 128 * 2);
  const floor = (ar: number) => {
    const bytes = 2 * LAYERS * KV_HEADS * HEAD_DIM * ar;
    return () => {
      scratch.copyWithin(0, bytes, 2 * bytes);
      mask.fill(masked, 0, ar * CL);
    };
  };
  const step = (ar: number) => () => {
    params.ar = ar;
    params.nNew = ar;
    fillAttentionMask(mask, params);
    rope.gatherRange(N_VALID, ar, ar, cos, sin);
    cache.update(N_VALID, ar);
  };
  const rows: Measurement[] = [];
  const measure = (
    name: string, fn: () => void, floorFn: (() => void) | undefined, target: string | undefined, inner: number, heapIterations: number,
  ) => {
    const us = medianUs(fn, { inner });
    const floorUs = floorFn === undefined ? undefined : medianUs(floorFn, { inner });
    rows.push({
      name, medianUs: us, ratio: floorUs === undefined ? undefined : us / floorUs, target,
      heapDeltaBytes: heapDeltaBytes(fn, heapIterations),
    });
  };

  cache.setVariant(1);
  measure('step: AR-1 decode (KV update 1 + mask 1x4096 + cos/sin), nValid 2000', step(1), floor(1), '<= 50 us', 200, 20_000);
  cache.setVariant(128);
  measure('step: AR-128 chunk (KV update 128 + mask 128x4096 + cos/sin), nValid 2000', step(128), floor(128), '<= 1 ms', 5, 2_000);
  cache.truncate(N_VALID);
  const switchPair = () => {
    cache.setVariant(1);
    cache.setVariant(128);
  };
  measure('kv: variant switch AR-128 -> AR-1 -> AR-128 (2 repacks), nValid 2000', switchPair, undefined, undefined, 2, 100);
  rows.push(...evictRows());
  return rows;
}

/**
 * A sliding window's eviction at Qwen2-0.5B shapes: 128 of 4096 uint8 entries go (the oldest after
 * 4 sinks), so every later entry of every K row and V head moves down. A scatter cache is used so
 * that the 128 freed slots can be taken again without copying (its update only counts them). The
 * floor is one contiguous memmove of the bytes the eviction moves.
 */
function evictRows(): Measurement[] {
  const slots = Array.from({ length: LAYERS }, () => ({
    key: new Uint8Array(KV_HEADS * HEAD_DIM * CL),
    value: new Uint8Array(KV_HEADS * HEAD_DIM * CL),
    heads: KV_HEADS,
    headDim: HEAD_DIM,
  }));
  const cache = new KvCacheManager({ contextLength: CL, ar: 128, mode: 'scatter', clearValue: 128, slots });
  for (let n = 0; n < CL; n += 128) cache.update(n, 128);
  const evicted = Int32Array.from({ length: 128 }, (_, i) => 4 + i);
  const evict = () => {
    cache.evict(evicted);
    cache.update(CL - 128, 128);
  };
  const moved = LAYERS * 2 * KV_HEADS * HEAD_DIM * (CL - 4 - 128);
  const scratch = new Uint8Array(2 * moved);
  const memmove = () => scratch.copyWithin(0, moved / 64, moved / 64 + moved);
  const us = medianUs(evict, { inner: 3 });
  const floorUs = medianUs(memmove, { inner: 3 });
  return [{
    name: `kv: evict 128 of 4096 entries (sliding window after 4 sinks; ${(moved / 2 ** 20).toFixed(1)} MiB moved), uint8, 24 layers`,
    medianUs: us, ratio: us / floorUs, target: '<= 1 ms', heapDeltaBytes: heapDeltaBytes(evict, 200),
  }];
}
