/**
 * HTP-style IO encodings for a float32 reference model, measured by running it: its parts are
 * written to a scratch folder and opened on the Reference backend, the Engine runs token prompts
 * on them (`runtime/quant`'s calibration: each prompt from an empty cache, then greedy decode
 * steps), and `htpIoTypes` turns the recorded ranges into encodings (KV uint8 symmetric, the rest
 * uint16; docs/genie-behaviour.md#ai-hub-quantization). Shared by `genie-ts demo --quant htp` and
 * `genie-ts export --quant htp`.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { openReferenceBackend, writeReferenceCtxBin, type ReferenceCtxBinPart } from '../backends/reference/index.js';
import type { RopeScaling } from '../rope/inv-freq.js';
import { EmbeddingTable } from '../runtime/embeddings/lut.js';
import { calibrateIoRanges, htpIoTypes, rangeEncoding, type IoType } from '../runtime/quant/index.js';
import type { Encoding } from '../tensor/dtype.js';
import { quantizeArray } from '../tensor/quant.js';

/** Greedy tokens decoded after each calibration prompt, so decode-step activations are seen too. */
export const CALIBRATION_DECODE_STEPS = 16;

/** A float32 model and the token prompts to calibrate it on. */
export interface FloatModelRun {
  /** The model's reference ctx-bin parts, every float IO tensor FLOAT_32. */
  readonly parts: readonly ReferenceCtxBinPart[];
  readonly input: 'ids' | 'embeds';
  readonly contextSize: number;
  /** The model's float32 table (vocab x hidden): the LUT of an embeds model, the range of embedding inputs. */
  readonly embeddingTable: Float32Array;
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly padToken: number;
  readonly eosToken: number;
  readonly rope: { readonly theta: number; readonly scaling: RopeScaling };
  /** Token prompts, each within `promptTokenLimit`. */
  readonly prompts: readonly (readonly number[])[];
  /** An absent folder for the float parts; removed before this returns. */
  readonly scratch: string;
}

/**
 * A prompt's longest prefix that leaves room for the largest AR variant and as many decode steps:
 * (CL - largest AR) / 2 tokens, at least 1.
 */
export function promptTokenLimit(cl: number, arSet: readonly number[]): number {
  return Math.max(1, Math.floor((cl - Math.max(...arSet)) / 2));
}

/** The htp IO types of every float IO tensor of `run.parts`, calibrated on `run.prompts`. */
export async function calibrateHtpIo(run: FloatModelRun): Promise<Record<string, IoType>> {
  await mkdir(run.scratch);
  try {
    const paths: string[] = [];
    for (const [i, part] of run.parts.entries()) {
      paths.push(join(run.scratch, `float_part_${i + 1}.safetensors`));
      await writeReferenceCtxBin(paths[i], part);
    }
    const backend = await openReferenceBackend(paths);
    const graphs = backend.graphs;
    const embeddings =
      run.input === 'embeds'
        ? EmbeddingTable.fromRows({ nVocab: run.vocabSize, size: run.hiddenSize, dtype: 'FLOAT_32' }, run.embeddingTable)
        : undefined;
    const ranges = await calibrateIoRanges(
      backend,
      { contextSize: run.contextSize, padToken: run.padToken, eosToken: run.eosToken, rope: run.rope, embeddings },
      { prompts: run.prompts, decodeSteps: CALIBRATION_DECODE_STEPS, embeddingTable: run.embeddingTable },
    );
    return htpIoTypes(graphs, ranges);
  } finally {
    await rm(run.scratch, { recursive: true, force: true });
  }
}

/**
 * An embeds model's LUT in uint16 over the table's own [min, max]: an encoding of its own, which the
 * Engine requantizes into input_embeds' encoding at lookup, as Genie does.
 */
export function htpLut(table: Float32Array): { readonly quantParam: Encoding; readonly bytes: Uint8Array } {
  let min = Infinity;
  let max = -Infinity;
  for (const x of table) {
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const quantParam = rangeEncoding({ min, max }, 'UFIXED_POINT_16');
  const codes = quantizeArray(table, new Uint16Array(table.length), quantParam, 'UFIXED_POINT_16');
  return { quantParam, bytes: new Uint8Array(codes.buffer, codes.byteOffset, codes.byteLength) };
}
