/**
 * Image preprocessing (genie-ts/vision) on a 4032x3024 JPEG (a 12-megapixel phone photo; a gradient
 * with noise, made here) to FastVLM's 1024x1024 float32 NCHW pixel_values, against the floor: sharp
 * decoding and resizing the same JPEG to raw RGB of the same size with the same kernel. Both decode
 * at full resolution: JPEG shrink-on-load (libjpeg's DCT downscaling) would change the pixels away
 * from Pillow's, so the pipeline does not use it; the row with it shows what it would save. The
 * row with the horizontal resize alone is the pipeline's first pass in one sharp pipeline
 * (src/vision/resize.ts): Pillow resizes horizontally first, libvips vertically, so keeping Pillow's
 * order costs a horizontal reduce at full resolution; the pipeline cuts that pass into two
 * pipelines that run at once where the machine has two cores (as this bench's floor does not, and
 * neither does sharp on its own here: it runs each pipeline on one thread on glibc without
 * jemalloc). The pipeline and the floor are timed in alternation, so a load on the
 * machine hits both alike, and the ratio is the median of the per-round ratios (the ratio of the
 * two medians is reported too).
 * Also: the conversion step alone, the images that take Pillow's resampler in TypeScript, and the
 * splice of an image's rows into the decoder's input encoding.
 */
import sharp from 'sharp';
import { heapDeltaBytes, medianUs, type Measurement } from './harness.js';
import { convertPixels, pixelTables, type PixelArray } from '../src/vision/convert.js';
import { preprocessImage } from '../src/vision/index.js';
import { fastVlmDefaults } from '../src/vision/processor.js';
import { typedView } from '../src/tensor/views.js';
import { Accumulator } from '../src/runtime/embeddings/accumulator.js';

const SIDE = 1024;
const TARGET = { shape: [1, 3, SIDE, SIDE], dtype: 'FLOAT_32' } as const;

/** A photo-like JPEG: gradients with noise, quality 90. */
async function photo(width: number, height: number): Promise<Buffer> {
  const rgb = Buffer.alloc(width * height * 3);
  let s = 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      const n = (s >>> 24) & 31;
      const i = (y * width + x) * 3;
      rgb[i] = ((x * 224) / width + n) | 0;
      rgb[i + 1] = ((y * 224) / height + n) | 0;
      rgb[i + 2] = (((x + y) * 224) / (width + height) + n) | 0;
    }
  }
  return sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

const median = (values: Float64Array): number => values.slice().sort()[values.length >> 1];

/** Microseconds of each call of each async function, sampled in turn (one call of each per round) after two warm-up rounds. */
async function alternating(fns: ReadonlyArray<() => Promise<unknown>>, samples: number): Promise<Float64Array[]> {
  for (let round = 0; round < 2; round++) for (const fn of fns) await fn();
  const times = fns.map(() => new Float64Array(samples));
  for (let s = 0; s < samples; s++) {
    for (let i = 0; i < fns.length; i++) {
      const t0 = process.hrtime.bigint();
      await fns[i]();
      times[i][s] = Number(process.hrtime.bigint() - t0) / 1e3;
    }
  }
  return times;
}

/**
 * The median of the per-round ratios `a[s] / b[s]`: each pair ran back to back, so a slow spell of
 * the machine (this VM has them, for seconds) scales both and cancels, where the ratio of the two
 * medians can pair a fast floor with a slow pipeline.
 */
function pairedRatio(a: Float64Array, b: Float64Array): number {
  return median(a.map((t, s) => t / b[s]));
}

export async function run(): Promise<Measurement[]> {
  const jpeg = await photo(4032, 3024);
  const floor = () =>
    sharp(jpeg).resize(SIDE, SIDE, { fit: 'contain', kernel: 'cubic', background: '#000', fastShrinkOnLoad: false }).raw().toBuffer();
  const shrinkOnLoad = () => sharp(jpeg).resize(SIDE, SIDE, { fit: 'contain', kernel: 'cubic', background: '#000' }).raw().toBuffer();
  // Pillow's order (horizontal pass first) costs a full-resolution horizontal reduce in libvips,
  // which resizes vertically first: the pipeline's first pass without its padding.
  const horizontalFirst = () => sharp(jpeg).resize(SIDE, 3024, { fit: 'fill', kernel: 'cubic', fastShrinkOnLoad: false }).raw().toBuffer();
  const pipeline = () => preprocessImage(jpeg, { target: TARGET });
  const [pipelineTimes, floorTimes, shrinkTimes, horizontalTimes] = await alternating([pipeline, floor, shrinkOnLoad, horizontalFirst], 15);
  const [pipelineUs, floorUs, shrinkUs, horizontalUs] = [pipelineTimes, floorTimes, shrinkTimes, horizontalTimes].map(median);

  const rows: Measurement[] = [
    {
      name: '4032x3024 JPEG -> 1024x1024 float32 NCHW (FastVLM: pad to square, bicubic, sharp); ratio: median of the per-round ratios to the floor',
      medianUs: pipelineUs,
      ratio: pairedRatio(pipelineTimes, floorTimes),
      target: '<= 1.3x floor',
    },
    { name: 'the same pipeline, ratio of the two medians (pipeline / floor)', medianUs: pipelineUs, ratio: pipelineUs / floorUs },
    { name: 'sharp decode + resize to raw RGB (floor): same JPEG, 1024x1024, cubic, full-resolution decode', medianUs: floorUs },
    { name: 'sharp decode + resize with JPEG shrink-on-load (not used: changes pixels); ratio = pipeline / this', medianUs: shrinkUs, ratio: pairedRatio(pipelineTimes, shrinkTimes) },
    { name: 'sharp decode + horizontal resize only, to 1024x3024 raw RGB (the first pass in one pipeline); ratio = this / floor', medianUs: horizontalUs, ratio: pairedRatio(horizontalTimes, floorTimes) },
  ];

  // The conversion alone: 8-bit RGB to the tensor, into a preallocated buffer (the encoder's input).
  const rgb = new Uint8Array(SIDE * SIDE * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 2654435761) >>> 24;
  const crop = { left: 0, top: 0, width: SIDE, height: SIDE };
  const processor = fastVlmDefaults({ height: SIDE, width: SIDE });
  const conversions = [
    ['conversion/normalisation/layout 1024x1024 (float32 NCHW)', 'FLOAT_32', 'NCHW', undefined, '<= 6 ms'],
    ['conversion 1024x1024 to float16 NCHW', 'FLOAT_16', 'NCHW', undefined, undefined],
    ['conversion 1024x1024 to UFIXED_POINT_8 NHWC', 'UFIXED_POINT_8', 'NHWC', { scale: 1 / 255, offset: 0 }, undefined],
  ] as const;
  for (const [name, dtype, layout, encoding, target] of conversions) {
    const tables = pixelTables(processor, { dtype, ...(encoding === undefined ? {} : { encoding }) });
    const bytes = new Uint8Array(SIDE * SIDE * 3 * (dtype === 'FLOAT_32' ? 4 : dtype === 'FLOAT_16' ? 2 : 1));
    const out = typedView(bytes, dtype) as PixelArray;
    const convert = () => convertPixels(rgb, SIDE, SIDE, crop, layout, tables, out);
    rows.push({ name, medianUs: medianUs(convert, { samples: 31, inner: 5 }), target, heapDeltaBytes: heapDeltaBytes(convert, 50) });
  }

  // Images whose resize runs Pillow's algorithm in TypeScript (upsampling; a factor of 4 or more).
  const small = await photo(800, 600);
  const large = await photo(4624, 3472);
  const [smallUs, largeUs] = (await alternating([() => preprocessImage(small, { target: TARGET }), () => preprocessImage(large, { target: TARGET })], 7)).map(median);
  rows.push({ name: '800x600 JPEG -> 1024x1024 float32 (upsampling: Pillow resampler in TypeScript)', medianUs: smallUs });
  rows.push({ name: '4624x3472 JPEG -> 1024x1024 float32 (factor 4.5: full decode + Pillow resampler in TypeScript)', medianUs: largeUs });
  rows.push(...spliceRowsBench());
  return rows;
}

/**
 * FastVLM-0.5B's splice: 256 image rows of 896 re-expressed in the decoder's input format in the
 * accumulator (as each query with an image does): float32 into a float32 input (AI Hub's
 * `input_embeds`), uint16 codes into a uint16 input of another encoding, float32
 * into uint16 (quantise), both through the SIMD kernels of src/simd. Floors: a memcpy of the rows, and a JavaScript loop copying the same
 * 229,376 elements one by one (what any per-element pass costs at least).
 */
function spliceRowsBench(): Measurement[] {
  const ROWS = 256;
  const WIDTH = 896;
  const n = ROWS * WIDTH;
  const codes = new Uint16Array(n).map((_, i) => (i * 2654435761) >>> 16);
  const floats = Float32Array.from(codes, (q) => (q - 32768) * 1e-4);
  const u16 = { data: codes, dtype: 'UFIXED_POINT_16', encoding: { scale: 1.5e-4, offset: -32768 } } as const;
  const f32 = { data: floats, dtype: 'FLOAT_32' } as const;
  const intoU16 = new Accumulator({ dtype: 'UFIXED_POINT_16', encoding: { scale: 1.2e-4, offset: -31000 }, rowElements: WIDTH }, 4096 * WIDTH * 2);
  const intoF32 = new Accumulator({ dtype: 'FLOAT_32', rowElements: WIDTH }, 4096 * WIDTH * 4);
  const splice = (accumulator: Accumulator, rows: typeof u16 | typeof f32) => () => {
    accumulator.clear();
    accumulator.appendRows(rows, 0, ROWS, 'image rows');
  };
  const copy = new Uint16Array(n);
  const copyLoop = (): void => {
    for (let i = 0; i < n; i++) copy[i] = codes[i];
  };
  const options = { samples: 31, inner: 20 };
  const loopUs = medianUs(copyLoop, options);
  const memcpyUs = medianUs(() => copy.set(codes), options);
  const f32f32 = medianUs(splice(intoF32, f32), options);
  const u16u16 = medianUs(splice(intoU16, u16), options);
  const f32u16 = medianUs(splice(intoU16, f32), options);
  return [
    { name: 'splice 256x896 float32 image rows into a float32 input (AI Hub input_embeds): a memcpy', medianUs: f32f32, target: '<= 300 us', heapDeltaBytes: heapDeltaBytes(splice(intoF32, f32), 200) },
    { name: 'splice 256x896 uint16 image rows into a uint16 input of another encoding (SIMD requantise); ratio to the JS copy loop', medianUs: u16u16, ratio: u16u16 / loopUs, target: '<= 300 us', heapDeltaBytes: heapDeltaBytes(splice(intoU16, u16), 200) },
    { name: 'splice 256x896 float32 image rows into a uint16 input (SIMD quantise); ratio to the JS copy loop', medianUs: f32u16, ratio: f32u16 / loopUs, target: '<= 300 us' },
    { name: 'floor: JavaScript loop copying the same 229,376 uint16 elements', medianUs: loopUs },
    { name: 'floor: memcpy of the same rows (TypedArray.set)', medianUs: memcpyUs },
  ];
}
