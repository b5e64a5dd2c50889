/**
 * The sampler's passes over one logits row in WebAssembly SIMD (src/simd/wat/logits.wat): the k best
 * tokens of uint16 codes or float32 values, in exactly the heap order of src/sampler/rank.ts's
 * selectTopK (k = 1 is the argmax, lowest index on ties), uint16 codes dequantized exactly, and the
 * histogram of uint16 codes and its top-p cut. The row is copied into the kernel's memory
 * (a memcpy, a few microseconds for 128k codes), padded to the kernel's blocks, scanned there.
 * Nothing is allocated per call: the caller passes the row as a typed array of its own (kept per row).
 */
import { lazyKernel, type KernelExports } from './kernel.js';
import { logitsWasm } from './logits.wasm.js';

interface LogitsExports extends KernelExports {
  topKU16(keys: number, n: number, k: number, heap: number): void;
  /** -1, or the token of the first NaN. */
  topKF32(keys: number, n: number, k: number, heap: number): number;
  dequantizeU16(src: number, dst: number, n: number, scale: number, offset: number): void;
  maxU16(keys: number, n: number): number;
  countU16(keys: number, n: number, counts: number, floor: number, nearFrom: number, near: number, capacity: number): number;
  cutCodes(counts: number, max: number, left: number, uncounted: number, weights: number, reals: number, ties: number): number;
}

const kernel = lazyKernel<LogitsExports>('logits', logitsWasm);
type LogitsKernel = ReturnType<typeof kernel.get>;

/** Elements per scanned block: four vectors of uint16 codes, or of float32 values. */
const CODE_BLOCK = 32;
const FLOAT_BLOCK = 16;

/** `row` at byte 0 of the kernel's memory (grown to `bytes`), zero codes up to `padded`. */
function codesIn(kern: LogitsKernel, row: Uint16Array, padded: number, bytes: number): void {
  kern.reserve(bytes);
  const codes = kern.u16;
  codes.set(row);
  codes.fill(0, row.length, padded);
}

/** `row` at byte 0 of the kernel's memory (grown to `bytes`), -Infinity up to `padded`. */
function valuesIn(kern: LogitsKernel, row: Float32Array, padded: number, bytes: number): void {
  kern.reserve(bytes);
  const values = kern.f32;
  values.set(row);
  values.fill(-Infinity, row.length, padded);
}

/** The kernel's heap of `k` tokens at byte `heapAt` into `out[0, k)`. */
function heapOut(kern: LogitsKernel, heapAt: number, k: number, out: Int32Array): void {
  const heap = kern.i32;
  const first = heapAt >> 2;
  for (let i = 0; i < k; i++) out[i] = heap[first + i];
}

/**
 * The `k` best tokens of `row` (`1 <= k <= row.length`; larger code first, lower id on ties) into
 * `out[0, k)`, in selectTopK's heap order (the root is the worst kept token).
 */
export function topKCodes16Simd(row: Uint16Array, k: number, out: Int32Array): void {
  const padded = (row.length + CODE_BLOCK - 1) & -CODE_BLOCK;
  const heapAt = padded * 2;
  const kern = kernel.get();
  codesIn(kern, row, padded, heapAt + k * 4);
  kern.exports.topKU16(0, row.length, k, heapAt);
  heapOut(kern, heapAt, k, out);
}

/** The index of the largest code of `row` (lowest index on ties). */
export function argmaxCodes16Simd(row: Uint16Array): number {
  const padded = (row.length + CODE_BLOCK - 1) & -CODE_BLOCK;
  const heapAt = padded * 2;
  const kern = kernel.get();
  codesIn(kern, row, padded, heapAt + 4);
  kern.exports.topKU16(0, row.length, 1, heapAt);
  return kern.i32[heapAt >> 2];
}

/**
 * The `k` best tokens of float32 `row` into `out[0, k)` as `topKCodes16Simd` (-0 equal to +0). Returns
 * -1, or `~i` for the first NaN, at token i (`out` is then unfinished).
 */
export function topKFloat32Simd(row: Float32Array, k: number, out: Int32Array): number {
  const padded = (row.length + FLOAT_BLOCK - 1) & -FLOAT_BLOCK;
  const heapAt = padded * 4;
  const kern = kernel.get();
  valuesIn(kern, row, padded, heapAt + k * 4);
  const nan = kern.exports.topKF32(0, row.length, k, heapAt);
  if (nan >= 0) return ~nan;
  heapOut(kern, heapAt, k, out);
  return -1;
}

/** The index of the largest value of float32 `row` (lowest index on ties), or `~i` for the first NaN, at i. */
export function argmaxFloat32Simd(row: Float32Array): number {
  const padded = (row.length + FLOAT_BLOCK - 1) & -FLOAT_BLOCK;
  const heapAt = padded * 4;
  const kern = kernel.get();
  valuesIn(kern, row, padded, heapAt + 4);
  const nan = kern.exports.topKF32(0, row.length, 1, heapAt);
  return nan < 0 ? kern.i32[heapAt >> 2] : ~nan;
}

// The kernel's float32 output as a view of its own, kept while the memory and the row length stay.
let outputMemory: Float32Array | null = null;
let output: Float32Array = new Float32Array(0);

/**
 * `dst[i] = fround((row[i] + offset) * scale)` for i < row.length, with the scalar loop's float64
 * arithmetic (the same values); returns the index of the largest code (lowest on ties). The encoding
 * travels as an object: its doubles as arguments would be boxed (allocated) by a call V8 does not inline.
 */
export function dequantizeCodes16Simd(row: Uint16Array, encoding: { readonly scale: number; readonly offset: number }, dst: Float32Array): number {
  const n = row.length;
  const padded = (n + CODE_BLOCK - 1) & -CODE_BLOCK;
  const outAt = padded * 2;
  const heapAt = outAt + padded * 4;
  const kern = kernel.get();
  codesIn(kern, row, padded, heapAt + 4);
  kern.exports.dequantizeU16(0, outAt, padded, encoding.scale, encoding.offset);
  kern.exports.topKU16(0, n, 1, heapAt);
  const memory = kern.f32;
  if (memory !== outputMemory || output.byteOffset !== outAt || output.length !== n) {
    outputMemory = memory;
    output = memory.subarray(outAt >> 2, (outAt >> 2) + n);
  }
  dst.set(output);
  return kern.i32[heapAt >> 2];
}

/** Entries of the code histogram: one per uint16 code, then two spare ones (the kernel's count of the tokens counted, scratch). */
const HISTOGRAM_ENTRIES = 65538;
const HISTOGRAM_BYTES = (HISTOGRAM_ENTRIES * 4 + 15) & -16;

// The row countCodes16Simd copies in, and the kernel's histogram, as arrays of their own: re-made only
// when the row's buffer, offset or length (or the memory) change, so a decode loop allocates nothing.
let countedSource: Uint16Array | null = null;
let countedFrom = -1;
let countedRow: Uint16Array = new Uint16Array(0);
let histogramMemory: Int32Array | null = null;
let histogram: Int32Array = new Int32Array(0);

/**
 * countCodes16's contract (src/sampler/logits-kernels.ts) in one WebAssembly pass over
 * `src[from, from + n)`: `counts` (65536 entries) becomes the histogram of the codes from `floor` on
 * (zero elsewhere); the ids of the tokens with a code >= `nearFrom` go to `near` in id order, as many
 * as it holds; `out[1]` = how many tokens qualified for `near`, `out[2]` = how many were counted.
 */
export function countCodes16Simd(src: Uint16Array, from: number, n: number, counts: Int32Array, floor: number, nearFrom: number, near: Int32Array, out: Int32Array): void {
  if (src !== countedSource || from !== countedFrom || countedRow.length !== n) {
    countedSource = src;
    countedFrom = from;
    countedRow = src.subarray(from, from + n);
  }
  const padded = (n + CODE_BLOCK - 1) & -CODE_BLOCK;
  const countsAt = padded * 2;
  const nearAt = countsAt + HISTOGRAM_BYTES;
  const kern = kernel.get();
  codesIn(kern, countedRow, padded, nearAt + near.length * 4);
  const kept = kern.exports.countU16(0, n, countsAt, floor, nearFrom, nearAt, near.length);
  const memory = kern.i32;
  const first = countsAt >> 2;
  if (memory !== histogramMemory || histogram.byteOffset !== countsAt) {
    histogramMemory = memory;
    histogram = memory.subarray(first, first + 65536);
  }
  counts.set(histogram);
  const ids = Math.min(kept, near.length);
  for (let i = 0; i < ids; i++) near[i] = memory[(nearAt >> 2) + i];
  out[1] = kept;
  out[2] = memory[first + 65536];
}

/** The doubles of a top-p cut of a code histogram (an object: as arguments V8 would box them). */
export interface CodeCut {
  readonly offset: number;
  readonly scale: number;
  /** `fround(vmax) - vmax`, vmax being the largest code's value in float64. */
  readonly rmax: number;
  readonly temperature: number;
  /** The share of the mass to reach. */
  readonly fraction: number;
}

// The cut's operands in the kernel's memory (bytes): the histogram, the weights, then the doubles
// (CodeCut's five, the two exponential tables), then the ties.
const CUT_WEIGHTS_AT = 65536 * 4;
const CUT_REALS_AT = CUT_WEIGHTS_AT + 65536 * 8;
const CUT_TIES_AT = CUT_REALS_AT + (5 + 2 * 256) * 8;

// Views of the kernel's memory the cut writes through, re-made when the memory grows.
let cutBuffer: ArrayBufferLike | null = null;
let cutReals: Float64Array = new Float64Array(0);
let cutCounts: Int32Array = new Int32Array(0);

/** Below this many codes from the floor to the largest, the histogram goes in by a loop over them, not whole. */
const CUT_COPY_LOOP = 16384;

/**
 * The top-p cut of a histogram of codes, as src/sampler/code-nucleus.ts's loops compute it (the same
 * operations: the same weights, total and cut): `counts` (65536 entries) holds `counted` tokens, with
 * codes from `floor` to `max` (the largest), and `uncounted` more tokens lie below every counted one; code
 * c weighs `hi[j >> 8] * lo[j & 255] * exp(-e)` (j = max - c, `lo[i] = exp(-i step)`,
 * `hi[i] = exp(-256 i step)`, e the float32 rounding's share, taken by its Taylor series: the caller
 * makes sure that |e| < 1e-3). Writes into `out` the cut code (-1 when the cumulative mass stays below
 * `fraction` of the total) and how many of its tokens the nucleus takes.
 */
export function cutCodesSimd(
  counts: Int32Array, floor: number, max: number, counted: number, uncounted: number, cut: CodeCut, hi: Float64Array, lo: Float64Array, out: Int32Array,
): void {
  const kern = kernel.get();
  kern.reserve(CUT_TIES_AT + 4);
  const memory = kern.i32;
  if (memory.buffer !== cutBuffer) {
    cutBuffer = memory.buffer;
    cutReals = new Float64Array(memory.buffer, CUT_REALS_AT, 5 + 2 * 256);
    cutCounts = memory.subarray(0, 65536);
  }
  // The kernel reads the codes from the floor up only: a low temperature or uint8 codes need a few
  // thousand of the 65536 entries.
  if (max - floor < CUT_COPY_LOOP) for (let c = floor; c <= max; c++) memory[c] = counts[c];
  else cutCounts.set(counts);
  const reals = cutReals;
  reals[0] = cut.offset;
  reals[1] = cut.scale;
  reals[2] = cut.rmax;
  reals[3] = cut.temperature;
  reals[4] = cut.fraction;
  reals.set(hi, 5);
  reals.set(lo, 5 + 256);
  out[0] = kern.exports.cutCodes(0, max, counted, uncounted, CUT_WEIGHTS_AT, CUT_REALS_AT, CUT_TIES_AT);
  out[1] = memory[CUT_TIES_AT >> 2];
}

/** The largest code of `row`: one SIMD pass (with the copy in), the bench's floor for the kernels above. */
export function maxCodes16Simd(row: Uint16Array): number {
  const padded = (row.length + CODE_BLOCK - 1) & -CODE_BLOCK;
  const kern = kernel.get();
  codesIn(kern, row, padded, padded * 2);
  return kern.exports.maxU16(0, row.length);
}
