/**
 * Hugging Face preprocessor_config.json files: the keys that set pixels, the ones ignored, the ones
 * refused, and wrong values named by their key path.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { NotSupportedError } from '../../src/errors.js';
import { ImageProcessorConfigError, loadImageProcessorConfig, parseImageProcessorConfig, preprocessImage } from '../../src/vision/index.js';
import { exactError } from '../expect-error.js';
import { constant, png } from './images.js';
import { hfValue } from './pillow-oracle.js';

/** FastVLM's preprocessor_config.json as `save_pretrained` writes a CLIPImageProcessor. */
const FASTVLM = {
  crop_size: { height: 1024, width: 1024 },
  do_center_crop: true,
  do_convert_rgb: true,
  do_normalize: true,
  do_rescale: true,
  do_resize: true,
  image_mean: [0.0, 0.0, 0.0],
  image_processor_type: 'CLIPImageProcessor',
  image_std: [1.0, 1.0, 1.0],
  processor_class: 'LlavaProcessor',
  resample: 3,
  rescale_factor: 0.00392156862745098,
  size: { shortest_edge: 1024 },
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'genie-vision-config-'));
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe('reading', () => {
  it("FastVLM's file: every pixel key read, class names ignored", async () => {
    const path = await file('fastvlm.json', JSON.stringify(FASTVLM, null, 2));
    expect(await loadImageProcessorConfig(path)).toEqual({
      cropSize: { height: 1024, width: 1024 },
      doCenterCrop: true,
      doNormalize: true,
      doRescale: true,
      doResize: true,
      imageMean: [0, 0, 0],
      imageStd: [1, 1, 1],
      resample: 'bicubic',
      rescaleFactor: 1 / 255,
      size: { shortestEdge: 1024 },
    });
  });

  it('integer sizes, one number for all channels, null as absent, LLaVA image_aspect_ratio, default_to_square', () => {
    expect(
      parseImageProcessorConfig({ crop_size: 336, size: 336, image_mean: 0.5, image_std: null, image_aspect_ratio: 'pad', do_convert_rgb: null, resample: 2 }),
    ).toEqual({ cropSize: { height: 336, width: 336 }, size: { shortestEdge: 336 }, imageMean: [0.5, 0.5, 0.5], padMode: 'pad', resample: 'bilinear' });
    expect(parseImageProcessorConfig({ size: 384, default_to_square: true, image_aspect_ratio: 'square' })).toEqual({
      size: { height: 384, width: 384 },
      padMode: 'crop',
    });
    expect(parseImageProcessorConfig({ size: { height: 224, width: 448 }, resample: 1 })).toEqual({ size: { height: 224, width: 448 }, resample: 'lanczos' });
    expect(parseImageProcessorConfig({ do_pad: false, patch_size: 64, auto_map: {}, feature_extractor_type: 'x' })).toEqual({});
  });

  it("the settings drive preprocessImage: CLIP's mean and std, crop mode", async () => {
    const settings = parseImageProcessorConfig({
      ...FASTVLM,
      crop_size: 8,
      size: { shortest_edge: 8 },
      image_mean: [0.48145466, 0.4578275, 0.40821073],
      image_std: [0.26862954, 0.26130258, 0.27577711],
      image_aspect_ratio: 'square',
    });
    const tensor = await preprocessImage(await png(constant(16, 12, [90, 90, 90])), {
      target: { shape: [1, 3, 8, 8], dtype: 'FLOAT_32' },
      processor: settings,
    });
    expect(tensor.data[0]).toBe(hfValue(90, 0.48145466, 0.26862954));
    expect(tensor.data[64 * 3 - 1]).toBe(hfValue(90, 0.40821073, 0.27577711));
  });
});

describe('refusals', () => {
  const parse = (value: unknown) => () => parseImageProcessorConfig(value, 'p.json');

  it('values of the wrong type or range name their key path', () => {
    const cases: Array<[unknown, string]> = [
      [[], 'p.json: (top level) must be a JSON object of image processor settings, got []'],
      [{ crop_size: { height: 1024, width: '1024' } }, 'p.json: crop_size.width must be a positive integer, got "1024"'],
      [{ crop_size: { height: 0, width: 1 } }, 'p.json: crop_size.height must be a positive integer, got 0'],
      [{ size: [224] }, 'p.json: size must be an integer or an object {shortest_edge} or {height, width}, got [224]'],
      [{ size: { shortest_edge: 1.5 } }, 'p.json: size.shortest_edge must be a positive integer, got 1.5'],
      [{ image_mean: [0.5, 0.5] }, 'p.json: image_mean must be a finite number or an array of 3 (R, G, B), got [0.5,0.5]'],
      [{ image_std: [1, 0, 1] }, 'p.json: image_std[1] must be a finite non-zero number, got 0'],
      [{ image_mean: [0, 'a', 0] }, 'p.json: image_mean[1] must be a finite number, got "a"'],
      [{ resample: 'bicubic' }, 'p.json: resample must be one of Pillow\'s resampling codes 0-5 (3 = bicubic), got "bicubic"'],
      [{ resample: 7 }, 'p.json: resample must be one of Pillow\'s resampling codes 0-5 (3 = bicubic), got 7'],
      [{ do_resize: 'yes' }, 'p.json: do_resize must be true or false, got "yes"'],
      [{ rescale_factor: 0 }, 'p.json: rescale_factor must be a finite number > 0, got 0'],
      [{ image_aspect_ratio: 1 }, 'p.json: image_aspect_ratio must be a string ("pad" or "square"), got 1'],
    ];
    for (const [value, message] of cases) expect(parse(value)).toThrow(exactError(ImageProcessorConfigError, message));
  });

  it('keys that change pixels in ways genie-ts does not implement, and unknown keys, are NotSupportedError', () => {
    const cases: Array<[unknown, string]> = [
      [{ resample: 0 }, "p.json: resample 0 (nearest) is not supported: genie-ts implements Pillow's filters 1-5"],
      [{ size: { shortest_edge: 224, longest_edge: 448 } }, 'p.json: size.longest_edge is not supported (genie-ts resizes to shortest_edge or to height and width)'],
      [{ crop_size: { height: 1, width: 1, depth: 1 } }, 'p.json: crop_size.depth is not supported (known: height, width)'],
      [{ image_aspect_ratio: 'anyres' }, 'p.json: image_aspect_ratio "anyres" is not supported (genie-ts implements "pad" and "square")'],
      [{ do_pad: true }, 'p.json: do_pad true is not supported: genie-ts does not implement it'],
      [{ crop_pct: 0.9 }, 'p.json: crop_pct is not supported: genie-ts does not know this key, so it cannot tell what it does to the pixels'],
      [{ min_pixels: 3136 }, 'p.json: min_pixels is not supported: genie-ts does not know this key, so it cannot tell what it does to the pixels'],
    ];
    for (const [value, message] of cases) expect(parse(value)).toThrow(exactError(NotSupportedError, message));
  });

  it('files: missing, not JSON (with line:column), not UTF-8, too large', async () => {
    const missing = join(dir, 'none.json');
    await expect(loadImageProcessorConfig(missing)).rejects.toThrow(
      exactError(ImageProcessorConfigError, `cannot read preprocessor config ${missing}: ENOENT: no such file or directory`),
    );
    const broken = await file('broken.json', '{\n  "crop_size": 1024,\n  "size": }\n');
    await expect(loadImageProcessorConfig(broken)).rejects.toThrow(exactError(ImageProcessorConfigError, `invalid JSON in ${broken}:3:11: Unexpected token '}'`));
    const latin1 = join(dir, 'latin1.json');
    await writeFile(latin1, Buffer.from([0x7b, 0x22, 0xe9, 0x22, 0x3a, 0x31, 0x7d]));
    await expect(loadImageProcessorConfig(latin1)).rejects.toThrow(exactError(ImageProcessorConfigError, `${latin1} is not UTF-8 text`));
    const big = await file('big.json', `{"processor_class": "${'x'.repeat(1024 * 1024)}"}`);
    await expect(loadImageProcessorConfig(big)).rejects.toThrow(exactError(ImageProcessorConfigError, `${big} is larger than 1 MiB: not a preprocessor config`));
    await expect(loadImageProcessorConfig(await file('bad-value.json', '{"crop_size": -1}'))).rejects.toThrow(/bad-value.json: crop_size must be a positive integer, got -1$/);
  });
});
