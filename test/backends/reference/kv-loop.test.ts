import { describe, expect, it } from 'vitest';
import { openReferenceBackend, splitQwen2Checkpoint, type SplitOptions } from '../../../src/backends/reference/index.js';
import { KvLoopDriver } from './kv-loop-driver.js';
import { maxAbsDiff, tempDir, writeParts } from './fixtures.js';
import { fullForward, randomWeights, tinyConfig } from './qwen2-oracle.js';

const dir = tempDir('kv-loop');
const prompt = [5, 17, 998, 3, 250, 42, 7];
const continuation = [11, 500, 0, 999, 64];
const sequence = [...prompt, ...continuation];

interface Case {
  readonly name: string;
  readonly split: Partial<SplitOptions>;
  readonly tied?: boolean;
  /** head_dim other than hidden / heads (config.json `head_dim`). */
  readonly wideHeads?: boolean;
  readonly decodeAr?: number;
  readonly maskValue?: number;
}

const cases: Case[] = [
  { name: 'one part', split: { splits: 1 } },
  { name: '2 splits', split: { splits: 2 } },
  { name: '3 splits', split: { splits: 3 } },
  { name: 'embedding-only first part + 2 decoder parts', split: { splits: 3, embeddingPart: true } },
  { name: 'input_embeds, 2 splits', split: { splits: 2, inputKind: 'embeds' } },
  { name: 'tied LM head, 2 splits', split: { splits: 2 }, tied: true },
  { name: 'tied LM head, one part', split: { splits: 1 }, tied: true },
  { name: 'decode on AR-4 with one valid row, neutral names', split: { splits: 2, naming: 'neutral' }, decodeAr: 4 },
  { name: 'AI Hub clipped mask (-50)', split: { splits: 2 }, maskValue: -50 },
  { name: 'head_dim 32 with hidden 64 and 4 heads', split: { splits: 2 }, wideHeads: true },
];

describe('reference backend KV loop vs full-sequence forward without cache', () => {
  const untied = tinyConfig();
  const tied = tinyConfig({ tieWordEmbeddings: true });
  const wide = tinyConfig({ headDim: 32 });
  const configs = { untied, tied, wide };
  const weights = {
    untied: randomWeights(untied, 'kv-loop-untied'),
    tied: randomWeights(tied, 'kv-loop-tied'),
    wide: randomWeights(wide, 'kv-loop-wide'),
  };
  const oracle = {
    untied: fullForward(untied, weights.untied, sequence),
    tied: fullForward(tied, weights.tied, sequence),
    wide: fullForward(wide, weights.wide, sequence),
  };

  it('the oracle is not degenerate: logits move by far more than the tolerance between positions', () => {
    for (const rows of Object.values(oracle)) {
      for (let t = 1; t < rows.length; t++) expect(maxAbsDiff(rows[t], rows[t - 1])).toBeGreaterThan(0.1);
    }
  });

  for (const c of cases) {
    it(`${c.name}: every valid logits row matches within 1e-4`, async () => {
      const key = c.tied ? 'tied' : c.wideHeads ? 'wide' : 'untied';
      const config = configs[key];
      const parts = splitQwen2Checkpoint({
        config,
        weights: weights[key],
        arSet: [1, 4],
        cl: 16,
        splits: 1,
        inputKind: 'ids',
        ...c.split,
      });
      const paths = await writeParts(dir, c.name.replace(/\W+/g, '-'), parts);
      const backend = await openReferenceBackend(paths);
      const driver = new KvLoopDriver(backend, config, {
        maskValue: c.maskValue,
        embedTable: weights[key].get('model.embed_tokens.weight')!.data,
      });
      const rows = await driver.run(prompt, continuation, 4, c.decodeAr ?? 1);
      expect(rows).toHaveLength(sequence.length);
      const worst = Math.max(...rows.map((row, t) => maxAbsDiff(row, oracle[key][t])));
      expect(worst).toBeLessThanOrEqual(1e-4);
      await backend.dispose();
    });
  }

  it('results do not depend on the split count (bitwise)', async () => {
    const run = async (splits: number, embeddingPart: boolean): Promise<Float32Array[]> => {
      const parts = splitQwen2Checkpoint({ config: untied, weights: weights.untied, arSet: [1, 4], cl: 16, splits, embeddingPart, inputKind: 'ids' });
      const backend = await openReferenceBackend(await writeParts(dir, `bitwise-${splits}-${embeddingPart}`, parts));
      const rows = await new KvLoopDriver(backend, untied).run(prompt, continuation, 4, 1);
      await backend.dispose();
      return rows;
    };
    const one = await run(1, false);
    for (const other of [await run(3, false), await run(4, true)]) {
      other.forEach((row, t) => expect(row).toEqual(one[t]));
    }
  });
});
