/**
 * The whole VLM flow through real pieces: an image file decoded and preprocessed with sharp, the
 * image-encoder (and projector) graphs of a demo vision bundle, rows spliced into a decoder that
 * takes embeddings. Oracles: an embedding query of rows assembled here from the encoder's output and
 * the LUT (an independent splice), the Reference backend for QnnHtp (bit for bit), a fused projector
 * for a separate one.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDemoVisionEncoder, type DemoVisionEncoder } from '../../../src/demo/vision-encoder.js';
import { InvalidArgumentError } from '../../../src/errors.js';
import type { Dialog } from '../../../src/runtime/dialog.js';
import { dequantizeArray } from '../../../src/tensor/quant.js';
import { float16ToFloat32 } from '../../../src/tensor/fp16.js';
import { VisionStage } from '../../../src/runtime/vision/vision-stage.js';
import { ImageError, preprocessImage } from '../../../src/vision/index.js';
import { exactError } from '../../expect-error.js';
import { BACKENDS, DialogPool, drain, makeModel, sharedTokenizer, tempDir, writeBundle, type Bundle, type Turn } from '../fixtures.js';

const root = tempDir('runtime-vision-stage');
const model = makeModel({}, 'vision-stage');
const hidden = model.config.hiddenSize;
const VISION = { hidden, imageSize: 32, patch: 8, visionWidth: 32, layers: 1, heads: 2, seed: 7 } as const;

/** A 48x40 RGB gradient PNG (not square: the processor pads it). */
async function gradientPng(shift: number): Promise<Buffer> {
  const w = 48;
  const h = 40;
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      raw[i] = (x * 5 + shift) % 256;
      raw[i + 1] = (y * 6) % 256;
      raw[i + 2] = (x * y + shift) % 256;
    }
  }
  return sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
}

/** Float32 rows of the encoder output, whatever its dtype. */
function floatRows(rows: { data: ArrayLike<number>; dtype: string; encoding?: { scale: number; offset: number } }): Float32Array {
  if (rows.dtype === 'FLOAT_32') return Float32Array.from(rows.data);
  if (rows.dtype === 'FLOAT_16') return Float32Array.from(rows.data, float16ToFloat32);
  return dequantizeArray(rows.data as Uint16Array, new Float32Array(rows.data.length), rows.encoding!);
}

let bundle: Bundle;
let png: Buffer;
beforeAll(async () => {
  bundle = await writeBundle(root, model, { name: 'decoder', arSet: [1, 8], cl: 96, splits: 2, inputKind: 'embeds' });
  png = await gradientPng(0);
});

describe.each(BACKENDS)('%s: query with an image file through the demo vision encoder', (backend) => {
  const dialogs = new DialogPool(backend);
  const encoders = new Map<string, DemoVisionEncoder>();
  afterAll(() => dialogs.disposeAll());

  async function encoder(quant: 'none' | 'htp' | 'fp16', split: 'fused' | 'separate'): Promise<DemoVisionEncoder> {
    const key = `${quant}-${split}-${backend}`;
    if (!encoders.has(key)) {
      encoders.set(key, await writeDemoVisionEncoder(join(root, key), { ...VISION, quant, split, backend: backend === 'QnnHtp' ? 'qnn-htp' : 'reference' }));
    }
    return encoders.get(key)!;
  }

  async function visionDialog(quant: 'none' | 'htp' | 'fp16', split: 'fused' | 'separate'): Promise<Dialog> {
    const vision = await encoder(quant, split);
    return dialogs.open(bundle, dialogs.config(bundle, { maxNumTokens: 4 }), { imageEncoder: vision.configPath });
  }

  it.each(['none', 'htp', 'fp16'] as const)('quant %s: equals an embedding query of the encoder rows and LUT rows assembled by hand', async (quant) => {
    const dialog = await visionDialog(quant, 'separate');
    const spliced = await drain((o) => dialog.query('A<image>B', { ...o, images: [png] }));
    expect(spliced.result.kpis['num-images']).toBe(1);
    expect(spliced.result.kpis['image-projector-time']).toBeGreaterThan(0);

    const stage = await VisionStage.open((await encoder(quant, 'separate')).configPath, {
      backend: backend === 'QnnHtp' ? { qnn: { provider: 'simulated' } } : undefined,
    });
    let imageRows: Float32Array;
    try {
      imageRows = floatRows((await stage.embed(png)).rows);
    } finally {
      await stage.dispose();
    }
    const table = model.weights.get('model.embed_tokens.weight')!.data;
    const tokenizer = await sharedTokenizer();
    const lut = (text: string): number[] => Array.from(tokenizer.encode(text)).flatMap((t) => Array.from(table.subarray(t * hidden, (t + 1) * hidden)));
    dialog.reset();
    const manual = await drain((o) => dialog.embeddingQuery(Float32Array.from([...lut('A'), ...imageRows, ...lut('B')]), o));
    expect(spliced.sampled).toEqual(manual.sampled);
    expect(spliced.logits).toEqual(manual.logits);
  });

  it('a separate projector gives what the fused one gives', async () => {
    const fusedDialog = await visionDialog('none', 'fused');
    const separateDialog = await visionDialog('none', 'separate');
    const fused = await drain((o) => fusedDialog.query('<image>Q', { ...o, images: [png] }));
    const separate = await drain((o) => separateDialog.query('<image>Q', { ...o, images: [png] }));
    expect(separate.sampled).toEqual(fused.sampled);
    for (let i = 0; i < fused.logits.length; i++) {
      let worst = 0;
      for (let v = 0; v < fused.logits[i].length; v++) worst = Math.max(worst, Math.abs(fused.logits[i][v] - separate.logits[i][v]));
      expect(worst).toBeLessThanOrEqual(1e-4);
    }
  });

  it('a corrupt image fails the query with ImageError and leaves the dialog usable', async () => {
    const dialog = await visionDialog('none', 'fused');
    await drain((o) => dialog.query('<image>', { ...o, images: [png] }));
    const used = dialog.contextUsed;
    await expect(drain((o) => dialog.query('<image>', { ...o, images: [png.subarray(0, 60)] }))).rejects.toThrow(ImageError);
    await expect(drain((o) => dialog.query('<image>', { ...o, images: [Buffer.from('not an image at all')] }))).rejects.toThrow(ImageError);
    expect(dialog.contextUsed).toBe(used);
    const other = await gradientPng(9);
    const again = await drain((o) => dialog.query('<image>', { ...o, images: [other] }));
    expect(again.sampled.length).toBeGreaterThan(0);
  });

  it('a .raw file is the preprocessed pixel tensor itself (Genie\'s node set image): the same reply as its image', async () => {
    const dialog = await visionDialog('none', 'fused');
    // The demo encoder's pixel_values: float32 NCHW.
    const tensor = await preprocessImage(png, { target: { shape: [1, 3, VISION.imageSize, VISION.imageSize], dtype: 'FLOAT_32' } });
    const raw = join(root, `pixels-${backend}.raw`);
    writeFileSync(raw, tensor.bytes);
    dialog.reset();
    const fromRaw = await drain((o) => dialog.query('<image>', { ...o, images: [raw] }));
    dialog.reset();
    const fromPng = await drain((o) => dialog.query('<image>', { ...o, images: [png] }));
    expect(fromRaw.logits).toEqual(fromPng.logits);
    writeFileSync(raw, tensor.bytes.subarray(4));
    await expect(drain((o) => dialog.query('<image>', { ...o, images: [raw] }))).rejects.toThrow(ImageError);
  });

  it('abort, reset and dispose while an image is being encoded: no crash, a clean end, the dialog usable or disposed', async () => {
    const stage = await VisionStage.open((await encoder('none', 'fused')).configPath, {
      backend: backend === 'QnnHtp' ? { qnn: { provider: 'simulated' } } : undefined,
    });
    let during: () => void = () => {};
    // The real vision stage, with a hook that runs while the query is inside its image encode.
    const hooked = { rows: stage.rows, width: stage.width, dispose: async () => {}, embed: (image: Parameters<VisionStage['embed']>[0], signal?: AbortSignal) => {
      during();
      return stage.embed(image, signal);
    } };
    try {
      const dialog = await dialogs.open(bundle, dialogs.config(bundle, { maxNumTokens: 3 }), { imageEncoder: hooked });
      const controller = new AbortController();
      during = () => controller.abort();
      const aborted = await drain((o) => dialog.query('<image>', { ...o, images: [png], signal: controller.signal }));
      expect(aborted.result.stopReason).toBe('abort');
      expect(dialog.contextUsed).toBe(0);

      let resetError: unknown;
      during = () => {
        try {
          dialog.reset();
        } catch (error) {
          resetError = error;
        }
      };
      const busy = await drain((o) => dialog.query('<image>', { ...o, images: [png] }));
      expect((resetError as Error).constructor.name).toBe('DialogBusyError');
      expect(busy.result.stopReason).toBe('max-tokens');

      during = () => void dialog.dispose();
      await expect(drain((o) => dialog.query('x<image>', { ...o, images: [png] }))).rejects.toThrow(/disposed/);
      await dialog.dispose();
    } finally {
      await stage.dispose();
    }
  });

  it('takes a preprocessed pixel tensor of exactly pixel_values\' size', async () => {
    const dialog = await visionDialog('none', 'fused');
    expect(() => dialog.query('<image>', { images: [{ bytes: new Uint8Array(10) }] })).not.toThrow();
    await expect(drain((o) => dialog.query('<image>', { ...o, images: [{ bytes: new Uint8Array(10) }] }))).rejects.toThrow(
      exactError(InvalidArgumentError, `the pixel tensor has 10 bytes but the encoder's "pixel_values" [1, 3, 32, 32] FLOAT_32 takes ${3 * 32 * 32 * 4}`),
    );
  });
});

describe('QnnHtp through the simulated provider equals Reference bit for bit', () => {
  const pools = { Reference: new DialogPool('Reference'), QnnHtp: new DialogPool('QnnHtp') };
  afterAll(async () => {
    await pools.Reference.disposeAll();
    await pools.QnnHtp.disposeAll();
  });

  it.each(['none', 'htp'] as const)('quant %s', async (quant) => {
    const turns: Turn[] = [];
    for (const kind of BACKENDS) {
      const vision = await writeDemoVisionEncoder(join(root, `bits-${quant}-${kind}`), { ...VISION, quant, split: 'separate', backend: kind === 'QnnHtp' ? 'qnn-htp' : 'reference' });
      const dialog = await pools[kind].open(bundle, pools[kind].config(bundle, { maxNumTokens: 4 }), { imageEncoder: vision.configPath });
      turns.push(await drain((o) => dialog.query('x<image>y', { ...o, images: [png] })));
    }
    expect(turns[1].sampled).toEqual(turns[0].sampled);
    expect(turns[1].logits).toEqual(turns[0].logits);
  });
});
