import { describe, expect, it } from 'vitest';
import koffi from 'koffi';
import { ForeignBufferError, NativeBufferPool, type SharedMemoryAllocator } from '../../../src/qnn/binding/index.js';
import { InvalidArgumentError } from '../../../src/errors.js';

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

  it('detaches heap blocks on dispose: views handed out become empty instead of pointing at freed memory', () => {
    const pool = new NativeBufferPool(null);
    const buffer = pool.allocate(1 << 20);
    const view = buffer.subarray(16, 32);
    buffer.fill(7);
    pool.dispose();
    // Only lengths are read here: before the fix these views still covered freed native memory.
    expect([buffer.byteLength, view.byteLength, buffer.buffer.byteLength]).toEqual([0, 0, 0]);
    expect(() => buffer.fill(1)).toThrow(TypeError);
    expect(() => pool.locate(buffer, 'x')).toThrow(ForeignBufferError);
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

  it('allocates from a shared-memory allocator, records its fd and frees through it', () => {
    const live = new Set<bigint>();
    const shared: SharedMemoryAllocator = {
      name: 'fake-rpcmem',
      alloc: (n) => {
        const ptr = koffi.alloc('uint8_t', n) as bigint;
        live.add(ptr);
        return ptr;
      },
      free: (ptr) => {
        live.delete(ptr);
        koffi.free(ptr);
      },
      fd: () => 42,
    };
    const pool = new NativeBufferPool(shared);
    const a = pool.allocate(32);
    pool.allocate(8);
    expect(live.size).toBe(2);
    expect(pool.locate(a.subarray(8), 'a').allocation).toMatchObject({ fd: 42, byteLength: 32 });
    pool.dispose();
    expect(live.size).toBe(0);
  });
});
