/** Small helpers over Koffi native memory: typed reads at offsets and an arena of owned blocks. */
import koffi from 'koffi';
import { InvalidArgumentError } from '../../errors.js';
import { POINTER_SIZE } from './layout.js';

/** A native address as Koffi 3 hands it over (BigInt), or null for NULL. */
export type NativePointer = bigint;

export function readU32(ptr: NativePointer, offset: number): number {
  return koffi.decode(ptr, offset, 'uint32_t') as number;
}

export function readI32(ptr: NativePointer, offset: number): number {
  return koffi.decode(ptr, offset, 'int32_t') as number;
}

export function readF32(ptr: NativePointer, offset: number): number {
  return koffi.decode(ptr, offset, 'float') as number;
}

/** A uint64 or size_t field as a JS number (exact below 2^53). */
export function readU64(ptr: NativePointer, offset: number): number {
  return Number(koffi.decode(ptr, offset, 'uint64_t') as number | bigint);
}

export function readPointer(ptr: NativePointer, offset: number): NativePointer | null {
  const value = koffi.decode(ptr, offset, 'void *') as bigint | null;
  return value === null || value === 0n ? null : value;
}

/** The NUL-terminated string a `const char *` field points to (copied), or null for NULL. */
export function readCStringAt(ptr: NativePointer, offset: number): string | null {
  const target = readPointer(ptr, offset);
  return target === null ? null : koffi.decode.string(target);
}

export function readU32Array(ptr: NativePointer, count: number): number[] {
  return count === 0 ? [] : Array.from(koffi.decode(ptr, 'uint32_t', count) as ArrayLike<number>);
}

export function writeU32(ptr: NativePointer, offset: number, value: number): void {
  koffi.encode(ptr, offset, 'uint32_t', value);
}

export function writePointer(ptr: NativePointer, offset: number, value: NativePointer | null): void {
  koffi.encode(ptr, offset, 'void *', value);
}

/** Native blocks owned together and freed at once (strings, dims, config lists QNN reads). */
export class NativeArena {
  private readonly blocks: NativePointer[] = [];

  /** `bytes` zeroed bytes. */
  bytes(bytes: number): NativePointer {
    const ptr = koffi.alloc('uint8_t', Math.max(1, bytes)) as NativePointer;
    this.blocks.push(ptr);
    new Uint8Array(koffi.view(ptr, Math.max(1, bytes))).fill(0);
    return ptr;
  }

  /** A NUL-terminated UTF-8 copy of `text`. */
  string(text: string): NativePointer {
    const encoded = new TextEncoder().encode(text);
    const ptr = this.bytes(encoded.length + 1);
    new Uint8Array(koffi.view(ptr, encoded.length + 1)).set(encoded);
    return ptr;
  }

  /** A uint32 array; NULL for an empty list (QNN's convention for rank-0 dims). */
  u32Array(values: readonly number[]): NativePointer | null {
    if (values.length === 0) return null;
    const ptr = this.bytes(4 * values.length);
    koffi.encode(ptr, 'uint32_t', values, values.length);
    return ptr;
  }

  /** A NULL-terminated `const T **` list (QNN config lists). */
  pointerList(pointers: readonly NativePointer[]): NativePointer {
    const ptr = this.bytes(POINTER_SIZE * (pointers.length + 1));
    pointers.forEach((p, i) => writePointer(ptr, i * POINTER_SIZE, p));
    return ptr;
  }

  /** Frees every block; the arena can be reused afterwards. */
  free(): void {
    for (const ptr of this.blocks.splice(0)) koffi.free(ptr);
  }
}

/** A C function Koffi can call synchronously or on its worker pool (`.async(...args, callback)`). */
export type NativeFunction = ((...args: unknown[]) => unknown) & {
  async: (...args: unknown[]) => void;
};

/** Koffi's refusal of an async call past its limit of calls in flight at once (256 with Koffi 3, measured). */
const KOFFI_ASYNC_LIMIT = 'Too many asynchronous calls are running';

/**
 * Calls `fn` (named `what` in errors) on Koffi's worker pool so the JS event loop stays free
 * (backend threads may call back into JS).
 * @throws InvalidArgumentError (as a rejection) when Koffi already runs as many async calls as it can.
 */
export function callAsync(what: string, fn: NativeFunction, ...args: unknown[]): Promise<number | bigint> {
  return new Promise((resolve, reject) => {
    try {
      fn.async(...args, (error: unknown, result: number | bigint) => (error ? reject(error) : resolve(result)));
    } catch (error) {
      if (!(error instanceof Error) || !error.message.includes(KOFFI_ASYNC_LIMIT)) throw error;
      reject(new InvalidArgumentError(`${what}: Koffi's limit of native calls running off the JS thread at once is reached; await some before starting more`, { cause: error }));
    }
  });
}
