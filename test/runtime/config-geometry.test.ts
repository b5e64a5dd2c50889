/**
 * Config keys that state the model's shape (`n-vocab`, `kv-dim`, `rope-dim` / `pos-id-dim`, `n-embd`,
 * `embedding`) are checked against the binaries when a dialog opens. The tiny model has hidden size
 * 32 and head_dim 8, so its RoPE rows hold 4 frequencies; the bundles follow AI Hub's tensor names.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelLayoutError } from '../../src/graphs/errors.js';
import { EmbeddingTableError } from '../../src/runtime/embeddings/lut.js';
import { exactError } from '../expect-error.js';
import { DialogPool, makeModel, tempDir, writeBundle, type Bundle, type Json } from './fixtures.js';

describe('the config\'s statements about the model must match the binaries', () => {
  const root = tempDir('runtime-config-geometry');
  const reference = new DialogPool('Reference');
  const htp = new DialogPool('QnnHtp');
  const model = makeModel({}, 'config-geometry');
  const hidden = model.config.hiddenSize;
  const headDim = model.config.headDim;
  let ids: Bundle;
  let embeds: Bundle;

  beforeAll(async () => {
    expect([hidden, headDim]).toEqual([32, 8]);
    ids = await writeBundle(root, model, { name: 'ids', arSet: [1, 8], cl: 64, splits: 2 });
    embeds = await writeBundle(root, model, { name: 'embeds', arSet: [1, 8], cl: 64, splits: 2, inputKind: 'embeds' });
  });
  afterAll(async () => {
    await reference.disposeAll();
    await htp.disposeAll();
  });

  function edited(pool: DialogPool, bundle: Bundle, edit: (dialog: Json) => void): Json {
    const config = pool.config(bundle);
    edit(config.dialog);
    return config;
  }

  it('explicit values that match open, on QnnHtp and on Reference', async () => {
    const legacy = edited(htp, ids, (d) => {
      delete d.engine.model['positional-encoding'];
      Object.assign(d.engine.backend.QnnHtp, { 'kv-dim': headDim, 'pos-id-dim': headDim / 2, 'rope-theta': model.config.ropeTheta });
      d.context['n-embd'] = hidden;
    });
    await expect(htp.open(ids, legacy)).resolves.toBeDefined();
    const deduced = edited(htp, ids, (d) => (d.engine.backend.QnnHtp['kv-dim'] = -1));
    await expect(htp.open(ids, deduced)).resolves.toBeDefined();
    const callback = edited(reference, embeds, (d) => (d.embedding = { version: 1, type: 'callback', size: hidden, datatype: 'float32' }));
    await expect(reference.open(embeds, callback)).resolves.toBeDefined();
  });

  it('QnnHtp kv-dim other than the KV tensors\' head_dim', async () => {
    const config = edited(htp, ids, (d) => (d.engine.backend.QnnHtp['kv-dim'] = 128));
    await expect(htp.open(ids, config)).rejects.toThrow(
      exactError(ModelLayoutError, 'dialog.engine.backend.QnnHtp.kv-dim = 128, but "past_key_0_in" has head_dim 8'),
    );
  });

  it('a rope dim other than the width of the cos/sin rows, in either form', async () => {
    const modern = edited(reference, ids, (d) => (d.engine.model['positional-encoding']['rope-dim'] = headDim));
    await expect(reference.open(ids, modern)).rejects.toThrow(
      exactError(ModelLayoutError, 'dialog.engine.model.positional-encoding.rope-dim = 8, but "position_ids_cos" rows hold 4 frequencies (head_dim / 2)'),
    );
    const legacy = edited(htp, ids, (d) => {
      delete d.engine.model['positional-encoding'];
      Object.assign(d.engine.backend.QnnHtp, { 'pos-id-dim': 64, 'rope-theta': model.config.ropeTheta });
    });
    await expect(htp.open(ids, legacy)).rejects.toThrow(
      exactError(ModelLayoutError, 'dialog.engine.backend.QnnHtp.pos-id-dim = 64, but "position_ids_cos" rows hold 4 frequencies (head_dim / 2)'),
    );
  });

  it('context.n-vocab other than the logits width, on both backends and with a LUT of that n-vocab', async () => {
    expect(model.config.vocabSize).toBe(1024);
    for (const pool of [reference, htp]) {
      const wide = edited(pool, ids, (d) => (d.context['n-vocab'] = 2048));
      await expect(pool.open(ids, wide)).rejects.toThrow(exactError(ModelLayoutError, 'dialog.context.n-vocab = 2048, but "logits" rows hold 1024 logits (its last dimension)'));
    }
    // The EOS (1023) must stay below n-vocab for the config to parse; the LUT is read at n-vocab rows first.
    const narrow = edited(reference, ids, (d) => {
      d.context['n-vocab'] = 1000;
      d.context['eos-token'] = 999;
    });
    await expect(reference.open(ids, narrow)).rejects.toThrow(exactError(ModelLayoutError, 'dialog.context.n-vocab = 1000, but "logits" rows hold 1024 logits (its last dimension)'));
    const lut = edited(reference, embeds, (d) => {
      d.context['n-vocab'] = 1000;
      d.context['eos-token'] = 999;
    });
    await expect(reference.open(embeds, lut)).rejects.toThrow(
      exactError(EmbeddingTableError, `embedding LUT "${join(embeds.dir, embeds.lut!)}" has ${1024 * hidden * 4} bytes, expected n-vocab x size x bytes = 1000 x ${hidden} x 4 = ${1000 * hidden * 4}`),
    );
  });

  it('context.n-embd other than the hidden size', async () => {
    const config = edited(reference, ids, (d) => (d.context['n-embd'] = 64));
    await expect(reference.open(ids, config)).rejects.toThrow(
      exactError(ModelLayoutError, "dialog.context.n-embd = 64, but the model's hidden size is 32"),
    );
  });

  it('an embedding block for a model that takes token ids, and an embedding size other than the rows\' width', async () => {
    const onIds = edited(reference, ids, (d) => (d.embedding = { version: 1, type: 'callback', size: hidden }));
    await expect(reference.open(ids, onIds)).rejects.toThrow(
      exactError(ModelLayoutError, 'dialog.embedding is set, but the model takes token ids ("input_ids"): it has no use for embedding rows or a LUT'),
    );
    const narrow = edited(reference, embeds, (d) => (d.embedding = { version: 1, type: 'callback', size: 16, datatype: 'float32' }));
    await expect(reference.open(embeds, narrow)).rejects.toThrow(
      exactError(ModelLayoutError, 'dialog.embedding.size = 16, but "input_embeds" takes rows of 32 elements'),
    );
  });
});
