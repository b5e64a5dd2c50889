import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dialog } from '../../src/runtime/dialog.js';
import type { Kpis } from '../../src/runtime/kpis.js';
import {
  BACKENDS, DialogPool, argmax, makeModel, silentEos, tempDir, tokenIds, tokenTurn, writeBundle, type Bundle, type ConfigOptions,
  type Turn,
} from './fixtures.js';

const KPI_NAMES = [
  'init-time', 'time-to-first-token', 'prompt-processing-rate', 'token-generation-time', 'token-generation-rate',
  'num-prompt-tokens', 'num-generated-tokens',
];

const TOP_K = 20;
const SAMPLING = { version: 1, seed: 42, temp: 1.5, 'top-k': TOP_K, 'top-p': 1 };

describe.each(BACKENDS)('%s: KPIs and seeded sampling', (backend) => {
  const root = tempDir('runtime-kpis');
  const dialogs = new DialogPool(backend);
  const model = makeModel({}, 'kpis');
  const vocab = model.config.vocabSize;
  const prompt = tokenIds(20, 1, 1, vocab - 1);
  let bundle: Bundle;

  function open(options: ConfigOptions = {}): Promise<Dialog> {
    return dialogs.open(bundle, dialogs.config(bundle, options));
  }

  function expectKpis(kpis: Kpis, promptTokens: number, generatedTokens: number, initTimeUs: number): void {
    expect(Object.keys(kpis).sort()).toEqual([...KPI_NAMES].sort());
    for (const name of KPI_NAMES) {
      const value = kpis[name as keyof Kpis];
      expect(Number.isFinite(value), name).toBe(true);
      expect(value, name).toBeGreaterThanOrEqual(0);
    }
    expect(kpis['num-prompt-tokens']).toBe(promptTokens);
    expect(kpis['num-generated-tokens']).toBe(generatedTokens);
    expect(kpis['init-time']).toBe(initTimeUs);
    const ttft = kpis['time-to-first-token'];
    expect(ttft).toBeGreaterThan(0);
    expect(kpis['prompt-processing-rate']).toBeCloseTo((promptTokens * 1e6) / ttft, 6);
    const generation = kpis['token-generation-time'];
    if (generatedTokens > 1) {
      expect(generation).toBeGreaterThan(0);
      expect(kpis['token-generation-rate']).toBeCloseTo(((generatedTokens - 1) * 1e6) / generation, 6);
    }
  }

  beforeAll(async () => {
    bundle = await writeBundle(root, model, { name: 'kpis', arSet: [1, 32], cl: 128, splits: 2 });
  });
  afterAll(() => dialogs.disposeAll());

  describe('KPIs', () => {
    it('carry Genie’s names and count the tokens of each turn', async () => {
      const dialog = await open();
      expect(dialog.kpis).toBeUndefined();
      expect(dialog.initTimeUs).toBeGreaterThan(0);

      const t1 = await tokenTurn(dialog, prompt, { maxTokens: 9 });
      expectKpis(t1.result.kpis, prompt.length, 9, dialog.initTimeUs);
      expect(dialog.kpis).toBe(t1.result.kpis);

      const t2 = await tokenTurn(dialog, prompt.slice(0, 4), { maxTokens: 1 });
      expectKpis(t2.result.kpis, 2 + 4, 1, dialog.initTimeUs);
      expect(dialog.kpis).toBe(t2.result.kpis);
    });

    it('count neither the EOS nor stop-sequence tokens as generated', async () => {
      const free = (await tokenTurn(await open(), prompt, { maxTokens: 6 })).sampled;
      const k = free.findIndex((t, i) => i >= 2 && !free.slice(0, i).includes(t));
      const eosDialog = await open({ eos: [silentEos(model), free[k]] });
      const byEos = await tokenTurn(eosDialog, prompt);
      expect(byEos.result.stopReason).toBe('eos');
      expectKpis(byEos.result.kpis, prompt.length, k, eosDialog.initTimeUs);
    });
  });

  describe('sampling with a seed', () => {
    async function sample(dialog: Dialog): Promise<Turn> {
      dialog.reset();
      return tokenTurn(dialog, prompt, { maxTokens: 16 });
    }

    it('draws among the top-k and differs from greedy', async () => {
      const turn = await sample(await open({ sampler: SAMPLING }));
      expect(turn.result.generatedTokens).toEqual(turn.sampled);
      turn.logits.forEach((row, i) => {
        const token = turn.sampled[i];
        let above = 0;
        for (let v = 0; v < row.length; v++) if (row[v] > row[token]) above++;
        expect(above).toBeLessThan(TOP_K);
      });
      const greedyPicks = turn.logits.filter((row, i) => argmax(row) === turn.sampled[i]).length;
      expect(greedyPicks).toBeLessThan(turn.sampled.length);
    });

    it('the same seed gives the same tokens in two fresh dialogs', async () => {
      const a = await sample(await open({ sampler: SAMPLING }));
      const b = await sample(await open({ sampler: SAMPLING }));
      expect(b.sampled).toEqual(a.sampled);
      expect(b.logits).toEqual(a.logits);
    });

    it('configureSampler({seed}) restarts the sequence: another seed changes the tokens, the first one brings them back', async () => {
      const reference = await sample(await open({ sampler: SAMPLING }));
      const dialog = await open({ sampler: SAMPLING });
      dialog.configureSampler({ seed: 7 });
      const other = await sample(dialog);
      expect(other.sampled).not.toEqual(reference.sampled);
      expect(dialog.samplerParams.seed).toBe(7);

      dialog.configureSampler({ seed: SAMPLING.seed });
      expect((await sample(dialog)).sampled).toEqual(reference.sampled);
    });

    it('DialogOptions.sampler overrides the config sampler the same way', async () => {
      const reference = await sample(await open({ sampler: SAMPLING }));
      const overridden = await dialogs.open(bundle, dialogs.config(bundle), {
        sampler: { seed: SAMPLING.seed, temp: SAMPLING.temp, topK: TOP_K, topP: 1 },
      });
      expect((await sample(overridden)).sampled).toEqual(reference.sampled);
    });

    it('switching to greedy live gives the argmax tokens', async () => {
      const dialog = await open({ sampler: SAMPLING });
      dialog.configureSampler({ temp: 0 });
      const turn = await sample(dialog);
      turn.logits.forEach((row, i) => expect(turn.sampled[i]).toBe(argmax(row)));
      const greedy = await sample(await open());
      expect(turn.sampled).toEqual(greedy.sampled);
    });
  });
});
