import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphBackend } from '../../../src/backends/backend.js';
import { InvalidArgumentError, NotSupportedError } from '../../../src/errors.js';
import { ModelLayoutError, type GraphSpec } from '../../../src/graphs/index.js';
import { ConfigError } from '../../../src/runtime/config/index.js';
import { DisposedError } from '../../../src/runtime/engine/engine.js';
import { ImageEncodeAbortedError, ImageEncoder, ImageEncoderBusyError } from '../../../src/runtime/vision/image-encoder.js';
import { dequantize, quantize } from '../../../src/tensor/quant.js';
import { float32ToFloat16 } from '../../../src/tensor/fp16.js';
import { exactError } from '../../expect-error.js';
import { tempDir } from '../../backends/reference/fixtures.js';
import { maxAbsDiffRows, projectorForward, randomPixels, toNhwc, towerForward } from '../../backends/reference/vision-oracle.js';
import { BACKENDS, type BackendKind } from '../fixtures.js';
import {
  bytesOf, checkpoint, encoderConfig, EncoderPool, model, ROWS, WIDTH, writeVisionBundle, type VisionBundle, type VisionQuant,
} from './fixtures.js';

const root = tempDir('runtime-image-encoder');
const pixels = randomPixels(model, 'runtime-pixels');
const expected = projectorForward(checkpoint, towerForward(checkpoint, pixels));
const pixelInput = (values: Float32Array = pixels): Map<string, Uint8Array> => new Map([['pixel_values', bytesOf(values)]]);

describe('ImageEncoder on Reference: float rows against a float64 forward', () => {
  let fused: VisionBundle;
  beforeAll(async () => {
    fused = await writeVisionBundle(root, 'fused', { split: 'fused' });
  });

  it('opens a config file (ctx-bins relative to it) and encodes within 1e-4 of the oracle', async () => {
    await using encoder = await ImageEncoder.open(fused.configPath);
    expect(encoder.pixelValues).toEqual({ name: 'pixel_values', dtype: 'FLOAT_32', shape: [1, 3, 32, 48] });
    expect(encoder.inputs).toEqual([encoder.pixelValues]);
    expect(encoder.output).toEqual({ name: 'image_features', dtype: 'FLOAT_32', shape: [1, ROWS, WIDTH] });
    expect([encoder.rows, encoder.width]).toEqual([ROWS, WIDTH]);
    const image = await encoder.encode(pixelInput());
    expect(image.spec).toEqual(encoder.output);
    expect([image.rows, image.width]).toEqual([ROWS, WIDTH]);
    expect(image.bytes.byteLength).toBe(ROWS * WIDTH * 4);
    expect(maxAbsDiffRows(expected, new Float32Array(image.bytes.buffer))).toBeLessThan(1e-4);
    expect(image.timings.encoderMs).toBeGreaterThan(0);
    expect(image.timings.projectorMs).toBe(0);
  });

  it('the returned bytes are a copy: a second encode does not change the first result', async () => {
    await using encoder = await ImageEncoder.open(encoderConfig(fused.ctxBins), { baseDir: fused.dir });
    const first = await encoder.encode(pixelInput());
    const copy = first.bytes.slice();
    const other = await encoder.encode(pixelInput(randomPixels(model, 'other')));
    expect(first.bytes).toEqual(copy);
    expect(other.bytes).not.toEqual(copy);
    expect((await encoder.encode(pixelInput())).bytes).toEqual(copy);
  });

  it('separate projector: identical rows to the fused graph, with a projector timing', async () => {
    const separate = await writeVisionBundle(root, 'separate', { split: 'separate' });
    await using a = await ImageEncoder.open(fused.configPath);
    await using b = await ImageEncoder.open(separate.configPath);
    expect(b.layout.projector?.name).toBe('image_projector');
    expect(b.layout.encoderOutput).toEqual({ name: 'image_features', dtype: 'FLOAT_32', shape: [1, ROWS, 32] });
    expect(b.output).toEqual({ name: 'vision_embedding', dtype: 'FLOAT_32', shape: [1, ROWS, WIDTH] });
    const ra = await a.encode(pixelInput());
    const rb = await b.encode(pixelInput());
    expect(Buffer.from(rb.bytes).equals(Buffer.from(ra.bytes))).toBe(true);
    expect(rb.timings.projectorMs).toBeGreaterThan(0);
  });

  it('NHWC pixel_values: the same rows from the same image laid out NHWC', async () => {
    const nhwc = await writeVisionBundle(root, 'nhwc', { split: 'fused', pixelLayout: 'NHWC' });
    await using a = await ImageEncoder.open(fused.configPath);
    await using b = await ImageEncoder.open(nhwc.configPath);
    expect(b.pixelValues.shape).toEqual([1, 32, 48, 3]);
    expect((await b.encode(pixelInput(toNhwc(pixels, 3, 32, 48)))).bytes).toEqual((await a.encode(pixelInput())).bytes);
  });

  it("takes Genie's optional encoder inputs when the graph declares them", async () => {
    const extra = await writeVisionBundle(root, 'extra', {
      split: 'fused',
      extraInputs: [
        { name: 'position_ids_sin', dtype: 'FLOAT_32', shape: [ROWS, 4] },
        { name: 'position_ids_cos', dtype: 'FLOAT_32', shape: [ROWS, 4] },
        { name: 'window_attention_mask', dtype: 'FLOAT_16', shape: [1, ROWS, ROWS] },
      ],
    });
    await using encoder = await ImageEncoder.open(extra.configPath);
    expect(encoder.inputs.map((t) => t.name)).toEqual(['pixel_values', 'position_ids_sin', 'position_ids_cos', 'window_attention_mask']);
    const inputs = new Map([
      ['pixel_values', bytesOf(pixels)],
      ['position_ids_sin', new Uint8Array(ROWS * 16)],
      ['position_ids_cos', new Uint8Array(ROWS * 16)],
      ['window_attention_mask', new Uint8Array(ROWS * ROWS * 2)],
    ]);
    expect(maxAbsDiffRows(expected, new Float32Array((await encoder.encode(inputs)).bytes.buffer))).toBeLessThan(1e-4);
    await expect(encoder.encode(pixelInput())).rejects.toThrow(
      exactError(
        InvalidArgumentError,
        'encode: missing input "position_ids_sin" [24, 4] FLOAT_32 (inputs: "pixel_values", "position_ids_sin", "position_ids_cos", "window_attention_mask")',
      ),
    );
  });
});

describe('QnnHtp on the simulated provider gives the Reference backend’s rows bit for bit', () => {
  const pools = Object.fromEntries(BACKENDS.map((kind) => [kind, new EncoderPool(kind)])) as Record<BackendKind, EncoderPool>;
  afterAll(async () => {
    for (const pool of Object.values(pools)) await pool.disposeAll();
  });

  /** pixel_values bytes of `pixels` in the bundle's input encoding. */
  function pixelBytes(encoder: ImageEncoder): Uint8Array {
    const spec = encoder.pixelValues;
    if (spec.dtype === 'FLOAT_32') return bytesOf(pixels);
    if (spec.dtype === 'FLOAT_16') return bytesOf(Uint16Array.from(pixels, float32ToFloat16));
    return bytesOf(Uint16Array.from(pixels, (v) => quantize(v, spec.encoding!, spec.dtype)));
  }

  for (const quant of ['none', 'htp', 'fp16'] as VisionQuant[]) {
    it(`${quant} IO: Reference and QnnHtp give the same bytes, fused and separate${quant === 'none' ? ' alike' : ''}`, async () => {
      const outputs: Array<[string, Uint8Array]> = [];
      for (const split of ['fused', 'separate'] as const) {
        const bundle = await writeVisionBundle(root, `cross-${quant}-${split}`, { split, quant });
        for (const kind of BACKENDS) {
          const encoder = await pools[kind].open(bundle);
          const image = await encoder.encode(new Map([['pixel_values', pixelBytes(encoder)]]));
          outputs.push([`${split}/${kind}`, image.bytes]);
          if (quant === 'htp') {
            expect(image.spec.dtype).toBe('UFIXED_POINT_16');
            const values = Array.from(new Uint16Array(image.bytes.buffer), (q) => dequantize(q, image.spec.encoding!));
            // Pixels are rounded to 1/65535 on the way in, the tower features (separate) to 16/65535, the rows to 12/65535.
            expect(maxAbsDiffRows(expected, values)).toBeLessThan(2e-3);
          }
          await encoder.dispose();
        }
      }
      const same = (a: [string, Uint8Array], b: [string, Uint8Array]): void =>
        expect(Buffer.from(b[1]).equals(Buffer.from(a[1])), `${b[0]} vs ${a[0]}`).toBe(true);
      const [fusedRef, fusedQnn, separateRef, separateQnn] = outputs;
      same(fusedRef, fusedQnn);
      same(separateRef, separateQnn);
      // Float handoff: the split changes nothing. A quantized one rounds the features between the graphs.
      if (quant === 'none') same(fusedRef, separateRef);
      else expect(Buffer.from(separateRef[1]).equals(Buffer.from(fusedRef[1]))).toBe(false);
    });
  }
});

describe('ImageEncoder bad input, busy, abort and dispose', () => {
  let bundle: VisionBundle;
  beforeAll(async () => {
    bundle = await writeVisionBundle(root, 'errors', { split: 'separate' });
  });

  for (const kind of BACKENDS) {
    describe(kind, () => {
      const pool = new EncoderPool(kind);
      afterAll(() => pool.disposeAll());

      it('bad inputs are typed errors naming the input; the encoder stays usable', async () => {
        const encoder = await pool.open(bundle);
        const good = (await encoder.encode(pixelInput())).bytes;
        const cases: Array<[unknown, string]> = [
          [new Map([['pixel_values', new Uint8Array(10)]]), 'encode: input "pixel_values" [1, 3, 32, 48] FLOAT_32 takes 18432 bytes, got 10'],
          [new Map([['pixel_values', bytesOf(pixels)], ['images', new Uint8Array(4)]]), 'encode: unknown input the string "images"; the encoder graph "image_encoder" takes "pixel_values"'],
          [new Map(), 'encode: missing input "pixel_values" [1, 3, 32, 48] FLOAT_32 (inputs: "pixel_values")'],
          [new Map([['pixel_values', Array.from(bytesOf(pixels))]]), 'encode: input "pixel_values" must be a Uint8Array of its bytes, got an array'],
          [{ pixel_values: bytesOf(pixels) }, 'encode takes a Map from input name to bytes (inputs: "pixel_values"), got an object (Object)'],
        ];
        for (const [inputs, message] of cases) {
          await expect(encoder.encode(inputs as Map<string, Uint8Array>)).rejects.toThrow(exactError(InvalidArgumentError, message));
        }
        await expect(encoder.encode(pixelInput(), { signal: 'stop' } as never)).rejects.toThrow(
          exactError(InvalidArgumentError, 'encode option signal must be an AbortSignal, got the string "stop"'),
        );
        await expect(encoder.encode(pixelInput(), { timeout: 5 } as never)).rejects.toThrow(
          exactError(InvalidArgumentError, 'encode options: unknown option "timeout" (known: signal)'),
        );
        expect((await encoder.encode(pixelInput())).bytes).toEqual(good);
      });

      it('a second encode while one runs is rejected as busy; an aborted signal stops before a graph', async () => {
        const encoder = await pool.open(bundle);
        const first = encoder.encode(pixelInput());
        await expect(encoder.encode(pixelInput())).rejects.toThrow(exactError(ImageEncoderBusyError, 'image encoder is busy: an encode is running; call encode again once it has returned'));
        const good = (await first).bytes;
        const controller = new AbortController();
        controller.abort();
        await expect(encoder.encode(pixelInput(), { signal: controller.signal })).rejects.toThrow(
          exactError(ImageEncodeAbortedError, 'image encode aborted before the encoder graph ran'),
        );
        expect((await encoder.encode(pixelInput())).bytes).toEqual(good);
      });

      it('dispose during an encode: the encode rejects with DisposedError, then everything is freed; later calls throw', async () => {
        const encoder = await pool.open(bundle);
        const running = encoder.encode(pixelInput());
        const disposing = encoder.dispose();
        await expect(running).rejects.toThrow(DisposedError);
        await expect(running).rejects.toThrow(
          /^image encoder is disposed: dispose\(\) was called (before the encoder graph ran|while graph "image_encoder" executed; the encode was cancelled)$/,
        );
        await disposing;
        await encoder.dispose();
        await expect(encoder.encode(pixelInput())).rejects.toThrow(exactError(DisposedError, 'image encoder is disposed'));
      });
    });
  }
});

describe('ImageEncoder.open and create errors', () => {
  let bundle: VisionBundle;
  beforeAll(async () => {
    bundle = await writeVisionBundle(root, 'open-errors', { split: 'fused' });
  });

  it('rejects bad arguments and options before reading anything', async () => {
    await expect(ImageEncoder.open('')).rejects.toThrow(exactError(InvalidArgumentError, 'ImageEncoder.open takes a config file path or a parsed config object, got the string ""'));
    await expect(ImageEncoder.open(bundle.configPath, { base: '.' } as never)).rejects.toThrow(
      exactError(InvalidArgumentError, 'ImageEncoder.open options: unknown option "base" (known: baseDir, backend)'),
    );
    await expect(ImageEncoder.open(bundle.configPath, { backend: { qnnHtp: {} } } as never)).rejects.toThrow(
      exactError(InvalidArgumentError, 'ImageEncoder.open options.backend: unknown option "qnnHtp" (known: qnn)'),
    );
  });

  it('another config root, a mode other than "image", an unsupported key', async () => {
    const dialog = { dialog: { version: 1 } };
    await expect(ImageEncoder.open(dialog)).rejects.toThrow(ConfigError);
    const config = encoderConfig(bundle.ctxBins) as { 'image-encoder': { engine: Record<string, any> } };
    const textMode = structuredClone(config);
    textMode['image-encoder'].engine.mode = 'text';
    await expect(ImageEncoder.open(textMode, { baseDir: bundle.dir })).rejects.toThrow(
      exactError(NotSupportedError, 'not supported yet: image-encoder.engine.mode "text" (an image encoder runs in mode "image")'),
    );
    const rope = structuredClone(config);
    rope['image-encoder'].engine.model['positional-encoding'] = { type: 'rope', 'rope-dim': 4, 'rope-theta': 10000 };
    await expect(ImageEncoder.open(rope, { baseDir: bundle.dir })).rejects.toThrow(NotSupportedError);
    await expect(ImageEncoder.open(rope, { baseDir: bundle.dir })).rejects.toThrow(
      "not supported yet: image-encoder.engine.model.positional-encoding (the encoder's position_ids_sin/cos are inputs the caller supplies)",
    );
  });

  it('a decoder bundle is not an image encoder: ModelLayoutError naming its graphs', async () => {
    const graphs: GraphSpec[] = [
      { name: 'token_ar1_cl16_1_of_1', ctxBin: 0, inputs: [{ name: 'input_ids', dtype: 'INT_32', shape: [1, 1] }], outputs: [{ name: 'logits', dtype: 'FLOAT_32', shape: [1, 1, 8] }] },
    ];
    expect(() => ImageEncoder.create(fakeBackend(graphs))).toThrow(
      exactError(ModelLayoutError, 'no graph takes "pixel_values": an image encoder\'s graph must (graphs: "token_ar1_cl16_1_of_1")'),
    );
  });

  it("an encoder input Genie's image encoder does not accept: ModelLayoutError naming it", () => {
    const graphs: GraphSpec[] = [
      {
        name: 'siglip',
        ctxBin: 0,
        inputs: [{ name: 'pixel_values', dtype: 'FLOAT_32', shape: [1, 3, 8, 8] }, { name: 'image_grid_thw', dtype: 'INT_32', shape: [1, 3] }],
        outputs: [{ name: 'vision_embedding', dtype: 'FLOAT_32', shape: [4, 16] }],
      },
    ];
    expect(() => ImageEncoder.create(fakeBackend(graphs))).toThrow(
      exactError(
        ModelLayoutError,
        'image encoder graph "siglip" has unsupported input "image_grid_thw" (Genie\'s image encoder accepts only pixel_values, position_ids_sin, position_ids_cos, full_attention_mask, window_attention_mask)',
      ),
    );
  });

  it('a missing ctx-bin names the file', async () => {
    const config = encoderConfig(['absent.bin']);
    const path = join(bundle.dir, 'absent.json');
    writeFileSync(path, JSON.stringify(config));
    await expect(ImageEncoder.open(path)).rejects.toThrow(join(bundle.dir, 'absent.bin'));
  });
});

function fakeBackend(graphs: GraphSpec[]): GraphBackend {
  return {
    type: 'fake',
    graphs,
    allocate: (n) => new Uint8Array(n),
    bind: () => {},
    execute: async () => {},
    dispose: async () => {},
  };
}
