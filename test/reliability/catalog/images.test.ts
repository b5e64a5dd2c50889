/**
 * Catalog: bad image input to a VLM dialog (`query(prompt, { images })`) and bad vision setups at
 * `Dialog.create`. Argument errors are thrown by the call itself; an image that cannot be decoded or
 * encoded rejects at the query's first step, before anything is fed. Either way the dialog goes on
 * as if the call had not been made: its next image turn equals that of a dialog that saw no bad call.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDemoVisionEncoder } from '../../../src/demo/vision-encoder.js';
import { InvalidArgumentError, NotSupportedError } from '../../../src/errors.js';
import { CtxBinError } from '../../../src/backends/reference/errors.js';
import { ContextLimitError } from '../../../src/graphs/errors.js';
import { AccumulatorOverflowError } from '../../../src/runtime/embeddings/accumulator.js';
import type { Dialog, QueryOptions } from '../../../src/runtime/dialog.js';
import { ImageInputError } from '../../../src/runtime/vision/prompt.js';
import { ImageError } from '../../../src/vision/index.js';
import { DialogPool, drain, makeModel, tempDir, writeBundle, type Bundle, type Json } from '../../runtime/fixtures.js';
import { constant, gradient, png } from '../../vision/images.js';
import { expectRejects, expectThrows, type BadCall } from './catalog.js';

const root = tempDir('catalog-images');
const model = makeModel({}, 'catalog-images');
const hidden = model.config.hiddenSize;
const pool = new DialogPool('Reference');
let bundle: Bundle;
let encoderConfig: string;
let photo: Buffer;
let expected: readonly number[];

function config(extra: Json = {}): Json {
  const c = pool.config(bundle, { contextSize: 48, maxNumTokens: 3 });
  return { dialog: { ...c.dialog, ...extra } };
}

function open(options: Json = {}, cfg: Json = config()): Promise<Dialog> {
  return pool.open(bundle, cfg, { imageEncoder: encoderConfig, ...options });
}

/** The turn every case is followed by: an image between two characters. */
async function probeTurn(dialog: Dialog): Promise<readonly number[]> {
  return (await drain((o) => dialog.query('A<image>B', { ...o, images: [photo] }))).result.generatedTokens;
}

async function ready(): Promise<Dialog> {
  const dialog = await open();
  await drain((o) => dialog.query('<image>', { ...o, images: [photo] }));
  return dialog;
}

beforeAll(async () => {
  bundle = await writeBundle(root, model, { name: 'decoder', arSet: [1, 8], cl: 64, splits: 1, inputKind: 'embeds' });
  const vision = await writeDemoVisionEncoder(join(root, 'vision'), { hidden, imageSize: 32, patch: 8, visionWidth: 32, layers: 1, heads: 2, split: 'separate' });
  encoderConfig = vision.configPath;
  photo = await png(gradient(40, 30));
  const clean = await ready();
  expected = await probeTurn(clean);
});
afterAll(() => pool.disposeAll());

const text = (prompt: string, options: Json) => (d: Dialog) => d.query(prompt, options as QueryOptions);

describe('bad image arguments, thrown by query() itself', () => {
  const dir = join(tempDir('catalog-images-files'), 'a-folder');
  mkdirSync(dir, { recursive: true });
  const BAD: readonly BadCall<Dialog>[] = [
    { name: 'two placeholders, one image', call: text('<image><image>', { images: [Buffer.from('x')] }), error: ImageInputError, words: ['2 "<image>" placeholders', '1 image'] },
    { name: 'an image, no placeholder', call: text('describe', { images: [Buffer.from('x')] }), error: ImageInputError, words: ['0 "<image>" placeholders', '1 image'] },
    { name: 'a placeholder, no images option', call: text('<image>', {}), error: ImageInputError, words: ['1 "<image>" placeholder', '0 images'] },
    { name: 'images: "photo.png" (not an array)', call: text('<image>', { images: 'photo.png' }), error: InvalidArgumentError, words: ['images', 'array', 'the string "photo.png"'] },
    { name: 'a missing file', call: text('<image>', { images: [join(dir, 'nope.png')] }), error: ImageInputError, words: ['images[0]', 'nope.png', 'ENOENT'] },
    { name: 'a folder', call: text('<image>', { images: [dir] }), error: ImageInputError, words: ['images[0]', 'not a regular file'] },
    { name: 'an empty path', call: text('<image>', { images: [''] }), error: ImageInputError, words: ['images[0]', 'empty path'] },
    { name: 'empty bytes', call: text('<image>', { images: [new Uint8Array(0)] }), error: ImageInputError, words: ['images[0]', 'empty (0 bytes)'] },
    { name: 'a number', call: text('<image>', { images: [7] }), error: ImageInputError, words: ['images[0]', 'image file path', '7'] },
    { name: 'images on tokenQuery', call: (d) => d.tokenQuery([1], { images: [] } as QueryOptions), error: InvalidArgumentError, words: ['tokenQuery options', 'unknown option "images"'] },
    {
      name: 'more image rows than the context holds',
      call: text('<image><image><image>', { images: [Buffer.from('a'), Buffer.from('b'), Buffer.from('c')] }),
      error: ContextLimitError,
      words: ['the prompt needs', 'context.size=48'],
    },
  ];

  it.each(BAD)('$name', async ({ call, error, words }) => {
    const dialog = await ready();
    expectThrows(() => call(dialog), error, words);
    expect(await probeTurn(dialog)).toEqual(expected);
  });
});

describe('images that cannot be used, rejected at the first step', () => {
  const cases: readonly { name: string; image: () => Promise<Uint8Array | string>; error: typeof ImageError | typeof InvalidArgumentError; words: string[] }[] = [
    { name: 'a truncated PNG', image: async () => photo.subarray(0, 50), error: ImageError, words: ['<buffer of 50 bytes>'] },
    { name: 'bytes that are no image', image: async () => Buffer.from('plain text, not an image'), error: ImageError, words: ['<buffer of 24 bytes>'] },
    {
      name: 'an animated GIF',
      image: async () => sharp([await png(constant(8, 8, [0, 0, 0])), await png(constant(8, 8, [255, 0, 0]))], { join: { animated: true } }).gif().toBuffer(),
      error: ImageError,
      words: ['2 frames or pages', 'animated'],
    },
    {
      name: 'a file with a wrong extension and corrupt content',
      image: async () => {
        const path = join(root, 'broken.jpg');
        writeFileSync(path, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]));
        return path;
      },
      error: ImageError,
      words: ['broken.jpg'],
    },
    { name: 'a pixel tensor of the wrong size', image: async () => ({ bytes: new Uint8Array(12) }) as never, error: InvalidArgumentError, words: ['pixel tensor has 12 bytes', 'pixel_values'] },
  ];

  it.each(cases)('$name', async ({ image, error, words }) => {
    const dialog = await ready();
    const bad = await image();
    await expectRejects(() => drain((o) => dialog.query('x<image>', { ...o, images: [bad] })), error, words);
    expect(await probeTurn(dialog)).toEqual(expected);
  });

  it('an accumulator-size too small for the image rows (text-generator config)', async () => {
    const generator = { 'text-generator': { ...config().dialog, 'accumulator-size': 10 * hidden * 4 } };
    const dialog = await pool.open(bundle, generator, { imageEncoder: encoderConfig });
    await expectRejects(() => drain((o) => dialog.query('x<image>', { ...o, images: [photo] })), AccumulatorOverflowError, ['rows of images[0]', 'accumulator-size']);
    expect(dialog.contextUsed).toBe(0);
  });
});

describe('bad vision setups at Dialog.create', () => {
  it('an image encoder whose rows are not the embedding width', async () => {
    const narrow = await writeDemoVisionEncoder(join(root, 'narrow'), { hidden: hidden / 2, imageSize: 32, patch: 8, visionWidth: 32, layers: 1, heads: 2 });
    await expectRejects(() => open({ imageEncoder: narrow.configPath }), InvalidArgumentError, [`rows have ${hidden / 2} elements`, `embedding rows have ${hidden}`]);
  });

  // The reference ctx-bin checks its own IO against Genie's image-encoder inputs before the layout
  // does (a QNN context binary would reach discoverImageEncoderLayout's ModelLayoutError instead).
  it('an image-encoder graph with an input Genie does not know', async () => {
    const odd = await writeDemoVisionEncoder(join(root, 'odd'), { hidden, imageSize: 32, patch: 8, visionWidth: 32, layers: 1, heads: 2 });
    const { readFileSync } = await import('node:fs');
    const bin = readFileSync(join(odd.dir, odd.ctxBins[0]));
    const patched = Buffer.from(bin.toString('latin1').replaceAll('pixel_values', 'pixel_valueX'), 'latin1');
    writeFileSync(join(odd.dir, odd.ctxBins[0]), patched);
    await expectRejects(() => open({ imageEncoder: odd.configPath }), CtxBinError, ['unexpected tensor "pixel_valueX"', 'an image encoder takes only pixel_values']);
  });

  it('an image encoder for a model that takes token ids', async () => {
    const ids = await writeBundle(root, model, { name: 'ids', arSet: [1, 8], cl: 64, splits: 1 });
    await expectRejects(() => pool.open(ids, pool.config(ids), { imageEncoder: encoderConfig }), NotSupportedError, ['takes token ids', 'embeddings']);
  });

  it('imageEncoder: 5, imagePlaceholder: ""', async () => {
    await expectRejects(() => open({ imageEncoder: 5 }), InvalidArgumentError, ['imageEncoder', 'image-encoder config', '5']);
    await expectRejects(() => open({ imagePlaceholder: '' }), InvalidArgumentError, ['imagePlaceholder', 'non-empty string']);
  });
});
