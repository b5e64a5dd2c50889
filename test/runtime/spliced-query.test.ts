/**
 * Queries with images (`query(prompt, { images })`): the prompt split at its placeholders, text
 * through the LUT, each image's rows (from an ImageEmbedder) requantised into the model input and
 * spliced in place. Oracles: the uncached float64 model over the same embedding sequence built here
 * (`fullForward` with rows), and `embeddingQuery` of rows assembled here by hand.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotSupportedError } from '../../src/errors.js';
import { ContextLimitError } from '../../src/graphs/errors.js';
import { Dialog } from '../../src/runtime/dialog.js';
import { ImageInputError } from '../../src/runtime/vision/prompt.js';
import { exactError } from '../expect-error.js';
import { FakeEmbedder } from './vision/fake-embedder.js';
import { fullForward } from '../backends/reference/qwen2-oracle.js';
import {
  argmax, BACKENDS, DialogPool, drain, makeModel, sharedTokenizer, silentEos, tempDir, writeBundle, type Bundle, type Turn,
} from './fixtures.js';

function expectMatchesForward(bundle: Bundle, sequence: (number | number[])[], turn: Turn): void {
  const { model } = bundle;
  const fed = turn.sampled.slice(0, -1);
  const expected = fullForward(model.config, model.weights, [...sequence, ...fed]);
  turn.logits.forEach((row, i) => {
    const want = expected[sequence.length - 1 + i];
    let worst = 0;
    for (let v = 0; v < want.length; v++) worst = Math.max(worst, Math.abs(row[v] - want[v]));
    expect(worst).toBeLessThanOrEqual(1e-4);
    expect(turn.sampled[i]).toBe(argmax(want));
  });
}

describe.each(BACKENDS)('%s: query with images', (backend) => {
  const root = tempDir('runtime-spliced-query');
  const dialogs = new DialogPool(backend);
  const model = makeModel({}, 'spliced-query');
  const width = model.config.hiddenSize;
  let bundle: Bundle;
  let embedder: FakeEmbedder;
  let dialog: Dialog;
  const imageA = Uint8Array.from([1, 2, 3, 4, 5]);
  const imageB = Uint8Array.from([9, 8, 7]);

  beforeAll(async () => {
    bundle = await writeBundle(root, model, { name: 'embeds', arSet: [1, 4], cl: 64, splits: 2, inputKind: 'embeds' });
    embedder = new FakeEmbedder(5, width);
    dialog = await dialogs.open(bundle, dialogs.config(bundle, { maxNumTokens: 4 }), { imageEncoder: embedder });
  });
  afterAll(() => dialogs.disposeAll());

  async function textIds(text: string): Promise<number[]> {
    return Array.from((await sharedTokenizer()).encode(text));
  }

  it('[text, image, text, image] equals the float64 model over the same rows; positions run on', async () => {
    dialog.reset();
    // Single ASCII characters: byte tokens, inside the test model's 1024-entry vocabulary.
    const prompt = 'L<image> <image>!';
    const turn = await drain((o) => dialog.query(prompt, { ...o, images: [imageA, imageB] }));
    const sequence = [...(await textIds('L')), ...embedder.floats(imageA), ...(await textIds(' ')), ...embedder.floats(imageB), ...(await textIds('!'))];
    expectMatchesForward(bundle, sequence, turn);
    expect(turn.result.kpis['num-prompt-tokens']).toBe(sequence.length);
    expect(turn.result.kpis['num-images']).toBe(2);
    expect(turn.result.kpis['image-encoder-time']).toBe(4);
    expect(turn.result.promptTokens).toEqual(sequence.filter((e) => typeof e === 'number'));
    expect(dialog.contextUsed).toBe(sequence.length + turn.sampled.length - 1);
  });

  it('gives what embeddingQuery gives for the same rows assembled by hand', async () => {
    dialog.reset();
    const spliced = await drain((o) => dialog.query('A<image>B', { ...o, images: [imageA] }));
    dialog.reset();
    const table = model.weights.get('model.embed_tokens.weight')!.data;
    const rows = [...(await textIds('A')).map((t) => Array.from(table.subarray(t * width, (t + 1) * width))), ...embedder.floats(imageA), ...(await textIds('B')).map((t) => Array.from(table.subarray(t * width, (t + 1) * width)))];
    const manual = await drain((o) => dialog.embeddingQuery(Float32Array.from(rows.flat()), o));
    expect(spliced.sampled).toEqual(manual.sampled);
    expect(spliced.logits).toEqual(manual.logits);
  });

  it('keeps the image in the KV cache for a follow-up text turn', async () => {
    dialog.reset();
    const first = await drain((o) => dialog.query('<image>Q', { ...o, images: [imageB] }));
    const second = await drain((o) => dialog.query('m', o));
    const eos = silentEos(model);
    const sequence = [...embedder.floats(imageB), ...(await textIds('Q')), ...first.sampled.slice(0, -1)];
    // Genie's turn rules: the last sampled token is carried over, then EOS, then the new prompt.
    const context = [...sequence, first.sampled.at(-1)!, eos, ...(await textIds('m'))];
    expectMatchesForward(bundle, context, second);
  });

  it('a rewind query with the same image reuses its cached rows without encoding it again', async () => {
    dialog.reset();
    await drain((o) => dialog.query('Q<image>', { ...o, images: [imageA] }));
    const calls = embedder.calls;
    const rewound = await drain((o) => dialog.query('Q<image>R', { ...o, images: [imageA], rewind: true }));
    expect(embedder.calls).toBe(calls);
    expect(rewound.result.reusedTokens).toBe(1 + 5);
    expect(rewound.result.kpis['num-images']).toBe(0);
    const sequence = [...(await textIds('Q')), ...embedder.floats(imageA), ...(await textIds('R'))];
    expectMatchesForward(bundle, sequence, rewound);
    // A different image at the same place is not reused: only the text before it is.
    const other = await drain((o) => dialog.query('Q<image>R', { ...o, images: [imageB], rewind: true }));
    expect(other.result.reusedTokens).toBe(1);
    expect(embedder.calls).toBe(calls + 1);
    expectMatchesForward(bundle, [...(await textIds('Q')), ...embedder.floats(imageB), ...(await textIds('R'))], other);
  });

  it('checks placeholders, images and the context at the call, leaving the dialog as it was', async () => {
    dialog.reset();
    await drain((o) => dialog.query('<image>', { ...o, images: [imageA] }));
    const used = dialog.contextUsed;
    expect(() => dialog.query('<image> and <image>', { images: [imageA] })).toThrow(
      exactError(ImageInputError, 'the prompt has 2 "<image>" placeholders but 1 image was given: each placeholder takes one image, in order'),
    );
    expect(() => dialog.query('an <image>')).toThrow(
      exactError(ImageInputError, 'the prompt has 1 "<image>" placeholder but 0 images were given: each placeholder takes one image, in order'),
    );
    expect(() => dialog.query('<image>', { images: [join(root, 'missing.png')] })).toThrow(
      exactError(ImageInputError, `images[0] "${join(root, 'missing.png')}" cannot be read: ENOENT: no such file or directory`),
    );
    expect(() => dialog.query('<image>', { images: [new Uint8Array(0)] })).toThrow(exactError(ImageInputError, 'images[0] is empty (0 bytes)'));
    expect(() => dialog.query('<image>', { images: [42 as never] })).toThrow(
      exactError(
        ImageInputError,
        'images[0] must be an image file path, the bytes of an image file (Uint8Array) or a preprocessed pixel tensor ({ bytes }), got 42',
      ),
    );
    expect(() => dialog.query('<image>'.repeat(12), { images: Array.from({ length: 12 }, () => imageA) })).toThrow(ContextLimitError);
    expect(dialog.contextUsed).toBe(used);
  });

  it('an image that fails to encode fails the query and leaves the dialog unchanged and usable', async () => {
    dialog.reset();
    await drain((o) => dialog.query('<image>', { ...o, images: [imageA] }));
    const used = dialog.contextUsed;
    embedder.failNext = new InvalidArgumentError('corrupt image');
    await expect(drain((o) => dialog.query('x<image>', { ...o, images: [imageB] }))).rejects.toThrow(exactError(InvalidArgumentError, 'corrupt image'));
    expect(dialog.contextUsed).toBe(used);
    const next = await drain((o) => dialog.query('x<image>', { ...o, images: [imageB] }));
    expect(next.sampled.length).toBeGreaterThan(0);
  });

  it('reads image files by path (the same bytes give the same rows)', async () => {
    const path = join(root, 'a.bin');
    writeFileSync(path, imageA);
    dialog.reset();
    const byPath = await drain((o) => dialog.query('<image>', { ...o, images: [path] }));
    dialog.reset();
    const byBytes = await drain((o) => dialog.query('<image>', { ...o, images: [imageA] }));
    expect(byPath.logits).toEqual(byBytes.logits);
  });
});

describe('query with images: configuration errors', () => {
  const root = tempDir('runtime-spliced-config');
  const dialogs = new DialogPool('Reference');
  const model = makeModel({}, 'spliced-query');
  afterAll(() => dialogs.disposeAll());

  it('images need an image encoder; the encoder must match the embedding width and the model must take embeddings', async () => {
    const embeds = await writeBundle(root, model, { name: 'embeds', arSet: [1, 4], cl: 32, splits: 1, inputKind: 'embeds' });
    const ids = await writeBundle(root, model, { name: 'ids', arSet: [1, 4], cl: 32, splits: 1 });
    const plain = await dialogs.open(embeds);
    expect(() => plain.query('<image>', { images: [Uint8Array.of(1)] })).toThrow(
      exactError(
        NotSupportedError,
        'query option images needs an image encoder: create the dialog with the imageEncoder option (an image-encoder config), or genie-ts run --image-encoder FILE',
      ),
    );
    await expect(dialogs.open(embeds, undefined, { imageEncoder: new FakeEmbedder(3, model.config.hiddenSize + 1) })).rejects.toThrow(
      exactError(
        InvalidArgumentError,
        `Dialog.create option imageEncoder: its rows have ${model.config.hiddenSize + 1} elements but the model's embedding rows have ${model.config.hiddenSize} (embedding.size)`,
      ),
    );
    await expect(dialogs.open(ids, undefined, { imageEncoder: new FakeEmbedder(3, model.config.hiddenSize) })).rejects.toThrow(NotSupportedError);
  });
});
