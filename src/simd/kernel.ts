/**
 * WebAssembly SIMD kernels: the few loops over whole tensors where JavaScript stays several times
 * slower than the machine (16-byte vectors, no bounds checks, no deoptimisation). Each module owns
 * its linear memory; a caller copies its operands in (a memcpy), runs the kernel on byte offsets and
 * reads the result back. One instance per module and thread, made on first use: kernels run
 * synchronously, so the callers of one thread never overlap in its memory.
 */
import { NotSupportedError } from '../errors.js';

/** A module's linear memory: the part of `WebAssembly.Memory` the kernels use. */
export interface KernelMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

/** The exports every kernel module has: its memory. */
export interface KernelExports {
  readonly memory: KernelMemory;
}

// The WebAssembly API of the JavaScript engine, as far as used here (lib ES2022 and @types/node@20 do
// not declare it).
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { readonly exports: object };
};

const PAGE_BYTES = 65536;

/**
 * A kernel module's instance with views over its memory that follow its growth: `reserve` before
 * writing operands, then take views from `u8`/`u16`/`i32`/`f32` (the same objects until the memory grows).
 */
export class Kernel<E extends KernelExports> {
  readonly exports: E;
  private viewBuffer: ArrayBuffer | null = null;
  private u8View = new Uint8Array(0);
  private u16View = new Uint16Array(0);
  private i32View = new Int32Array(0);
  private f32View = new Float32Array(0);

  constructor(exports: E) {
    this.exports = exports;
  }

  /** Grows the memory to at least `bytes` (never shrinks); views are re-made after a growth. */
  reserve(bytes: number): void {
    const memory = this.exports.memory;
    const missing = bytes - memory.buffer.byteLength;
    if (missing > 0) memory.grow(Math.ceil(missing / PAGE_BYTES));
  }

  get u8(): Uint8Array {
    this.refresh();
    return this.u8View;
  }

  get u16(): Uint16Array {
    this.refresh();
    return this.u16View;
  }

  get i32(): Int32Array {
    this.refresh();
    return this.i32View;
  }

  get f32(): Float32Array {
    this.refresh();
    return this.f32View;
  }

  private refresh(): void {
    const buffer = this.exports.memory.buffer;
    if (buffer === this.viewBuffer) return;
    this.viewBuffer = buffer;
    this.u8View = new Uint8Array(buffer);
    this.u16View = new Uint16Array(buffer);
    this.i32View = new Int32Array(buffer);
    this.f32View = new Float32Array(buffer);
  }
}

/**
 * A lazily made kernel: `get()` compiles and instantiates the module on first use (base64 from a
 * generated `*.wasm.ts`), then returns the same instance.
 */
export function lazyKernel<E extends KernelExports>(name: string, base64: string): { get(): Kernel<E> } {
  let kernel: Kernel<E> | null = null;
  return {
    get(): Kernel<E> {
      if (kernel === null) kernel = new Kernel(instantiate(name, base64) as E);
      return kernel;
    },
  };
}

function instantiate(name: string, base64: string): object {
  if (typeof WebAssembly !== 'object') throw new NotSupportedError(`kernel "${name}": this JavaScript engine has no WebAssembly`);
  try {
    return new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(base64, 'base64'))).exports;
  } catch (error) {
    // An engine without SIMD (Node < 16.4) rejects the module: the kernels have no scalar twin.
    throw new NotSupportedError(`kernel "${name}": this JavaScript engine rejects its WebAssembly SIMD module (${(error as Error).message})`, { cause: error });
  }
}
