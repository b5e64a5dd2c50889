/**
 * The engine's IO buffers, handed to QNN by address. Each buffer is one block allocated here whose
 * address is stable, so a view's address is `base + byteOffset`; buffers from anywhere else are
 * rejected.
 *
 * Raw client buffers (no shared memory): the blocks are ordinary JS ArrayBuffers (their backing
 * stores never move; `koffi.address` gives QNN their address), so `dispose` can detach them: every
 * view handed out then has length 0 (reads give undefined, typed-array methods throw TypeError) and
 * can never reach freed memory. Native blocks could not be made so: Node cannot detach a
 * `koffi.view` (it copies external buffers instead of transferring them).
 *
 * Shared memory: with FastRPC's rpcmem (libcdsprpc, on Snapdragon devices) the blocks are shared
 * with the DSP and registered as QNN mem handles (zero-copy, docs/qnn-abi.md#shared-memory). They are
 * native, reached through `koffi.view`s, and freed by `dispose`: their views must not be used after.
 */
import koffi from 'koffi';
import type { LibraryHandle } from 'koffi';
import { InvalidArgumentError } from '../../errors.js';
import { detachArrayBuffer } from '../../tensor/views.js';
import { ForeignBufferError } from './errors.js';
import type { NativeFunction, NativePointer } from './native.js';

/** Memory the DSP can map: rpcmem on a device, or a test double. */
export interface SharedMemoryAllocator {
  readonly name: string;
  /** A block of `byteLength` bytes; throws when the allocation fails. */
  alloc(byteLength: number): NativePointer;
  free(pointer: NativePointer): void;
  /** The file descriptor QNN's SHARED_BUFFER descriptor refers to. */
  fd(pointer: NativePointer): number;
}

/** `RPCMEM_HEAP_ID_SYSTEM` and `RPCMEM_DEFAULT_FLAGS` (docs/qnn-abi.md#rpcmem). */
const RPCMEM_HEAP_ID_SYSTEM = 25;
const RPCMEM_DEFAULT_FLAGS = 1;
const INT32_MAX = 0x7fffffff;

const RpcmemAlloc = koffi.proto(null, 'void *', ['int', 'uint32_t', 'int']);
const RpcmemAlloc2 = koffi.proto(null, 'void *', ['int', 'uint32_t', 'size_t']);
const RpcmemFree = koffi.proto(null, 'void', ['void *']);
const RpcmemToFd = koffi.proto(null, 'int', ['void *']);

/** Native function pointers of FastRPC's rpcmem API (`rpcmem_alloc2` is absent from older FastRPC). */
export interface RpcmemFunctions {
  readonly alloc: unknown;
  readonly alloc2?: unknown;
  readonly free: unknown;
  readonly toFd: unknown;
}

/** A shared-memory allocator over rpcmem: heap SYSTEM (25), default (cached) flags, as Genie allocates. */
export function rpcmemAllocator(functions: RpcmemFunctions): SharedMemoryAllocator {
  const alloc = koffi.decode(functions.alloc, RpcmemAlloc) as NativeFunction;
  const alloc2 = functions.alloc2 === undefined ? null : (koffi.decode(functions.alloc2, RpcmemAlloc2) as NativeFunction);
  const free = koffi.decode(functions.free, RpcmemFree) as NativeFunction;
  const toFd = koffi.decode(functions.toFd, RpcmemToFd) as NativeFunction;
  return {
    name: 'rpcmem',
    alloc(byteLength) {
      const big = byteLength > INT32_MAX;
      if (big && alloc2 === null) {
        throw new InvalidArgumentError(`allocate: byteLength ${byteLength} exceeds rpcmem_alloc's 2 GB limit and rpcmem_alloc2 is missing`);
      }
      const ptr = (big ? alloc2! : alloc)(RPCMEM_HEAP_ID_SYSTEM, RPCMEM_DEFAULT_FLAGS, byteLength) as NativePointer | null;
      if (ptr === null) throw new InvalidArgumentError(`allocate: rpcmem_alloc of ${byteLength} bytes failed`);
      return ptr;
    },
    free: (pointer) => void free(pointer),
    fd: (pointer) => toFd(pointer) as number,
  };
}

/** rpcmem from libcdsprpc (Snapdragon devices), or null when the library is not on this system. */
export function loadRpcmem(platform: NodeJS.Platform = process.platform): SharedMemoryAllocator | null {
  let library: LibraryHandle;
  try {
    library = koffi.load(platform === 'win32' ? 'libcdsprpc.dll' : 'libcdsprpc.so');
  } catch {
    return null;
  }
  const symbol = (name: string): unknown => {
    try {
      return library.symbol(name);
    } catch {
      return undefined;
    }
  };
  const [alloc, alloc2, free, toFd] = ['rpcmem_alloc', 'rpcmem_alloc2', 'rpcmem_free', 'rpcmem_to_fd'].map(symbol);
  if (alloc === undefined || free === undefined || toFd === undefined) return null;
  return rpcmemAllocator({ alloc, alloc2, free, toFd });
}

/** One block handed out by `allocate`. */
export interface NativeAllocation {
  readonly base: NativePointer;
  readonly byteLength: number;
  /** The shared-memory file descriptor, for blocks from a `SharedMemoryAllocator`. */
  readonly fd: number | null;
}

/** Where a view handed to `bind` lives. */
export interface BufferLocation {
  readonly allocation: NativeAllocation;
  readonly address: NativePointer;
  /** Byte offset of the view in its allocation. */
  readonly offset: number;
}

export class NativeBufferPool {
  private readonly allocations = new Map<ArrayBufferLike, NativeAllocation>();

  /** `shared` null: plain native heap (raw client buffers). */
  constructor(readonly shared: SharedMemoryAllocator | null) {}

  allocate(byteLength: number): Uint8Array {
    if (!Number.isSafeInteger(byteLength) || byteLength < 0) {
      throw new InvalidArgumentError(`allocate: byteLength ${byteLength} is not a non-negative integer`);
    }
    const blockBytes = Math.max(1, byteLength);
    if (this.shared === null) {
      const block = heapBlock(blockBytes);
      this.allocations.set(block, { base: koffi.address(block) as NativePointer, byteLength: blockBytes, fd: null });
      return new Uint8Array(block, 0, byteLength);
    }
    const base = this.shared.alloc(blockBytes);
    const view = new Uint8Array(koffi.view(base, blockBytes), 0, byteLength);
    view.fill(0);
    this.allocations.set(view.buffer, { base, byteLength: blockBytes, fd: this.shared.fd(base) });
    return view;
  }

  /** The allocation and address of `view`; throws `ForeignBufferError` (naming `what`) for other memory. */
  locate(view: Uint8Array, what: string): BufferLocation {
    const allocation = this.allocations.get(view.buffer);
    if (allocation === undefined) {
      throw new ForeignBufferError(`${what} is not memory from this backend's allocate(); allocate IO buffers with allocate()`);
    }
    return { allocation, address: allocation.base + BigInt(view.byteOffset), offset: view.byteOffset };
  }

  /** Releases every block: heap blocks are detached (their views become empty), shared ones freed. */
  dispose(): void {
    for (const [block, { base }] of this.allocations) {
      if (this.shared === null) detachArrayBuffer(block as ArrayBuffer);
      else this.shared.free(base);
    }
    this.allocations.clear();
  }
}

/** A zeroed JS-owned block; an allocation failure is an `InvalidArgumentError` naming the size. */
function heapBlock(byteLength: number): ArrayBuffer {
  try {
    return new ArrayBuffer(byteLength);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new InvalidArgumentError(`allocate: ${byteLength} bytes could not be allocated (${error.message})`, { cause: error });
  }
}
