/**
 * Matrix products `out[r, o] = bias[o] + sum_i weight[o, i] * x[r, i]` in WebAssembly SIMD
 * (src/simd/wat/linear.wat: float32 lanes, register tiles of 4 rows x 4 outputs, every output one
 * sum in a fixed order whatever the tiling or the split of outputs between threads).
 *
 * The module imports its memory: a `LinearMemory` is one shared `WebAssembly.Memory` (up to wasm32's
 * 4 GiB) with a bump allocator and the module instantiated on it. Operands allocated there are used
 * in place, which is what decode needs (a memory-bound pass over the weights: a copy would double its
 * traffic), and worker threads instantiate the same module on the same memory (`linearModule`) to
 * share a product's outputs. `linear` takes operands anywhere: it copies them through a per-thread
 * staging memory, the weights a tile of rows at a time.
 */
import { InvalidArgumentError, NotSupportedError } from '../errors.js';
import { linearWasm } from './linear.wasm.js';

/** The exports of linear.wat: byte offsets in the imported memory; `bias` 0 means none. */
export interface LinearExports {
  linear(x: number, rows: number, inDim: number, weight: number, bias: number, outDim: number, out: number, oStart: number, oEnd: number): void;
  vecmat4(a0: number, a1: number, a2: number, a3: number, m: number, rows: number, cols: number, stride: number, y0: number, y1: number, y2: number, y3: number, accumulate: number): void;
}

/** The shared memory a `LinearMemory` allocates in (also handed to worker threads). */
export interface SharedKernelMemory {
  readonly buffer: SharedArrayBuffer;
  grow(pages: number): number;
}

// The WebAssembly API of the JavaScript engine, as far as used here (lib ES2022 and @types/node@20 do
// not declare it).
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: object };
  Memory: new (descriptor: { initial: number; maximum: number; shared: true }) => SharedKernelMemory;
};

const PAGE_BYTES = 65536;
/** wasm32's whole address space, the most a memory can hold. */
const MAX_PAGES = 65536;
/** Bytes below this offset are never handed out: offset 0 stands for "no bias". */
const RESERVED_BYTES = 16;
/** Weight rows copied per tile by `linear` when the weights are outside kernel memory: L2-sized. */
const STAGED_TILE_BYTES = 1 << 20;

let compiled: object | null = null;

/** The compiled linear.wat module (compiled once per thread; a `WebAssembly.Module` can be sent to workers). */
export function linearModule(): object {
  if (compiled !== null) return compiled;
  if (typeof WebAssembly !== 'object') throw new NotSupportedError('kernel "linear": this JavaScript engine has no WebAssembly');
  try {
    compiled = new WebAssembly.Module(Buffer.from(linearWasm, 'base64'));
  } catch (error) {
    // An engine without SIMD or threads (shared memories) rejects the module: there is no scalar twin.
    throw new NotSupportedError(`kernel "linear": this JavaScript engine rejects its WebAssembly SIMD module (${(error as Error).message})`, { cause: error });
  }
  return compiled;
}

/** Throws unless the arrays hold the operands of a `rows x inDim` by `[outDim, inDim]` product. */
function checkOperands(x: Float32Array, rows: number, inDim: number, weight: Float32Array, bias: Float32Array | null, outDim: number, out: Float32Array): void {
  checkLength('x', x, rows * inDim, rows, inDim, outDim);
  checkLength('weight', weight, outDim * inDim, rows, inDim, outDim);
  if (bias !== null) checkLength('bias', bias, outDim, rows, inDim, outDim);
  checkLength('out', out, rows * outDim, rows, inDim, outDim);
}

function checkLength(name: string, array: Float32Array, needed: number, rows: number, inDim: number, outDim: number): void {
  if (array.length < needed) throw new InvalidArgumentError(`linear ${rows}x${inDim} by ${outDim}x${inDim}: ${name} holds ${array.length} values, needs ${needed}`);
}

/** One shared WebAssembly memory for the operands of matrix products, with the product kernel on it. */
export class LinearMemory {
  readonly memory: SharedKernelMemory;
  private readonly kernel: LinearExports;
  /** Every `memory.buffer` handed out (a growth makes a new one): the views that lie in this memory. */
  private readonly buffers = new WeakSet<ArrayBufferLike>();
  private top = RESERVED_BYTES;
  private view: Float32Array = new Float32Array(0);

  constructor() {
    const module = linearModule();
    this.memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
    this.kernel = new WebAssembly.Instance(module, { env: { memory: this.memory } }).exports as LinearExports;
  }

  /**
   * `length` floats in this memory (16-byte aligned, zero unless `reset` recycled them), or null when
   * they would pass 4 GiB or the memory cannot grow.
   */
  allocate(length: number): Float32Array | null {
    const start = this.top;
    const end = start + Math.ceil((length * 4) / 16) * 16;
    if (end > MAX_PAGES * PAGE_BYTES) return null;
    const missing = end - this.memory.buffer.byteLength;
    if (missing > 0) {
      try {
        this.memory.grow(Math.ceil(missing / PAGE_BYTES));
      } catch (error) {
        if (error instanceof RangeError) return null;
        throw error;
      }
    }
    const buffer = this.memory.buffer;
    this.buffers.add(buffer);
    this.top = end;
    return new Float32Array(buffer, start, length);
  }

  /** `allocate` holding a copy of `array`'s first `length` values (throws when the memory is full). */
  stage(array: Float32Array, length: number): Float32Array {
    const copy = this.allocate(length);
    if (copy === null) throw new NotSupportedError(`${length} float32 values do not fit in a WebAssembly memory`);
    copy.set(array.subarray(0, length));
    return copy;
  }

  /** The kernel's exports (byte offsets into this memory). */
  get exports(): LinearExports {
    return this.kernel;
  }

  /** A view of the whole memory (re-made after a growth). */
  get f32(): Float32Array {
    const buffer = this.memory.buffer;
    if (this.view.buffer !== buffer) this.view = new Float32Array(buffer);
    return this.view;
  }

  /** Makes every byte allocatable again: arrays allocated before alias later ones. */
  reset(): void {
    this.top = RESERVED_BYTES;
  }

  /** Whether `array` lies in this memory. */
  holds(array: Float32Array): boolean {
    return this.buffers.has(array.buffer);
  }

  /** Whether every operand of a product lies in this memory (`bias` null: none). */
  holdsAll(x: Float32Array, weight: Float32Array, bias: Float32Array | null, out: Float32Array): boolean {
    return this.holds(x) && this.holds(weight) && (bias === null || this.holds(bias)) && this.holds(out);
  }

  /** Outputs [oStart, oEnd) of the product; every operand must lie in this memory. */
  linearRange(x: Float32Array, rows: number, inDim: number, weight: Float32Array, bias: Float32Array | null, outDim: number, out: Float32Array, oStart: number, oEnd: number): void {
    checkOperands(x, rows, inDim, weight, bias, outDim, out);
    if (!this.holdsAll(x, weight, bias, out)) throw new InvalidArgumentError('linearRange: an operand lies outside this LinearMemory');
    if (!(0 <= oStart && oStart <= oEnd && oEnd <= outDim)) throw new InvalidArgumentError(`linearRange: outputs [${oStart}, ${oEnd}) are not within [0, ${outDim})`);
    this.kernel.linear(x.byteOffset, rows, inDim, weight.byteOffset, bias === null ? 0 : bias.byteOffset, outDim, out.byteOffset, oStart, oEnd);
  }
}

let staging: LinearMemory | null = null;

/**
 * This thread's staging memory, for kernels whose operands lie elsewhere (`linear`, the Reference
 * executor's attention): each use `reset`s it first; it keeps the size of the largest use.
 */
export function stagingMemory(): LinearMemory {
  return (staging ??= new LinearMemory());
}

/**
 * The product of operands anywhere: `x` and a tile of weight rows at a time copied into this thread's
 * staging memory, each tile's outputs copied back. The results equal `LinearMemory.linearRange`'s.
 */
export function linear(x: Float32Array, rows: number, inDim: number, weight: Float32Array, bias: Float32Array | null, outDim: number, out: Float32Array): void {
  checkOperands(x, rows, inDim, weight, bias, outDim, out);
  const memory = stagingMemory();
  memory.reset();
  const tile = Math.min(outDim, Math.max(4, Math.floor(STAGED_TILE_BYTES / 4 / Math.max(1, inDim)) & ~3));
  const xs = memory.allocate(rows * inDim);
  const ws = memory.allocate(tile * inDim);
  const bs = bias === null ? null : memory.allocate(tile);
  const os = memory.allocate(rows * tile);
  if (xs === null || ws === null || os === null || (bias !== null && bs === null)) {
    throw new NotSupportedError(`linear ${rows}x${inDim} by ${outDim}x${inDim}: its operands do not fit in a WebAssembly memory`);
  }
  xs.set(x.subarray(0, rows * inDim));
  for (let o = 0; o < outDim; o += tile) {
    const n = Math.min(tile, outDim - o);
    ws.set(weight.subarray(o * inDim, (o + n) * inDim));
    if (bias !== null) bs!.set(bias.subarray(o, o + n));
    // The tile's outputs as a [rows, n] product of their own.
    memory.linearRange(xs, rows, inDim, ws, bs, n, os, 0, n);
    for (let r = 0; r < rows; r++) out.set(os.subarray(r * n, (r + 1) * n), r * outDim + o);
  }
}
