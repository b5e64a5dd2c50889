/**
 * Catalog: a caller's query callback that throws (`onLogits`, `tokenToEmbedding`) ends the query with
 * a `CallbackError` naming the callback, the thrown value as its `cause`; the dialog stays usable
 * (after a reset it answers as a dialog that saw no failure).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallbackError } from '../../../src/runtime/callbacks.js';
import type { Dialog } from '../../../src/runtime/dialog.js';
import { DialogPool, makeModel, tempDir, tokenIds, tokenTurn, writeBundle, type Bundle } from '../../runtime/fixtures.js';
import { DialogProbe, expectRejects } from './catalog.js';

async function drainAll(generator: AsyncGenerator<string, unknown>): Promise<void> {
  for (;;) if ((await generator.next()).done) return;
}

describe('catalog: throwing query callbacks', () => {
  const probe = new DialogProbe();
  const root = tempDir('catalog-callbacks');
  const pool = new DialogPool('Reference');
  let embeds: Bundle;
  beforeAll(async () => {
    await probe.setup();
    embeds = await writeBundle(root, makeModel({}, 'catalog-embeds'), { name: 'embeds', arSet: [1, 8], cl: 64, splits: 1, inputKind: 'embeds' });
  });
  afterAll(async () => {
    await probe.dispose();
    await pool.disposeAll();
  });

  it.each([
    ['an Error', new RangeError('boom'), 'boom'],
    ['a string', 'plain string', 'plain string'],
  ])('onLogits throws %s: CallbackError naming onLogits, cause attached; the dialog works after a reset', async (_, thrown, word) => {
    const dialog: Dialog = await probe.ready();
    const e = await expectRejects(
      () => drainAll(dialog.tokenQuery(probe.after, { maxTokens: 5, onLogits: () => { throw thrown; } })),
      CallbackError,
      ['onLogits', word],
    );
    expect((e as CallbackError).callback).toBe('onLogits');
    expect(e.cause).toBe(thrown);
    dialog.reset();
    await tokenTurn(dialog, probe.before, { maxTokens: 5 });
    await probe.expectUnchanged(dialog);
  });

  it('tokenToEmbedding throws: CallbackError naming tokenToEmbedding, cause attached; the dialog works after a reset', async () => {
    const dialog = await pool.open(embeds);
    const size = dialog.embeddingSize!;
    const table = new Float32Array(readFileSync(join(embeds.dir, embeds.lut!)).buffer.slice(0));
    const rows = (ids: number[]): Float32Array => {
      const out = new Float32Array(ids.length * size);
      ids.forEach((id, i) => out.set(table.subarray(id * size, (id + 1) * size), i * size));
      return out;
    };
    const prompt = tokenIds(4, 3, 1, 1000);
    const cause = new TypeError('no row');
    const e = await expectRejects(
      () => drainAll(dialog.embeddingQuery(rows(prompt), { maxTokens: 3, tokenToEmbedding: () => { throw cause; } })),
      CallbackError,
      ['tokenToEmbedding', 'no row'],
    );
    expect(e.cause).toBe(cause);
    dialog.reset();
    const fresh = await pool.open(embeds);
    const lookup = (token: number, row: Float32Array): void => row.set(table.subarray(token * size, (token + 1) * size));
    const collect = async (d: Dialog): Promise<readonly number[]> => {
      const g = d.embeddingQuery(rows(prompt), { maxTokens: 4, tokenToEmbedding: lookup });
      for (;;) {
        const next = await g.next();
        if (next.done) return next.value.generatedTokens;
      }
    };
    expect(await collect(dialog)).toEqual(await collect(fresh));
  });
});
