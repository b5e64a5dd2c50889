/**
 * Save and restore (Genie's GenieDialog_save/restore) and in-memory checkpoints. Oracle: the same
 * dialog continuing uninterrupted. A restore in a fresh process (test/children/save-restore.ts) must
 * continue with bit-identical tokens and logits (sha256 of every row), greedy and seeded, on both
 * backends and on a quantised (HTP IO, uint8 KV) demo bundle.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDemoBundle, type DemoBundle } from '../../src/demo/index.js';
import { Dialog } from '../../src/runtime/dialog.js';
import { StaleCheckpointError } from '../../src/runtime/save/errors.js';
import { runChild, reportOf } from '../children/run-child.js';
import { TINY } from './quant/fixtures.js';
import { FakeEmbedder } from './vision/fake-embedder.js';
import { BACKENDS, DialogPool, drain, makeModel, tempDir, tokenIds, tokenTurn, writeBundle, type Bundle, type Json, type Turn } from './fixtures.js';

interface ChildReport {
  readonly contextUsed: number;
  readonly turns: { sampled: number[]; logits: string[] }[];
}

const hashes = (turn: Turn): string[] =>
  turn.logits.map((row) => createHash('sha256').update(new Uint8Array(row.buffer, row.byteOffset, row.byteLength)).digest('hex'));

const SEEDED: Json = { version: 1, seed: 7, temp: 1.5, 'top-k': 50, 'top-p': 0.95, 'token-penalty': { version: 1, 'penalize-last-n': 8, 'repetition-penalty': 1.3 } };
const SAMPLERS = [
  { name: 'greedy', sampler: undefined },
  { name: 'seeded', sampler: SEEDED },
] as const;

/** Restores `dir` in a fresh process and runs `turns` there. */
async function restoreInChild(root: string, spec: object): Promise<ChildReport> {
  const file = join(root, `spec-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(spec));
  const exit = await runChild('save-restore.ts', [file], { timeoutMs: 120_000 });
  expect(exit.code, exit.stderr).toBe(0);
  return reportOf<ChildReport>(exit);
}

describe.each(BACKENDS)('%s: save, then restore in a fresh process', (backend) => {
  const root = tempDir(`save-restore-${backend}`);
  const pool = new DialogPool(backend);
  const model = makeModel({}, 'save-restore');
  const vocab = model.config.vocabSize;
  let bundle: Bundle;

  beforeAll(async () => {
    bundle = await writeBundle(root, model, { name: 'bundle', arSet: [1, 4], cl: 64, splits: 2 });
  });
  afterAll(() => pool.disposeAll());

  it.each(SAMPLERS)('$name: the restored dialog continues with bit-identical tokens and logits', async ({ name, sampler }) => {
    const config = pool.config(bundle, sampler === undefined ? {} : { sampler });
    const dialog = await pool.open(bundle, config);
    await tokenTurn(dialog, tokenIds(7, 1, 1, vocab - 1), { maxTokens: 6 });
    const dir = join(root, `save-${name}`);
    await dialog.save(dir);
    const used = dialog.contextUsed;
    const turns = [tokenIds(5, 2, 1, vocab - 1), tokenIds(3, 3, 1, vocab - 1)];
    const t2 = await tokenTurn(dialog, turns[0], { maxTokens: 8 });
    const t3 = await tokenTurn(dialog, turns[1], { maxTokens: 8 });
    expect(t2.sampled.length + t3.sampled.length).toBeGreaterThan(8);

    const report = await restoreInChild(root, {
      config, baseDir: bundle.dir, backend, restore: dir, turns: turns.map((tokens) => ({ tokens, maxTokens: 8 })),
    });
    expect(report.contextUsed).toBe(used);
    expect(report.turns[0]).toEqual({ sampled: t2.sampled, logits: hashes(t2) });
    expect(report.turns[1]).toEqual({ sampled: t3.sampled, logits: hashes(t3) });
  });

  it.each(SAMPLERS)('$name: rewindTo(checkpoint) replays the next turn bit for bit; a checkpoint whose entries are gone is refused', async ({ sampler }) => {
    const dialog = await pool.open(bundle, pool.config(bundle, sampler === undefined ? {} : { sampler }));
    await tokenTurn(dialog, tokenIds(6, 4, 1, vocab - 1), { maxTokens: 5 });
    const first = dialog.checkpoint();
    const prompt = tokenIds(4, 5, 1, vocab - 1);
    const a = await tokenTurn(dialog, prompt, { maxTokens: 7 });
    const second = dialog.checkpoint();
    const a2 = await tokenTurn(dialog, prompt, { maxTokens: 4 });
    dialog.rewindTo(second);
    const again2 = await tokenTurn(dialog, prompt, { maxTokens: 4 });
    expect(again2.sampled).toEqual(a2.sampled);
    expect(hashes(again2)).toEqual(hashes(a2));

    dialog.rewindTo(first);
    expect(dialog.contextUsed).toBe(first.contextUsed);
    const b = await tokenTurn(dialog, prompt, { maxTokens: 7 });
    expect(b.sampled).toEqual(a.sampled);
    expect(hashes(b)).toEqual(hashes(a));
    expect(b.result.promptTokens).toEqual(a.result.promptTokens);

    // `second`'s slots now hold the replayed turn's entries: new entries, so the checkpoint is stale.
    expect(dialog.contextUsed).toBeGreaterThanOrEqual(second.contextUsed);
    const used = dialog.contextUsed;
    expect(() => dialog.rewindTo(second)).toThrow(StaleCheckpointError);
    expect(dialog.contextUsed).toBe(used);
    dialog.reset();
    expect(() => dialog.rewindTo(first)).toThrow(StaleCheckpointError);
    const other = await pool.open(bundle);
    expect(() => other.rewindTo(first)).toThrow(/another dialog/);
    expect(() => dialog.rewindTo({ contextUsed: 0 })).toThrow(StaleCheckpointError);
  });
});

describe('a quantised demo bundle (HTP IO, uint8 KV cache)', () => {
  const root = tempDir('save-restore-htp');
  let bundle: DemoBundle;
  beforeAll(async () => {
    bundle = await writeDemoBundle(join(root, 'htp'), { ...TINY, quant: 'htp' });
  });

  it.each(SAMPLERS)('$name: the KV is saved in its stored encoding and a fresh process continues bit for bit', async ({ name, sampler }) => {
    const config = JSON.parse(readFileSync(bundle.configPath, 'utf8')) as Json;
    if (sampler !== undefined) config.dialog.sampler = sampler;
    const dialog = await Dialog.create(config, { baseDir: bundle.dir });
    try {
      await tokenTurn(dialog, tokenIds(3, 6, 1, 1000), { maxTokens: 3 });
      const dir = join(root, `save-${name}`);
      await dialog.save(dir);
      const turn = tokenIds(2, 7, 1, 1000);
      const t2 = await tokenTurn(dialog, turn, { maxTokens: 4 });
      const kv = readFileSync(join(dir, 'kv.safetensors'));
      const header = JSON.parse(kv.subarray(8, 8 + Number(kv.readBigUInt64LE(0))).toString('utf8')) as Record<string, { dtype: string }>;
      expect(new Set(Object.values(header).map((t) => t.dtype))).toEqual(new Set(['U8']));
      const report = await restoreInChild(root, { config, baseDir: bundle.dir, backend: 'Reference', restore: dir, turns: [{ tokens: turn, maxTokens: 4 }] });
      expect(report.turns[0]).toEqual({ sampled: t2.sampled, logits: hashes(t2) });
    } finally {
      await dialog.dispose();
    }
  });
});

describe('image rows: their keys are saved with the ledger', () => {
  const root = tempDir('save-restore-images');
  const pool = new DialogPool('Reference');
  const model = makeModel({}, 'save-restore-images');
  const image = Uint8Array.from([1, 2, 3, 4, 5]);
  let bundle: Bundle;
  beforeAll(async () => {
    bundle = await writeBundle(root, model, { name: 'embeds', arSet: [1, 4], cl: 64, splits: 2, inputKind: 'embeds' });
  });
  afterAll(() => pool.disposeAll());

  it('after a restore, a rewind query with the same image reuses the cached image rows and replies as the saved dialog would', async () => {
    const config = pool.config(bundle, { maxNumTokens: 4 });
    const open = async (): Promise<{ dialog: Dialog; embedder: FakeEmbedder }> => {
      const embedder = new FakeEmbedder(5, model.config.hiddenSize);
      return { dialog: await pool.open(bundle, config, { imageEncoder: embedder }), embedder };
    };
    const a = await open();
    const first = await drain((o) => a.dialog.query('Q<image>', { ...o, images: [image] }));
    const dir = join(root, 'save');
    await a.dialog.save(dir);
    const manifest = JSON.parse(readFileSync(join(dir, 'dialog.json'), 'utf8')) as Json;
    expect(manifest.ledger.entries.filter((k: unknown) => typeof k === 'string')).toHaveLength(5);
    const conversation = `Q<image>R`;
    expect(first.result.generatedTokens.length).toBeGreaterThan(0);
    const original = await drain((o) => a.dialog.query(conversation, { ...o, images: [image], rewind: true }));

    const b = await open();
    await b.dialog.restore(dir);
    const restored = await drain((o) => b.dialog.query(conversation, { ...o, images: [image], rewind: true }));
    expect(restored.result.reusedTokens).toBe(original.result.reusedTokens);
    expect(restored.result.reusedTokens).toBeGreaterThan(5);
    expect(b.embedder.calls).toBe(0); // the cached rows were matched by key: the image was not encoded again
    expect(restored.sampled).toEqual(original.sampled);
    expect(hashes(restored)).toEqual(hashes(original));
  });
});

describe('a multi-CL model (CL 64 and 256 ctx-bins): the cache is restored on the variant it was saved on', () => {
  const root = tempDir('save-restore-multi-cl');
  const pool = new DialogPool('Reference');
  const model = makeModel({}, 'save-restore-multi-cl');
  const vocab = model.config.vocabSize;
  let multi: Bundle;
  beforeAll(async () => {
    const small = await writeBundle(root, model, { name: 'cl64', arSet: [1, 16], cl: 64, splits: 2 });
    const large = await writeBundle(root, model, { name: 'cl256', arSet: [1, 16], cl: 256, splits: 2 });
    multi = { dir: root, model, ctxBins: [...large.ctxBins.map((p) => join('cl256', p)), ...small.ctxBins.map((p) => join('cl64', p))], cl: 256, lut: undefined };
  });
  afterAll(() => pool.disposeAll());

  it.each([[10, 'CL 64'], [70, 'CL 256']])('saved after %d prompt tokens (%s): the restored dialog continues across the CL switch bit for bit', async (n) => {
    const config = pool.config(multi, { sampler: SEEDED });
    const a = await pool.open(multi, config);
    await tokenTurn(a, tokenIds(n, 8, 1, vocab - 1), { maxTokens: 4 });
    const dir = join(root, `save-${n}`);
    await a.save(dir);
    expect((JSON.parse(readFileSync(join(dir, 'dialog.json'), 'utf8')) as Json).kv.cl).toBe(n < 48 ? 64 : 256);
    const prompt = tokenIds(60, 9, 1, vocab - 1);
    const original = await tokenTurn(a, prompt, { maxTokens: 6 });
    const b = await pool.open(multi, config);
    await b.restore(dir);
    const restored = await tokenTurn(b, prompt, { maxTokens: 6 });
    expect(restored.sampled).toEqual(original.sampled);
    expect(hashes(restored)).toEqual(hashes(original));
  });
});
