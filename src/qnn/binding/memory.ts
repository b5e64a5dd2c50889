/**
 * The engine's IO buffers, handed to QNN by address. Each buffer is one native block allocated
 * here (rpcmem shared memory, or the native heap for raw client buffers) and reached from JS through
 * a `koffi.view`; its address is stable, so a view's address is `base + byteOffset`. Buffers from
 * anywhere else are rejected.
 *
 * Lifetime (no sequence of public calls may crash the process; native memory is never touched after
 * it is freed): `dispose` first *detaches* each block's ArrayBuffer, so every view handed out has
 * length 0 (reads give undefined, writes are dropped, typed-array methods throw TypeError), and only
 * then frees the block. The detach is `detachNativeView` below: a BYOB read of a byte stream
 * transfers the view's ArrayBuffer (WHATWG Streams, TransferArrayBuffer), which detaches the
 * original in place, synchronously and without copying. `structuredClone`/`postMessage` cannot be
 * used: Node marks external ArrayBuffers untransferable for messaging and silently copies them; V8
 * itself detaches them (napi documents external ArrayBuffers as detachable).
 *
 * Options weighed for rpcmem blocks, which cannot be JS-owned (rpcmem_alloc places them):
 * - (a) defer each `rpcmem_free` to the garbage collection of the block's ArrayBuffer
 *   (FinalizationRegistry), deregistering only at dispose: views would read stale bytes, never freed
 *   memory, but the IO memory (the whole KV cache, hundreds of MiB on a device) would stay allocated
 *   for as long as any view of it lives (the engine's own included) and be returned at a time only
 *   the GC decides; libcdsprpc (or the simulated provider) would have to outlive every session, and
 *   every free would run from a finalizer. Rejected: detaching gives the same safety and frees
 *   deterministically at dispose.
 * - (b) a N-API addon calling `napi_detach_arraybuffer` (it does detach a `koffi.view`): needs a
 *   compiler or prebuilt binaries for every device platform at install time. Rejected: plain JS
 *   reaches the same V8 detach through a standard API.
 * - (c) chosen: detach through the Streams API, then free at dispose. Raw client buffers take the
 *   same path: they used to be JS-owned ArrayBuffers (detachable with `structuredClone`), but then a
 *   caller could transfer one away itself and let the GC free it while QNN still had its address
 *   (a segfault); a `koffi.view` cannot be moved by `structuredClone` (it copies).
 *
 * A block is kept allocated instead of freed, never freed under a view, when its ArrayBuffer cannot
 * be detached (no supported Node; counted by `retainedBlocks`) or was already detached when dispose
 * came: the caller moved its memory to an ArrayBuffer the pool cannot reach (a BYOB read into the
 * view), which may still be read. Such a block lives until the process ends; only the caller's own
 * move causes it.
 */
import koffi from 'koffi';
import type { LibraryHandle } from 'koffi';
import { InvalidArgumentError } from '../../errors.js';
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

/**
 * libcdsprpc, loaded once per process and never unloaded (as the QNN libraries, providers.ts): Koffi
 * unloads a library once its handle is unreachable (functions decoded from its symbols do not hold
 * it), and a block must go back to the `rpcmem_free` of the library that allocated it.
 */
let cdsprpc: { readonly name: string; readonly library: LibraryHandle | null } | undefined;

/** rpcmem from libcdsprpc (Snapdragon devices), or null when the library is not on this system. */
export function loadRpcmem(platform: NodeJS.Platform = process.platform): SharedMemoryAllocator | null {
  const name = platform === 'win32' ? 'libcdsprpc.dll' : 'libcdsprpc.so';
  if (cdsprpc?.name !== name) {
    let library: LibraryHandle | null = null;
    try {
      library = koffi.load(name);
    } catch {
      // Not on this system.
    }
    cdsprpc = { name, library };
  }
  const library = cdsprpc.library;
  if (library === null) return null;
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

const ignore = (): void => undefined;

/**
 * Detaches `buffer`, an ArrayBuffer over native memory (a `koffi.view`), so that every view of it has
 * length 0; true when it is detached afterwards. Nothing is copied and the memory is not freed: the
 * caller frees it once this returned true.
 *
 * How: `ReadableStreamBYOBReader.read(view)` transfers the view's ArrayBuffer before it returns
 * (WHATWG Streams, ReadableByteStreamControllerPullInto: TransferArrayBuffer, which detaches the
 * original); Node does it with V8's in-place detach, handing the same memory to a new ArrayBuffer
 * that only the stream holds. The stream has no source; cancelling it ends that pending read, whose
 * result (no value in Node) the handlers here drop, so the new ArrayBuffer is unreachable.
 */
export function detachNativeView(buffer: ArrayBuffer): boolean {
  if (buffer.byteLength === 0) return true;
  try {
    const reader = new ReadableStream({ type: 'bytes' }).getReader({ mode: 'byob' });
    reader.read(new Uint8Array(buffer)).then(ignore, ignore);
    reader.cancel().then(ignore, ignore);
  } catch {
    // A buffer the runtime cannot transfer: reported by the check below.
  }
  return buffer.byteLength === 0;
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

interface Block extends NativeAllocation {
  /** The `koffi.view` every view handed out is a view of. */
  readonly buffer: ArrayBuffer;
}

export class NativeBufferPool {
  private readonly blocks = new Map<ArrayBufferLike, Block>();
  private retained = 0;

  /**
   * `shared` null: the native heap (raw client buffers). `detach` makes a block's views empty before
   * it is freed (a test double may refuse, to exercise the blocks kept instead).
   */
  constructor(
    readonly shared: SharedMemoryAllocator | null,
    private readonly detach: (buffer: ArrayBuffer) => boolean = detachNativeView,
  ) {}

  /** Blocks dispose kept allocated because their views could not be made empty (see the file comment). */
  get retainedBlocks(): number {
    return this.retained;
  }

  allocate(byteLength: number): Uint8Array {
    if (!Number.isSafeInteger(byteLength) || byteLength < 0) {
      throw new InvalidArgumentError(`allocate: byteLength ${byteLength} is not a non-negative integer`);
    }
    const blockBytes = Math.max(1, byteLength);
    const base = this.shared === null ? heapBlock(blockBytes) : this.shared.alloc(blockBytes);
    let buffer: ArrayBuffer;
    let fd: number | null = null;
    try {
      buffer = koffi.view(base, blockBytes) as ArrayBuffer;
      if (this.shared !== null) fd = this.shared.fd(base);
    } catch (error) {
      this.release(base);
      throw error;
    }
    const view = new Uint8Array(buffer, 0, byteLength);
    view.fill(0);
    this.blocks.set(buffer, { base, byteLength: blockBytes, fd, buffer });
    return view;
  }

  /** The allocation and address of `view`; throws `ForeignBufferError` (naming `what`) for other memory. */
  locate(view: Uint8Array, what: string): BufferLocation {
    const allocation = this.blocks.get(view.buffer);
    if (allocation === undefined) {
      throw new ForeignBufferError(`${what} is not memory from this backend's allocate(); allocate IO buffers with allocate()`);
    }
    return { allocation, address: allocation.base + BigInt(view.byteOffset), offset: view.byteOffset };
  }

  /**
   * Makes every view handed out empty, then frees each block exactly once; idempotent. A block whose
   * ArrayBuffer was detached before (its memory moved to an ArrayBuffer the pool cannot reach) or
   * cannot be detached is kept allocated instead (`retainedBlocks`). Call it once QNN no longer uses
   * the memory (mem handles deregistered, contexts freed).
   */
  dispose(): void {
    const blocks = [...this.blocks.values()];
    this.blocks.clear();
    let failure: unknown = null;
    for (const { base, buffer } of blocks) {
      const movedAway = buffer.byteLength === 0;
      if (movedAway || !this.detach(buffer)) {
        this.retained++;
        continue;
      }
      try {
        this.release(base);
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== null) throw failure;
  }

  private release(base: NativePointer): void {
    if (this.shared === null) koffi.free(base);
    else this.shared.free(base);
  }
}

/** `koffi.alloc` counts elements below 2^31: larger blocks are counted in uint64 words. */
const HEAP_WORD_THRESHOLD = INT32_MAX;

/** A native heap block (raw client buffer); an allocation failure is an `InvalidArgumentError` naming the size. */
function heapBlock(byteLength: number): NativePointer {
  try {
    const words = byteLength > HEAP_WORD_THRESHOLD;
    const pointer = koffi.alloc(words ? 'uint64_t' : 'uint8_t', words ? Math.ceil(byteLength / 8) : byteLength) as NativePointer | null;
    if (pointer === null) throw new RangeError('out of memory');
    return pointer;
  } catch (error) {
    throw new InvalidArgumentError(`allocate: ${byteLength} bytes could not be allocated (${(error as Error).message})`, { cause: error });
  }
}
