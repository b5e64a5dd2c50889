/**
 * Hand-made trace folders in the format TraceWriter writes (trace.json + safetensors step files),
 * written here byte by byte so the reader and the diff are tested against the format, not against
 * the writer.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const tempRoot = (name: string): string => mkdtempSync(join(tmpdir(), `genie-ts-${name}-`));

type Dtype = 'FLOAT_32' | 'UFIXED_POINT_16' | 'UFIXED_POINT_8' | 'INT_32';
const ST: Record<Dtype, string> = { FLOAT_32: 'F32', UFIXED_POINT_16: 'U16', UFIXED_POINT_8: 'U8', INT_32: 'I32' };
const ARRAY: Record<Dtype, (values: readonly number[]) => ArrayBufferView> = {
  FLOAT_32: (v) => Float32Array.from(v),
  UFIXED_POINT_16: (v) => Uint16Array.from(v),
  UFIXED_POINT_8: (v) => Uint8Array.from(v),
  INT_32: (v) => Int32Array.from(v),
};

export interface HandTensor {
  readonly name: string;
  readonly role: string;
  readonly direction?: 'input' | 'output';
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  readonly encoding?: { readonly scale: number; readonly offset: number };
  /** The stored values (codes for fixed point). */
  readonly values: readonly number[];
}

export interface HandStep {
  readonly kind?: 'prefill' | 'decode';
  readonly variant?: { id: string; ar: number; cl: number };
  readonly nValid?: number;
  readonly nNew?: number;
  readonly tokens: readonly number[];
  /** Null: a step indexed without tensors (the size cap). */
  readonly tensors: readonly HandTensor[] | null;
}

/** A safetensors image of `tensors`, laid out by hand. */
export function safetensorsImage(tensors: readonly HandTensor[]): Uint8Array {
  const header: Record<string, unknown> = {};
  const datas: Uint8Array[] = [];
  let offset = 0;
  for (const t of tensors) {
    const view = ARRAY[t.dtype](t.values);
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    header[t.name] = { dtype: ST[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    offset += bytes.byteLength;
    datas.push(bytes);
  }
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return new Uint8Array(Buffer.concat([length, json, ...datas]));
}

/** Writes a trace folder: index (complete unless told) and one step file per step with tensors. */
export function writeHandTrace(dir: string, steps: readonly HandStep[], options: { complete?: boolean } = {}): string {
  mkdirSync(dir, { recursive: true });
  let position = 0;
  const indexed = steps.map((step, index) => {
    const nNew = step.nNew ?? step.tokens.length;
    const nValid = step.nValid ?? position;
    position = nValid + nNew;
    const file = step.tensors === null ? null : `step-${String(index).padStart(5, '0')}.safetensors`;
    if (step.tensors !== null) writeFileSync(join(dir, file!), safetensorsImage(step.tensors));
    const tensors = (step.tensors ?? []).map((t) => ({
      name: t.name, direction: t.direction ?? (t.role === 'logits' ? 'output' : 'input'), role: t.role, dtype: t.dtype, safetensorsDtype: ST[t.dtype],
      shape: t.shape, ...(t.encoding && { encoding: t.encoding }), kept: true,
    }));
    return {
      index, kind: step.kind ?? (index === 0 ? 'prefill' : 'decode'), variant: step.variant ?? { id: 'ar1_cl16', ar: 1, cl: 16 }, inputs: [],
      nValid, nNew, positions: { first: nValid, end: nValid + nNew }, tokens: step.tokens, embeddingRows: 0, final: true, fillUs: 1, file,
      splits: [{ graph: 'part_1_of_1', kind: 'decoder', executed: true, executeUs: 5, tensors }],
    };
  });
  const index = {
    format: 'genie-ts trace', version: 1, complete: options.complete ?? true, maxBytes: 1 << 20, tensorClasses: ['inputs', 'outputs', 'kv', 'logits'],
    stepRange: '0..', tensorBytes: 0, leftOut: null, steps: indexed,
  };
  writeFileSync(join(dir, 'trace.json'), JSON.stringify(index, null, 1));
  return dir;
}
