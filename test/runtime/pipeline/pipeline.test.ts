/**
 * Genie's pipeline: a LUT text encoder and an image encoder appending rows, in setData order, to a
 * text generator's accumulator. Oracle: `query(prompt, { images })` over the same pieces (an
 * independent path through the tokenizer, the dialog's LUT and its own accumulator).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccumulatorOverflowError } from '../../../src/runtime/embeddings/accumulator.js';
import { demoTokenizerPath } from '../../../src/runtime/tokenizer/index.js';
import {
  ImageEncoderNode, Pipeline, PipelineError, TextEncoderNode, TextGeneratorNode,
} from '../../../src/runtime/pipeline/index.js';
import { exactError } from '../../expect-error.js';
import { BACKENDS, DialogPool, drain, makeModel, sharedTokenizer, tempDir, writeBundle, type Bundle, type Json } from '../fixtures.js';
import { FakeEmbedder } from '../vision/fake-embedder.js';

describe.each(BACKENDS)('%s: Pipeline', (backend) => {
  const root = tempDir('runtime-pipeline');
  const dialogs = new DialogPool(backend);
  const model = makeModel({}, 'pipeline');
  const width = model.config.hiddenSize;
  let bundle: Bundle;
  let generatorConfig: Json;
  let textEncoderConfig: Json;
  const image = Uint8Array.from([3, 1, 4, 1, 5]);

  beforeAll(async () => {
    bundle = await writeBundle(root, model, { name: 'embeds', arSet: [1, 4], cl: 64, splits: 2, inputKind: 'embeds' });
    const { dialog } = dialogs.config(bundle, { maxNumTokens: 5 });
    generatorConfig = { 'text-generator': { ...dialog, 'accumulator-size': 40 * width * 4 } };
    textEncoderConfig = {
      'text-encoder': {
        version: 1,
        type: 'lut',
        lut: { version: 1, 'lut-path': bundle.lut, size: width, datatype: 'float32' },
        tokenizer: { version: 1, path: demoTokenizerPath() },
      },
    };
  });
  afterAll(() => dialogs.disposeAll());

  async function makePipeline(embedder = new FakeEmbedder(5, width)): Promise<{ pipeline: Pipeline; lut: TextEncoderNode; vision: ImageEncoderNode; generator: TextGeneratorNode }> {
    const tokenizer = await sharedTokenizer();
    const generator = await TextGeneratorNode.create(generatorConfig, { baseDir: bundle.dir, tokenizer, backend: backendOptions() });
    const lut = await TextEncoderNode.create(textEncoderConfig, { baseDir: bundle.dir, tokenizer });
    const vision = new ImageEncoderNode(embedder, false);
    const pipeline = new Pipeline().addNode(lut).addNode(vision).addNode(generator).connect(lut, generator).connect(vision, generator);
    return { pipeline, lut, vision, generator };
  }

  function backendOptions(): Json {
    return backend === 'QnnHtp' ? { qnn: { provider: 'simulated' } } : undefined;
  }

  it('setData order is the prompt order: gives the tokens query(prompt, { images }) gives', async () => {
    const { pipeline, lut, vision } = await makePipeline();
    try {
      void lut.setText('A');
      void vision.setImage(image);
      void lut.setText('B!');
      const viaPipeline = await drain((o) => pipeline.execute(o));
      expect(pipeline.accumulatedBytes).toBe(0);

      const dialog = await dialogs.open(bundle, dialogs.config(bundle, { maxNumTokens: 5 }), { imageEncoder: new FakeEmbedder(5, width) });
      const viaQuery = await drain((o) => dialog.query('A<image>B!', { ...o, images: [image] }));
      expect(viaPipeline.sampled).toEqual(viaQuery.sampled);
      expect(viaPipeline.logits).toEqual(viaQuery.logits);
      expect(viaPipeline.result.text).toBe(viaQuery.result.text);
    } finally {
      await pipeline.dispose();
    }
  });

  it('bounds the accumulator by accumulator-size; a failed append adds nothing and later ones still land', async () => {
    const embedder = new FakeEmbedder(30, width);
    const { pipeline, lut, vision } = await makePipeline(embedder);
    try {
      await vision.setImage(image);
      await expect(vision.setImage(image)).rejects.toThrow(
        exactError(
          AccumulatorOverflowError,
          `image-encoder image (30 rows of ${width * 4} bytes) does not fit in the embedding accumulator: ${30 * width * 4} of ` +
            `${40 * width * 4} bytes (accumulator-size) are used, ${60 * width * 4} would be`,
        ),
      );
      await lut.setText('x');
      expect(pipeline.accumulatedBytes).toBe(31 * width * 4);
      pipeline.reset();
      expect(pipeline.accumulatedBytes).toBe(0);
    } finally {
      await pipeline.dispose();
    }
  });

  it('rejects misuse with PipelineError', async () => {
    const { pipeline, lut, generator } = await makePipeline();
    try {
      expect(() => pipeline.connect(lut, generator)).toThrow(exactError(PipelineError, 'connect: the text-encoder node is already connected'));
      expect(() => pipeline.addNode(lut)).toThrow(exactError(PipelineError, 'the text-encoder node was already added'));
      const stray = new ImageEncoderNode(new FakeEmbedder(2, width), false);
      expect(() => pipeline.connect(stray, generator)).toThrow(exactError(PipelineError, 'connect: the image-encoder node was not added to this pipeline'));
      expect(() => stray.setImage(image)).toThrow(
        exactError(PipelineError, 'the image-encoder node is not connected to a text generator (Pipeline.connect)'),
      );
      pipeline.addNode(stray);
      expect(() => pipeline.connect(generator, lut)).toThrow(
        exactError(PipelineError, 'connect: encoders connect only to a text-generator node, not to a text-encoder node'),
      );
      const narrow = new ImageEncoderNode(new FakeEmbedder(2, width - 1), false);
      pipeline.addNode(narrow);
      expect(() => pipeline.connect(narrow, generator)).toThrow(
        exactError(PipelineError, `connect: the image encoder's rows have ${width - 1} elements but the text generator's embedding rows have ${width}`),
      );
      await expect(pipeline.execute().next()).rejects.toThrow(exactError(PipelineError, 'execute: nothing was set (no text and no encoder output)'));
      pipeline.setText('h');
      const turn = await drain((o) => pipeline.execute(o));
      expect(turn.sampled.length).toBeGreaterThan(0);
    } finally {
      await pipeline.dispose();
    }
    expect(() => pipeline.setText('x')).toThrow(exactError(PipelineError, 'the pipeline was disposed'));
  });

  it('a text-encoder node reads its LUT from its own config (its vocabulary from the file size)', async () => {
    const node = await TextEncoderNode.create(textEncoderConfig, { baseDir: bundle.dir, tokenizer: await sharedTokenizer() });
    expect(node.table.nVocab).toBe(model.config.vocabSize);
    expect(node.table.size).toBe(width);
    await expect(TextEncoderNode.create({ ...textEncoderConfig, 'text-encoder': { ...textEncoderConfig['text-encoder'], lut: { version: 1, 'lut-path': join(root, 'none.bin'), size: width } } }, { baseDir: bundle.dir })).rejects.toThrow();
  });
});
