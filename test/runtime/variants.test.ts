import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BACKENDS, DialogPool, expectTurnMatchesRecompute, makeModel, maxRowDiff, tempDir, tokenIds, tokenTurn, writeBundle,
  type BundleOptions, type Turn,
} from './fixtures.js';

/**
 * The same weights compiled many ways must generate the same greedy tokens: AR sets, split counts,
 * an embedding-only first part, and a host LUT feeding `input_embeds`. Prompts are shorter than,
 * equal to and several times longer than one AR-32 chunk, and one crosses the AR-128 chunk.
 */
const LAYOUTS: Array<Omit<BundleOptions, 'cl'>> = [
  { name: 'ar1-split2', arSet: [1], splits: 2 },
  { name: 'ar1-32-split2', arSet: [1, 32], splits: 2 },
  { name: 'ar1-128-split2', arSet: [1, 128], splits: 2 },
  { name: 'ar1-32-128-split1', arSet: [1, 32, 128], splits: 1 },
  { name: 'ar1-32-128-split2', arSet: [1, 32, 128], splits: 2 },
  { name: 'ar1-32-128-split3', arSet: [1, 32, 128], splits: 3 },
  { name: 'ar1-32-128-embedding-part+2', arSet: [1, 32, 128], splits: 3, embeddingPart: true },
  { name: 'ar1-32-128-lut-embeds', arSet: [1, 32, 128], splits: 2, inputKind: 'embeds' },
  { name: 'ar32-128-split2', arSet: [32, 128], splits: 2 },
];
const CL = 256;
const PROMPT_LENGTHS = [5, 32, 100, 200];
const GENERATED = 16;

describe.each(BACKENDS)('%s: greedy generation does not depend on how the model is compiled', (backend) => {
  const root = tempDir('runtime-variants');
  const dialogs = new DialogPool(backend);
  // Three layers so that three parts each hold decoder layers.
  const model = makeModel({ numHiddenLayers: 3 }, 'variants');
  const prompts = PROMPT_LENGTHS.map((n, i) => tokenIds(n, 100 + i, 1, model.config.vocabSize - 1));
  /** turns[layout][prompt] */
  const turns = new Map<string, Turn[]>();

  beforeAll(async () => {
    for (const layout of LAYOUTS) {
      const bundle = await writeBundle(root, model, { ...layout, cl: CL });
      const dialog = await dialogs.open(bundle);
      const results: Turn[] = [];
      for (const prompt of prompts) {
        dialog.reset();
        results.push(await tokenTurn(dialog, prompt, { maxTokens: GENERATED }));
      }
      turns.set(layout.name, results);
    }
  });
  afterAll(() => dialogs.disposeAll());

  it('the baseline layout matches the uncached forward pass for every prompt length', () => {
    const baseline = turns.get('ar1-32-128-split2')!;
    prompts.forEach((prompt, i) => {
      expect(baseline[i].result.stopReason).toBe('max-tokens');
      expect(baseline[i].sampled).toHaveLength(GENERATED);
      expectTurnMatchesRecompute(model, prompt, baseline[i]);
    });
  });

  for (const layout of LAYOUTS) {
    it(`${layout.name}: same tokens and logits as the baseline layout`, () => {
      const baseline = turns.get('ar1-32-128-split2')!;
      const mine = turns.get(layout.name)!;
      prompts.forEach((prompt, i) => {
        expect(mine[i].result.promptTokens).toEqual(prompt);
        expect(mine[i].result.generatedTokens).toEqual(baseline[i].result.generatedTokens);
        expect(maxRowDiff(mine[i], baseline[i])).toBeLessThanOrEqual(1e-4);
      });
    });
  }
});
