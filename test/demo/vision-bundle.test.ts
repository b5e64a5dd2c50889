/**
 * `genie-ts demo --vision`: a VLM bundle whose configs pass `config check` and run an image query.
 * Oracles: the bundle's own pieces opened separately (the image encoder's rows and the LUT spliced
 * by hand into an embedding query), and the pipeline form against the dialog form.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configCommand } from '../../src/cli/commands/config.js';
import { DemoOptionError, resolveDemoOptions, writeDemoBundle, type DemoBundle } from '../../src/demo/index.js';
import { bundleFiles } from '../../src/demo/layout.js';
import { Dialog } from '../../src/runtime/dialog.js';
import { ImageEncoderNode, Pipeline, TextEncoderNode, TextGeneratorNode } from '../../src/runtime/pipeline/index.js';
import { loadTokenizer } from '../../src/runtime/tokenizer/index.js';
import { drain } from '../runtime/fixtures.js';
import { listFiles, SMALL, tempDir } from './fixtures.js';

const root = tempDir('vision-bundle');
let bundle: DemoBundle;
let image: Buffer;
const dialogs: Dialog[] = [];

beforeAll(async () => {
  bundle = await writeDemoBundle(join(root, 'vlm'), { ...SMALL, hidden: 16, cl: 64, vision: true });
  image = await sharp({ create: { width: 30, height: 20, channels: 3, background: { r: 200, g: 80, b: 10 } } }).png().toBuffer();
});
afterAll(async () => {
  for (const d of dialogs) await d.dispose();
});

const json = (file: string): Record<string, any> => JSON.parse(readFileSync(join(bundle.dir, file), 'utf8'));

describe('genie-ts demo --vision', () => {
  it('writes the files its manifest lists: configs, decoder, LUT, vision/ encoder and projector, both checkpoints', () => {
    expect(listFiles(bundle.dir).filter((f) => f !== 'demo.json')).toEqual(bundleFiles(bundle.options));
    expect(bundle.options.input).toBe('embeds');
    expect(json('image-encoder.json')['image-encoder'].engine.model.binary['ctx-bins']).toEqual([
      'vision/vision_encoder.safetensors',
      'vision/vision_projector.safetensors',
    ]);
    const { 'accumulator-size': size, ...generator } = json('text-generator.json')['text-generator'];
    expect(generator).toEqual(json('genie_config.json').dialog);
    expect(size).toBe(64 * 16 * 4);
    expect(Object.keys(json('vision/hf/config.json'))).toContain('mm_projector_type');
  });

  it('its tokenizer has <image> as the id after its own added tokens', async () => {
    const tokenizer = await loadTokenizer(join(bundle.dir, 'tokenizer.json'));
    expect(Array.from(tokenizer.encode('<image>'))).toEqual([151669]);
  });

  it.each(['genie_config.json', 'text-generator.json', 'image-encoder.json'])('%s passes config check without warnings', async (file) => {
    let stdout = '';
    const code = await configCommand(['check', join(bundle.dir, file)], { stdout: (t) => void (stdout += t), stderr: () => {}, isTTY: false });
    expect(code).toBe(0);
    expect(stdout.startsWith('ok\n')).toBe(true);
    expect(stdout).not.toContain('warning');
  });

  it('runs an image query; the pipeline form gives the same tokens', async () => {
    const dialog = await Dialog.create(bundle.configPath, { imageEncoder: join(bundle.dir, 'image-encoder.json') });
    dialogs.push(dialog);
    const viaQuery = await drain((o) => dialog.query('A<image>B', { ...o, images: [image], maxTokens: 4 }));
    expect(viaQuery.result.kpis['num-images']).toBe(1);
    expect(viaQuery.result.kpis['num-prompt-tokens']).toBe(2 + 16);

    const pipeline = new Pipeline();
    const generator = await TextGeneratorNode.create(join(bundle.dir, 'text-generator.json'));
    const vision = await ImageEncoderNode.create(join(bundle.dir, 'image-encoder.json'));
    const lut = await TextEncoderNode.create({
      'text-encoder': {
        version: 1,
        type: 'lut',
        lut: { version: 1, 'lut-path': 'embedding_lut.bin', size: 16, datatype: 'float32' },
        tokenizer: { version: 1, path: 'tokenizer.json' },
      },
    }, { baseDir: bundle.dir });
    try {
      pipeline.addNode(lut).addNode(vision).addNode(generator).connect(lut, generator).connect(vision, generator);
      void lut.setText('A');
      void vision.setImage(image);
      void lut.setText('B');
      const viaPipeline = await drain((o) => pipeline.execute({ ...o, maxTokens: 4 }));
      expect(viaPipeline.sampled).toEqual(viaQuery.sampled);
      expect(viaPipeline.logits).toEqual(viaQuery.logits);
    } finally {
      await pipeline.dispose();
    }
  });

  it('refuses a vision bundle whose decoder takes token ids', () => {
    expect(() => resolveDemoOptions({ vision: true, input: 'ids' })).toThrow(DemoOptionError);
    expect(resolveDemoOptions({ vision: true }).input).toBe('embeds');
  });
});
