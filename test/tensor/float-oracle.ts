/**
 * Independent oracles for binary16 / bfloat16: decoding by the textbook formula, and encoding by searching
 * the sorted table of representable values for the nearest one (ties to the even bit pattern), with the
 * first value past the largest finite one standing for overflow to infinity.
 */

/** binary16: (-1)^s * 2^(e-15) * (1 + f/1024); subnormal (-1)^s * 2^-14 * f/1024. */
export function decodeHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 31) return f === 0 ? sign * Infinity : NaN;
  if (e === 0) return sign * Math.pow(2, -14) * (f / 1024);
  return sign * Math.pow(2, e - 15) * (1 + f / 1024);
}

/** bfloat16: (-1)^s * 2^(e-127) * (1 + m/128); subnormal (-1)^s * 2^-126 * m/128. */
export function decodeBfloat(b: number): number {
  const sign = b & 0x8000 ? -1 : 1;
  const e = (b >> 7) & 0xff;
  const m = b & 0x7f;
  if (e === 255) return m === 0 ? sign * Infinity : NaN;
  if (e === 0) return sign * Math.pow(2, -126) * (m / 128);
  return sign * Math.pow(2, e - 127) * (1 + m / 128);
}

export interface Format {
  /** values[k] = value of the non-negative pattern k, for k <= infBits (values[infBits] = 2^(emax+1)). */
  readonly values: Float64Array;
  readonly infBits: number;
}

export function halfFormat(): Format {
  const values = new Float64Array(0x7c01);
  for (let k = 0; k < 0x7c00; k++) values[k] = decodeHalf(k);
  values[0x7c00] = 65536;
  return { values, infBits: 0x7c00 };
}

export function bfloatFormat(): Format {
  const values = new Float64Array(0x7f81);
  for (let k = 0; k < 0x7f80; k++) values[k] = decodeBfloat(k);
  values[0x7f80] = Math.pow(2, 128);
  return { values, infBits: 0x7f80 };
}

/** Bit pattern of the value of `fmt` nearest to finite-or-infinite `x` (NaN is the caller's business). */
export function nearestBits(x: number, fmt: Format): number {
  const signBit = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  const { values, infBits } = fmt;
  if (a >= values[infBits]) return signBit | infBits;
  let lo = 0;
  let hi = infBits; // values[lo] <= a < values[hi]
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (values[mid] <= a) lo = mid;
    else hi = mid;
  }
  const below = a - values[lo];
  const above = values[hi] - a;
  const k = below < above ? lo : above < below ? hi : lo % 2 === 0 ? lo : hi;
  return signBit | k;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function float32FromBits(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0];
}

export function bitsOfFloat32(x: number): number {
  f32[0] = x;
  return u32[0];
}

/** The float32 neighbours of a positive float32 value. */
export function nextUp32(x: number): number {
  return float32FromBits(bitsOfFloat32(x) + 1);
}
export function nextDown32(x: number): number {
  return float32FromBits(bitsOfFloat32(x) - 1);
}

/** Deterministic 32-bit generator (mulberry32). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
