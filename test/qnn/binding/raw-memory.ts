/**
 * Native blocks written by raw byte offsets (the documented C layouts, docs/qnn-abi.md), independent of
 * the binding's Koffi declarations, for decoding tests.
 */
import { afterAll } from 'vitest';
import koffi from 'koffi';

const blocks: bigint[] = [];
afterAll(() => {
  for (const ptr of blocks.splice(0)) koffi.free(ptr);
});

export interface RawBlock {
  readonly ptr: bigint;
  readonly view: DataView;
  u32(offset: number, value: number): RawBlock;
  i32(offset: number, value: number): RawBlock;
  f32(offset: number, value: number): RawBlock;
  u64(offset: number, value: number | bigint): RawBlock;
  ptrAt(offset: number, value: bigint | null): RawBlock;
}

/** `bytes` zeroed native bytes, freed after the test file. */
export function rawBlock(bytes: number, fill = 0): RawBlock {
  const ptr = koffi.alloc('uint8_t', bytes) as bigint;
  blocks.push(ptr);
  const view = new DataView(koffi.view(ptr, bytes));
  new Uint8Array(view.buffer).fill(fill);
  const block: RawBlock = {
    ptr,
    view,
    u32: (o, v) => (view.setUint32(o, v, true), block),
    i32: (o, v) => (view.setInt32(o, v, true), block),
    f32: (o, v) => (view.setFloat32(o, v, true), block),
    u64: (o, v) => (view.setBigUint64(o, BigInt(v), true), block),
    ptrAt: (o, v) => (view.setBigUint64(o, v ?? 0n, true), block),
  };
  return block;
}

export function rawString(text: string): bigint {
  const bytes = new TextEncoder().encode(text);
  const block = rawBlock(bytes.length + 1);
  new Uint8Array(block.view.buffer).set(bytes);
  return block.ptr;
}

export function rawU32s(values: readonly number[]): bigint {
  const block = rawBlock(4 * Math.max(1, values.length));
  values.forEach((v, i) => block.u32(4 * i, v));
  return block.ptr;
}
