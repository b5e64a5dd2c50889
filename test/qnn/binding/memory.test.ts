import { describe, expect, it } from 'vitest';
import koffi from 'koffi';
import { ForeignBufferError, NativeBufferPool, type SharedMemoryAllocator } from '../../../src/qnn/binding/index.js';
import { detachNativeView } from '../../../src/qnn/binding/memory.js';
import { InvalidArgumentError } from '../../../src/errors.js';

/**
 * A shared-memory allocator over the native heap that records what a device's rpcmem would see:
 * live blocks, frees of pointers that are not live (a double free corrupts a device's heap), and
 * whether every view of a block was already empty when it was freed.
 */
function fakeRpcmem() {
  const live = new Map<bigint, ArrayBuffer>();
  const record = { live, frees: 0, strayFrees: 0, freedUnderAView: 0 };
  const shared: SharedMemoryAllocator = {
    name: 'fake-rpcmem',
    alloc: (n) => {
      const ptr = koffi.alloc('uint8_t', n) as bigint;
      live.set(ptr, koffi.view(ptr, n) as ArrayBuffer);
      return ptr;
    },
    free: (ptr) => {
      record.frees++;
      if (!live.has(ptr)) {
        record.strayFrees++;
        return;
      }
      live.delete(ptr);
      koffi.free(ptr);
    },
    fd: () => 42,
  };
  return { shared, record };
}

/** Reads `n` bytes at a native address (not through any view the pool handed out). */
const bytesAt = (address: bigint, n: number): number[] => koffi.decode(address, koffi.array('uint8_t', n, 'Array')) as number[];

describe('NativeBufferPool', () => {
  it('hands out zeroed native memory whose views map to base + byteOffset', () => {
    const pool = new NativeBufferPool(null);
    const buffer = pool.allocate(64);
    expect(buffer.byteLength).toBe(64);
    expect(buffer.every((b) => b === 0)).toBe(true);
    const whole = pool.locate(buffer, 'x');
    const view = buffer.subarray(16, 32);
    const part = pool.locate(view, 'x');
    expect(part.address).toBe(whole.address + 16n);
    expect(part.offset).toBe(16);
    expect(part.allocation).toBe(whole.allocation);
    // The address really is where the view's bytes live.
    view[0] = 0xab;
    expect(koffi.decode(part.address, 'uint8_t')).toBe(0xab);
    expect(pool.allocate(0).byteLength).toBe(0);
    pool.dispose();
  });

  it('detaches native heap blocks on dispose: views handed out become empty instead of pointing at freed memory', () => {
    const pool = new NativeBufferPool(null);
    const buffer = pool.allocate(1 << 20);
    const view = buffer.subarray(16, 32);
    const words = new Float64Array(buffer.buffer, 8, 4);
    buffer.fill(7);
    pool.dispose();
    // Only lengths are read here: before the detach these views covered freed native memory.
    expect([buffer.byteLength, view.byteLength, words.length, buffer.buffer.byteLength]).toEqual([0, 0, 0, 0]);
    expect(buffer[0]).toBeUndefined();
    expect(() => buffer.fill(1)).toThrow(TypeError);
    expect(() => pool.locate(buffer, 'x')).toThrow(ForeignBufferError);
    expect(pool.retainedBlocks).toBe(0);
    pool.dispose(); // idempotent
  });

  it('raw client buffers are native: a caller transferring a view\'s ArrayBuffer copies it, the block QNN has the address of stays', () => {
    const pool = new NativeBufferPool(null);
    const buffer = pool.allocate(64);
    const { address } = pool.locate(buffer, 'x');
    buffer.fill(9);
    // A JS-owned block would move to the clone here, and be freed under QNN when the clone is collected.
    const clone = structuredClone(buffer.buffer, { transfer: [buffer.buffer as ArrayBuffer] });
    expect(clone.byteLength).toBe(64);
    expect(buffer.byteLength).toBe(64);
    buffer[0] = 5;
    expect(bytesAt(address, 2)).toEqual([5, 9]);
    expect(pool.locate(buffer, 'x').address).toBe(address);
    pool.dispose();
  });

  it('rejects memory it did not allocate, and bad sizes, and stays usable', () => {
    const pool = new NativeBufferPool(null);
    expect(() => pool.locate(new Uint8Array(8), 'bind "g": buffer for tensor "t"')).toThrow(ForeignBufferError);
    expect(() => pool.locate(new Uint8Array(8), 'bind "g": buffer for tensor "t"')).toThrow(
      'bind "g": buffer for tensor "t" is not memory from this backend\'s allocate(); allocate IO buffers with allocate()',
    );
    expect(new ForeignBufferError('x')).toBeInstanceOf(InvalidArgumentError);
    expect(() => pool.allocate(-1)).toThrow(InvalidArgumentError);
    expect(() => pool.allocate(1.5)).toThrow('allocate: byteLength 1.5 is not a non-negative integer');
    expect(pool.locate(pool.allocate(4), 'y').offset).toBe(0);
    pool.dispose();
  });

  it('allocates from a shared-memory allocator, records its fd, and on dispose detaches every block then frees it exactly once', () => {
    const { shared, record } = fakeRpcmem();
    const pool = new NativeBufferPool(shared);
    const a = pool.allocate(32);
    const b = pool.allocate(4 << 20);
    const kept = b.subarray(100, 200);
    expect(record.live.size).toBe(2);
    expect(pool.locate(a.subarray(8), 'a').allocation).toMatchObject({ fd: 42, byteLength: 32 });
    b.fill(0xa5);
    pool.dispose();
    expect(record).toMatchObject({ frees: 2, strayFrees: 0 });
    expect(record.live.size).toBe(0);
    expect([a.byteLength, b.byteLength, kept.byteLength, kept[0]]).toEqual([0, 0, 0, undefined]);
    expect(() => kept.fill(1)).toThrow(TypeError);
    pool.dispose();
    pool.dispose();
    expect(record).toMatchObject({ frees: 2, strayFrees: 0 });
  });

  it('frees a shared block only once its views are empty', () => {
    const { shared, record } = fakeRpcmem();
    const views = new Map<bigint, Uint8Array>();
    const emptyAtFree: boolean[] = [];
    const pool = new NativeBufferPool({ ...shared, free: (ptr) => (emptyAtFree.push(views.get(ptr)!.byteLength === 0), shared.free(ptr)) });
    for (const n of [16, 1 << 20, 0]) {
      const view = pool.allocate(n);
      views.set(pool.locate(view, 'v').allocation.base, view.subarray(0, Math.min(n, 4)));
    }
    pool.dispose();
    expect(emptyAtFree).toEqual([true, true, true]);
    expect(record).toMatchObject({ frees: 3, strayFrees: 0 });
  });

  it('keeps a block allocated, readable with its last bytes, when its ArrayBuffer cannot be detached', () => {
    const { shared, record } = fakeRpcmem();
    const pool = new NativeBufferPool(shared, () => false);
    const view = pool.allocate(1 << 20);
    view.fill(0x3c);
    pool.dispose();
    pool.dispose();
    expect(pool.retainedBlocks).toBe(1);
    expect(record).toMatchObject({ frees: 0, strayFrees: 0 });
    expect([view.byteLength, view[0], view[(1 << 20) - 1]]).toEqual([1 << 20, 0x3c, 0x3c]);
    for (const ptr of [...record.live.keys()]) shared.free(ptr);
  });

  it('keeps a block allocated when the caller moved its memory to another ArrayBuffer (a BYOB read into the view) before dispose', async () => {
    const { shared, record } = fakeRpcmem();
    const pool = new NativeBufferPool(shared);
    const moved = pool.allocate(4096);
    const other = pool.allocate(64);
    const stream = new ReadableStream({
      type: 'bytes',
      pull(controller) {
        (controller.byobRequest!.view as Uint8Array).set([1, 2, 3]);
        controller.byobRequest!.respond(3);
      },
    });
    const { value } = await stream.getReader({ mode: 'byob' }).read(moved);
    const alias = new Uint8Array(value!.buffer);
    expect([moved.byteLength, alias.byteLength]).toEqual([0, 4096]);
    pool.dispose();
    expect(pool.retainedBlocks).toBe(1);
    expect(other.byteLength).toBe(0);
    expect(record).toMatchObject({ frees: 1, strayFrees: 0 });
    // The alias still reads live memory.
    alias[4095] = 8;
    expect([...alias.subarray(0, 4)]).toEqual([1, 2, 3, 0]);
    expect(alias[4095]).toBe(8);
    for (const ptr of [...record.live.keys()]) shared.free(ptr);
  });

  it('refuses a size the native heap cannot serve with a typed error naming it', () => {
    const pool = new NativeBufferPool(null);
    expect(() => pool.allocate(2 ** 52)).toThrow(InvalidArgumentError);
    expect(() => pool.allocate(2 ** 52)).toThrow(`allocate: ${2 ** 52} bytes could not be allocated`);
    expect(pool.allocate(8).byteLength).toBe(8);
    pool.dispose();
  });
});

describe('detachNativeView', () => {
  it('detaches a koffi.view in place: every view becomes empty, the native bytes are untouched (no copy, no free)', () => {
    const ptr = koffi.alloc('uint8_t', 8 << 20) as bigint;
    try {
      const buffer = koffi.view(ptr, 8 << 20) as ArrayBuffer;
      const bytes = new Uint8Array(buffer);
      const floats = new Float32Array(buffer, 1024, 16);
      const data = new DataView(buffer);
      bytes.fill(0x5a, 0, 4);
      // structuredClone does not: Node copies external ArrayBuffers instead of transferring them.
      structuredClone(buffer, { transfer: [buffer] });
      expect(buffer.byteLength).toBe(8 << 20);
      expect(detachNativeView(buffer)).toBe(true);
      expect([buffer.byteLength, bytes.length, floats.length, bytes[0]]).toEqual([0, 0, 0, undefined]);
      expect(() => data.getUint8(0)).toThrow(TypeError);
      expect(bytesAt(ptr, 4)).toEqual([0x5a, 0x5a, 0x5a, 0x5a]);
      expect(detachNativeView(buffer)).toBe(true);
    } finally {
      koffi.free(ptr);
    }
  });

  it('detaches a JS-owned ArrayBuffer too, and reports false for one that cannot be detached (WebAssembly memory)', () => {
    const plain = new ArrayBuffer(16);
    expect(detachNativeView(plain)).toBe(true);
    expect(plain.byteLength).toBe(0);
    // The project's TypeScript libs do not declare WebAssembly; Node has it.
    type WasmMemory = new (descriptor: { initial: number }) => { readonly buffer: ArrayBuffer };
    const Memory = (globalThis as unknown as { WebAssembly: { Memory: WasmMemory } }).WebAssembly.Memory;
    const memory = new Memory({ initial: 1 });
    expect(detachNativeView(memory.buffer)).toBe(false);
    expect(memory.buffer.byteLength).toBe(65536);
  });
});
