/** Test data: logits of every dtype the sampler reads, built from target float values. */
import { LogitsView, type SamplerParams } from '../../src/sampler/index.js';
import type { Encoding } from '../../src/tensor/dtype.js';
import { float32ToFloat16 } from '../../src/tensor/fp16.js';
import type { OracleDtype } from './oracle.js';

export const DTYPES: readonly OracleDtype[] = ['FLOAT_32', 'FLOAT_16', 'UFIXED_POINT_8', 'UFIXED_POINT_16'];

export const ENCODINGS: Readonly<Record<OracleDtype, Encoding | undefined>> = {
  FLOAT_32: undefined,
  FLOAT_16: undefined,
  UFIXED_POINT_8: { scale: 0.1, offset: -128 },
  UFIXED_POINT_16: { scale: 0.0005, offset: -32768 },
};

export interface Logits {
  readonly view: LogitsView;
  /** The raw elements (codes, half bits or floats), rows concatenated. */
  readonly data: Float32Array | Uint16Array | Uint8Array;
  readonly encoding: Encoding | undefined;
}

/** A `(rows.length, vocab)` buffer of `dtype` holding `rows` (float targets, quantized as the dtype does). */
export function makeLogits(dtype: OracleDtype, rows: readonly (readonly number[])[]): Logits {
  const vocab = rows[0].length;
  const flat = rows.flat();
  const encoding = ENCODINGS[dtype];
  let data: Float32Array | Uint16Array | Uint8Array;
  if (dtype === 'FLOAT_32') data = Float32Array.from(flat);
  else if (dtype === 'FLOAT_16') data = Uint16Array.from(flat, (x) => float32ToFloat16(x));
  else {
    const max = dtype === 'UFIXED_POINT_8' ? 255 : 65535;
    const code = (x: number) => Math.min(max, Math.max(0, Math.round(x / encoding!.scale - encoding!.offset)));
    data = dtype === 'UFIXED_POINT_8' ? Uint8Array.from(flat, code) : Uint16Array.from(flat, code);
  }
  return { view: new LogitsView(data, { dtype, vocab, encoding }), data, encoding };
}

/** Roughly normal logits (sum of uniforms) with spread `sd`; `step` > 0 rounds them to force ties. */
export function randomLogits(rng: () => number, vocab: number, sd: number, step = 0): number[] {
  const out: number[] = [];
  for (let t = 0; t < vocab; t++) {
    const x = (rng() + rng() + rng() + rng() - 2) * sd * 1.732;
    out.push(step > 0 ? Math.round(x / step) * step : x);
  }
  return out;
}

/** Sampler parameters with Genie-like neutral defaults; `greedy` derived as the config module does. */
export function samplerParams(over: Partial<Omit<SamplerParams, 'greedy'>> = {}): SamplerParams {
  const p = {
    type: 'basic' as const,
    seed: 1234,
    temp: 1,
    topK: 0,
    topP: 1,
    minP: 0,
    penalizeLastN: 0,
    repetitionPenalty: 1,
    presencePenalty: 0,
    frequencyPenalty: 0,
    ...over,
  };
  return { ...p, greedy: p.temp <= 0 || p.topK === 1 };
}
