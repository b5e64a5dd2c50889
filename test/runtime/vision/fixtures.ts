/**
 * Image-encoder test bundles: the tiny random vision checkpoint of test/backends/reference written
 * as reference ctx-bins (fused or separate projector, float or quantized IO) with an
 * `image-encoder` config file beside them, and encoders opened on Reference or QnnHtp (simulated
 * provider, one per encoder so its handles can be checked after dispose).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { visionCtxBinParts, writeReferenceCtxBin, type TensorType } from '../../../src/backends/reference/index.js';
import type { TensorSpec } from '../../../src/graphs/index.js';
import { ImageEncoder } from '../../../src/runtime/vision/image-encoder.js';
import { createSimulatedQnn, type SimulatedQnn } from '../../../src/simulator/index.js';
import { randomVisionCheckpoint, tinyVisionModel } from '../../backends/reference/vision-oracle.js';
import type { BackendKind } from '../fixtures.js';

export const model = tinyVisionModel();
export const checkpoint = randomVisionCheckpoint(model, 'runtime-vision');
export const ROWS = 24;
export const WIDTH = 24;

export type VisionQuant = 'none' | 'htp' | 'fp16';

/**
 * HTP-style IO: uint16 pixels over [0, 1], uint16 rows over [-6, 6] (the final output) and tower
 * features over [-8, 8] (a separate projector's input); or float16 everywhere.
 */
function tensorTypes(quant: VisionQuant, split: 'fused' | 'separate'): Record<string, TensorType> {
  if (quant === 'none') return {};
  const output = split === 'fused' ? 'image_features' : 'vision_embedding';
  if (quant === 'fp16') {
    const f16: TensorType = { dtype: 'FLOAT_16' };
    return split === 'fused' ? { pixel_values: f16, image_features: f16 } : { pixel_values: f16, image_features: f16, vision_embedding: f16 };
  }
  const u16 = (min: number, max: number): TensorType => {
    const scale = Math.fround((max - min) / 65535);
    return { dtype: 'UFIXED_POINT_16', encoding: { scale, offset: Math.round(min / scale) } };
  };
  const types: Record<string, TensorType> = { pixel_values: u16(0, 1), [output]: u16(-6, 6) };
  if (split === 'separate') types.image_features = u16(-8, 8);
  return types;
}

/** `engine.backend` of an image-encoder config: the QnnHtp keys Genie's image-encoder examples set. */
export function encoderBackend(kind: BackendKind): object {
  if (kind === 'Reference') return { version: 1, type: 'Reference' };
  return { version: 1, type: 'QnnHtp', QnnHtp: { version: 1, 'spill-fill-bufsize': 0, 'use-mmap': true, 'allow-async-init': false } };
}

export function encoderConfig(ctxBins: readonly string[], kind: BackendKind = 'Reference'): { 'image-encoder': object } {
  return {
    'image-encoder': {
      version: 1,
      engine: { version: 1, mode: 'image', backend: encoderBackend(kind), model: { version: 1, type: 'binary', binary: { version: 1, 'ctx-bins': [...ctxBins] } } },
    },
  };
}

export interface VisionBundle {
  readonly dir: string;
  /** Bundle-relative ctx-bin file names. */
  readonly ctxBins: string[];
  /** `image-encoder.json` in `dir`, on Reference. */
  readonly configPath: string;
}

export interface VisionBundleOptions {
  readonly split: 'fused' | 'separate';
  readonly quant?: VisionQuant;
  readonly extraInputs?: readonly TensorSpec[];
  readonly pixelLayout?: 'NCHW' | 'NHWC';
}

export async function writeVisionBundle(root: string, name: string, options: VisionBundleOptions): Promise<VisionBundle> {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const parts = visionCtxBinParts({
    checkpoint,
    split: options.split,
    tensorTypes: tensorTypes(options.quant ?? 'none', options.split),
    extraInputs: options.extraInputs,
    pixelLayout: options.pixelLayout,
  });
  const ctxBins = parts.map((_, i) => `vision_part_${i + 1}_of_${parts.length}.bin`);
  for (const [i, part] of parts.entries()) await writeReferenceCtxBin(join(dir, ctxBins[i]), part);
  const configPath = join(dir, 'image-encoder.json');
  writeFileSync(configPath, JSON.stringify(encoderConfig(ctxBins), null, 2));
  return { dir, ctxBins, configPath };
}

/** Opens encoders on one backend kind; QnnHtp ones each get a simulated provider checked for live handles. */
export class EncoderPool {
  private readonly opened = new Map<ImageEncoder, SimulatedQnn | undefined>();

  constructor(readonly kind: BackendKind) {}

  async open(bundle: VisionBundle): Promise<ImageEncoder> {
    const simulated = this.kind === 'QnnHtp' ? createSimulatedQnn() : undefined;
    const encoder = await ImageEncoder.open(encoderConfig(bundle.ctxBins, this.kind), {
      baseDir: bundle.dir,
      backend: simulated === undefined ? undefined : { qnn: { provider: 'simulated', simulated } },
    });
    expect(encoder.backendType).toBe(this.kind === 'Reference' ? 'reference' : 'QnnHtp');
    this.opened.set(encoder, simulated);
    return encoder;
  }

  /** Disposes every encoder; each one's simulated provider must then hold no live handle. */
  async disposeAll(): Promise<void> {
    const live: number[] = [];
    for (const [encoder, simulated] of this.opened) {
      await encoder.dispose();
      if (simulated === undefined) continue;
      live.push(simulated.liveHandles());
      simulated.dispose();
    }
    this.opened.clear();
    expect(live.filter((n) => n !== 0), 'live simulated QNN handles after an encoder was disposed').toEqual([]);
  }
}

export const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
