/**
 * Valid safetensors images and reference ctx-bins to mutate, and structure-aware mutations of
 * them: the header's tensor entries or the ctx-bin metadata edited as JSON values and re-encoded
 * with a consistent header length, so the mutations reach past the container checks.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { splitQwen2Checkpoint, writeReferenceCtxBin } from '../../../src/backends/reference/index.js';
import { writeSafetensors } from '../../../src/formats/safetensors.js';
import { float32ArrayToFloat16 } from '../../../src/tensor/fp16.js';
import { randomWeights, tinyConfig } from '../../backends/reference/qwen2-oracle.js';
import { applyTextEdit, applyValueEdit, concat, textEdit, untrustedBytes, valueEdit } from './mutations.js';

export interface SafetensorsParts {
  header: Record<string, unknown>;
  data: Uint8Array;
}

/** Splits an image into its parsed header and data section (the image must be valid). */
export function splitImage(image: Uint8Array): SafetensorsParts {
  const length = Number(new DataView(image.buffer, image.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(image.subarray(8, 8 + length))) as Record<string, unknown>;
  return { header, data: image.slice(8 + length) };
}

/** An image from a header object and a data section; the header length always matches. */
export function joinImage({ header, data }: SafetensorsParts): Uint8Array {
  const text = new TextEncoder().encode(JSON.stringify(header));
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(text.length), true);
  return concat(prefix, text, data);
}

/** A hand-written image with every float dtype, an integer tensor, a scalar, an empty tensor and metadata. */
function mixedImage(): Uint8Array {
  const f32 = new Uint8Array(Float32Array.from([1, -2, 3.5, 0]).buffer);
  const f16 = new Uint8Array(float32ArrayToFloat16(Float32Array.from([0.5, -1, 2, 4, 8, 16]), new Uint16Array(6)).buffer);
  const bf16 = new Uint8Array(Uint16Array.from([0x3f80, 0xc000]).buffer);
  const i64 = new Uint8Array(BigInt64Array.from([1n, -1n]).buffer);
  const scalar = new Uint8Array(Float32Array.from([7]).buffer);
  const parts = [f32, f16, bf16, i64, scalar];
  const offsets: Array<[number, number]> = [];
  let at = 0;
  for (const part of parts) {
    offsets.push([at, at + part.length]);
    at += part.length;
  }
  return joinImage({
    header: {
      __metadata__: { format: 'pt', note: 'fuzz seed' },
      a: { dtype: 'F32', shape: [2, 2], data_offsets: offsets[0] },
      b: { dtype: 'F16', shape: [3, 2], data_offsets: offsets[1] },
      c: { dtype: 'BF16', shape: [2], data_offsets: offsets[2] },
      d: { dtype: 'I64', shape: [2], data_offsets: offsets[3] },
      e: { dtype: 'F32', shape: [], data_offsets: offsets[4] },
      empty: { dtype: 'F32', shape: [0, 3], data_offsets: [at, at] },
    },
    data: concat(...parts),
  });
}

export interface Seeds {
  /** Plain safetensors images. */
  readonly safetensors: readonly Uint8Array[];
  /** Reference ctx-bins: one part of everything, and the parts of a 3-way split. */
  readonly ctxBins: readonly Uint8Array[];
}

let seeds: Promise<Seeds> | undefined;

/** Builds the seeds once (a tiny Qwen2 model: 2 layers, hidden 8, vocab 32, AR 1 and 4, CL 16). */
export function fuzzSeeds(): Promise<Seeds> {
  seeds ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'genie-ts-fuzz-seeds-'));
    try {
      const config = tinyConfig({ hiddenSize: 8, numAttentionHeads: 2, numKeyValueHeads: 1, headDim: 4, intermediateSize: 16, numHiddenLayers: 2, vocabSize: 32, maxPositionEmbeddings: 64 });
      const weights = randomWeights(config, 'fuzz');
      const whole = splitQwen2Checkpoint({ config, weights, arSet: [1, 4], cl: 16, splits: 1, inputKind: 'ids' });
      const split = splitQwen2Checkpoint({ config, weights, arSet: [1, 4], cl: 16, splits: 3, embeddingPart: true, inputKind: 'ids' });
      const ctxBins: Uint8Array[] = [];
      for (const [i, part] of [...whole, ...split].entries()) {
        const path = join(dir, `part-${i}.safetensors`);
        await writeReferenceCtxBin(path, part);
        ctxBins.push(new Uint8Array(readFileSync(path)));
      }
      const plainPath = join(dir, 'plain.safetensors');
      await writeSafetensors(plainPath, new Map([['w', { shape: [3, 2], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }]]), { k: 'v' });
      return { safetensors: [mixedImage(), new Uint8Array(readFileSync(plainPath)), ctxBins[0]], ctxBins };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  return seeds;
}

/** Mutations of the header's entries (dtype, shape, data_offsets, names, metadata) as JSON values. */
export function headerEdits(images: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.nat({ max: images.length - 1 }), fc.array(valueEdit, { minLength: 1, maxLength: 3 }))
    .map(([i, edits]) => {
      const parts = splitImage(images[i]);
      return joinImage({ ...parts, header: edits.reduce(applyValueEdit, parts.header) as Record<string, unknown> });
    });
}

/** Mutations of a ctx-bin's `genie-ts` metadata (model shape, graphs, tensors) as JSON values. */
export function metadataEdits(images: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.nat({ max: images.length - 1 }), fc.array(valueEdit, { minLength: 1, maxLength: 3 }))
    .map(([i, edits]) => {
      const parts = splitImage(images[i]);
      const metadata = parts.header.__metadata__ as Record<string, string>;
      const edited = edits.reduce(applyValueEdit, JSON.parse(metadata['genie-ts']));
      return joinImage({ ...parts, header: { ...parts.header, __metadata__: { ...metadata, 'genie-ts': JSON.stringify(edited) } } });
    });
}

/** Text-level edits of the header JSON (numbers, strings, repeated members, deep nesting), re-encoded with its length. */
export function headerTextEdits(images: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.nat({ max: images.length - 1 }), fc.array(textEdit, { minLength: 1, maxLength: 2 }))
    .map(([i, edits]) => {
      const image = images[i];
      const length = Number(new DataView(image.buffer, image.byteOffset).getBigUint64(0, true));
      const text = edits.reduce(applyTextEdit, new TextDecoder().decode(image.subarray(8, 8 + length)));
      const encoded = new TextEncoder().encode(text);
      const prefix = new Uint8Array(8);
      new DataView(prefix.buffer).setBigUint64(0, BigInt(encoded.length), true);
      return concat(prefix, encoded, image.subarray(8 + length));
    });
}

/** Text-level edits of a ctx-bin's `genie-ts` metadata JSON. */
export function metadataTextEdits(images: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.nat({ max: images.length - 1 }), fc.array(textEdit, { minLength: 1, maxLength: 2 }))
    .map(([i, edits]) => {
      const parts = splitImage(images[i]);
      const metadata = parts.header.__metadata__ as Record<string, string>;
      const edited = edits.reduce(applyTextEdit, metadata['genie-ts']);
      return joinImage({ ...parts, header: { ...parts.header, __metadata__: { ...metadata, 'genie-ts': edited } } });
    });
}

/** Random bytes, byte-level mutations and header-level mutations of `images`. */
export function safetensorsInputs(images: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 3, arbitrary: untrustedBytes(images) },
    { weight: 2, arbitrary: headerEdits(images) },
    { weight: 2, arbitrary: headerTextEdits(images) },
  );
}

/** Also metadata-level mutations, for readers of reference ctx-bins. */
export function ctxBinInputs(images: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 2, arbitrary: untrustedBytes(images) },
    { weight: 1, arbitrary: headerEdits(images) },
    { weight: 1, arbitrary: headerTextEdits(images) },
    { weight: 3, arbitrary: metadataEdits(images) },
    { weight: 2, arbitrary: metadataTextEdits(images) },
  );
}
