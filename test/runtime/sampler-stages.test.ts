/**
 * The sampler chain through a Dialog: `QueryOptions.topLogprobs` reports the distribution each token
 * was drawn from (checked against a naive full-sort float64 chain over the same logits row), the
 * config's `sampler.stages` and `DialogOptions.samplerStages` (custom stages with their context),
 * and typed errors for bad chains and options.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { ConfigError } from '../../src/runtime/config/index.js';
import type { Candidates, SamplerStage, StageContext } from '../../src/sampler/index.js';
import { SeededRng } from '../../src/sampler/index.js';
import { cli, libraryTurn, writeConfig } from '../cli/fixtures.js';
import { naiveSurvivors, softmax } from '../sampler/oracle.js';
import { DialogPool, makeModel, tempDir, tokenIds, tokenTurn, writeBundle, type Bundle } from './fixtures.js';

const model = makeModel({}, 'sampler-stages');
const PROMPT = tokenIds(6, 21, 1, 1000);
const SAMPLING = { version: 1, seed: 7, temp: 0.8, 'top-k': 30, 'top-p': 0.9 };

describe('the sampler chain in a dialog', () => {
  const root = tempDir('sampler-stages');
  const pool = new DialogPool('Reference');
  let bundle: Bundle;

  beforeAll(async () => {
    bundle = await writeBundle(root, model, { name: 'b', arSet: [1, 4], cl: 64, splits: 1 });
  });
  afterAll(() => pool.disposeAll());

  it('topLogprobs: each entry is the top of softmax(temp) over a naive top-k/top-p of its logits row', async () => {
    const dialog = await pool.open(bundle, pool.config(bundle, { sampler: SAMPLING }));
    const turn = await tokenTurn(dialog, PROMPT, { maxTokens: 12, topLogprobs: 5 });
    const { logprobs, generatedTokens } = turn.result;
    expect(logprobs).toHaveLength(generatedTokens.length);
    expect(generatedTokens.length).toBe(12);
    logprobs!.forEach((entry, i) => {
      const row = Array.from(turn.logits[i]);
      const kept = naiveSurvivors(row, { topK: 30, topP: 0.9, minP: 0 });
      const p = softmax(row, kept, 0.8);
      expect(entry.token).toBe(generatedTokens[i]);
      expect(kept).toContain(entry.token);
      expect(entry.logprob).toBeCloseTo(Math.log(p[kept.indexOf(entry.token)]), 9);
      expect(entry.top.map((t) => t.token)).toEqual(kept.slice(0, 5));
      entry.top.forEach((t, j) => expect(t.logprob).toBeCloseTo(Math.log(p[j]), 9));
    });
  });

  it('topLogprobs with greedy decoding: a point mass on the argmax; absent without the option', async () => {
    const dialog = await pool.open(bundle);
    const turn = await tokenTurn(dialog, PROMPT, { maxTokens: 4, topLogprobs: 3 });
    expect(turn.result.logprobs).toEqual(turn.result.generatedTokens.map((token) => ({ token, logprob: 0, top: [{ token, logprob: 0 }] })));
    dialog.reset();
    expect((await tokenTurn(dialog, PROMPT, { maxTokens: 2 })).result.logprobs).toBeUndefined();
  });

  it('bad topLogprobs and samplerStages values are InvalidArgumentErrors naming them', async () => {
    const dialog = await pool.open(bundle);
    for (const bad of [0, 2.5, -1, '3']) {
      expect(() => dialog.tokenQuery(PROMPT, { topLogprobs: bad as number })).toThrow(InvalidArgumentError);
      expect(() => dialog.tokenQuery(PROMPT, { topLogprobs: bad as number })).toThrow(/^topLogprobs must be a positive integer, got/);
    }
    await expect(pool.open(bundle, pool.config(bundle), { samplerStages: 'top-k' as never })).rejects.toThrow(
      /Dialog.create option samplerStages must be an array of stages, got/,
    );
    await expect(pool.open(bundle, pool.config(bundle), { samplerStages: ['top-k', { type: 'typical-p', p: 2 }] })).rejects.toThrow(
      /^Dialog.create option samplerStages\[1\]\.p must be a number in \(0, 1\], got 2$/,
    );
    await expect(pool.open(bundle, pool.config(bundle), { samplerStages: [{ apply: () => {} } as never] })).rejects.toThrow(
      /^Dialog.create option samplerStages\[0\]\.name must be a non-empty string, got undefined$/,
    );
    // temp 0.8 has no temperature stage: it would be ignored, so the chain is refused.
    await expect(pool.open(bundle, pool.config(bundle, { sampler: SAMPLING }), { samplerStages: ['top-k', 'top-p'] })).rejects.toThrow(
      /^sampler\.temp 0\.8 has no "temperature" stage in Dialog.create option samplerStages \[top-k, top-p\]/,
    );
  });

  it('config sampler.stages: a bad entry is a ConfigError naming its path; a custom sampler may not have stages', async () => {
    const config = pool.config(bundle, { sampler: { ...SAMPLING, stages: ['top-k', { type: 'xtc', probability: 0.5, threshold: 0.9 }] } });
    const error = await pool.open(bundle, config).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/dialog\.sampler\.stages\[1\]: stage\.threshold must be a number in \(0, 0\.5\], got 0\.9/);
    const unknown = pool.config(bundle, { sampler: { ...SAMPLING, stages: ['top-k', 'dist'] } });
    await expect(pool.open(bundle, unknown)).rejects.toThrow(/dialog\.sampler\.stages\[1\]: stage "dist" is not a stage; expected one of "penalties"/);
    const custom = pool.config(bundle, { sampler: { version: 1, type: 'custom', 'callback-name': 'x', stages: ['top-k'] } });
    await expect(pool.open(bundle, custom)).rejects.toThrow(/dialog\.sampler\.stages/);
  });

  it('config sampler.stages runs its chain: a logit bias that bans the greedy choice changes it', async () => {
    const free = await tokenTurn(await pool.open(bundle), PROMPT, { maxTokens: 1 });
    const banned = free.result.generatedTokens[0];
    const config = pool.config(bundle, { sampler: { version: 1, seed: 1, temp: 0, stages: [{ type: 'logit-bias', bias: { [banned]: -1000 } }] } });
    const dialog = await pool.open(bundle, config);
    const turn = await tokenTurn(dialog, PROMPT, { maxTokens: 1 });
    const row = Array.from(turn.logits[0]);
    row[banned] -= 1000;
    const expected = row.indexOf(Math.max(...row));
    expect(turn.result.generatedTokens).toEqual([expected]);
    expect(expected).not.toBe(banned);
  });

  it('a custom stage anywhere in the chain sees the step, the history, the dialog RNG and the params; reset() reaches it', async () => {
    const seen: { step: number; history: number; size: number }[] = [];
    let resets = 0;
    let rngIsDialogs = false;
    const banLowIds: SamplerStage = {
      name: 'ban-low-ids',
      apply(candidates: Candidates, context: StageContext) {
        seen.push({ step: context.step, history: context.history?.length ?? -1, size: candidates.size });
        rngIsDialogs = context.rng instanceof SeededRng && context.params.temp === 0.8;
        candidates.keep((token) => token >= 500);
      },
      reset() {
        resets++;
      },
    };
    const dialog = await pool.open(bundle, pool.config(bundle, { sampler: SAMPLING }), {
      samplerStages: ['top-k', banLowIds, 'top-p', 'temperature'],
    });
    const turn = await tokenTurn(dialog, PROMPT, { maxTokens: 8 });
    expect(turn.result.generatedTokens.length).toBe(8);
    for (const token of turn.result.generatedTokens) expect(token).toBeGreaterThanOrEqual(500);
    expect(seen.map((s) => s.step)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // The history holds the prompt and every token sampled before the step.
    expect(seen.map((s) => s.history)).toEqual(seen.map((_, i) => PROMPT.length + i));
    // After top-k 30.
    expect(seen.every((s) => s.size === 30)).toBe(true);
    expect(rngIsDialogs).toBe(true);
    dialog.reset();
    expect(resets).toBe(1);
    seen.length = 0;
    await tokenTurn(dialog, PROMPT, { maxTokens: 1 });
    expect(seen[0].step).toBe(0);
  });

  it('configureSampler takes samplerParams back whole with a custom chain, and refuses a parameter without its stage', async () => {
    const dialog = await pool.open(bundle, pool.config(bundle, { sampler: SAMPLING }), { samplerStages: ['top-k', 'temperature', 'top-p'] });
    const before = dialog.samplerParams;
    dialog.configureSampler(before);
    expect(dialog.samplerParams).toEqual(before);
    expect(() => dialog.configureSampler({ minP: 0.1 })).toThrow(InvalidArgumentError);
    expect(() => dialog.configureSampler({ minP: 0.1 })).toThrow(/^sampler\.minP 0\.1 has no "min-p" stage in Dialog.create option samplerStages/);
    expect(dialog.samplerParams).toEqual(before);
  });

  it('configureSampler widening the penalty window mid-dialog: the tokens of a dialog that had the window from the start', async () => {
    // Both run turn 1 without penalties in effect (the oracle's window is open, its penalty neutral),
    // then turn 2 with penalizeLastN 32 and repetitionPenalty 1.5 over turn 1's tokens.
    const penalties = { penalizeLastN: 32, repetitionPenalty: 1.5 };
    const widened = await pool.open(bundle, pool.config(bundle, { sampler: SAMPLING }));
    const oracle = await pool.open(bundle, pool.config(bundle, { sampler: SAMPLING }), { sampler: { penalizeLastN: 32 } });
    const first = await tokenTurn(widened, PROMPT, { maxTokens: 10 });
    expect((await tokenTurn(oracle, PROMPT, { maxTokens: 10 })).result.generatedTokens).toEqual(first.result.generatedTokens);
    widened.configureSampler(penalties);
    oracle.configureSampler(penalties);
    const second = await tokenTurn(widened, PROMPT.slice(0, 4), { maxTokens: 12 });
    expect(second.result.generatedTokens).toEqual((await tokenTurn(oracle, PROMPT.slice(0, 4), { maxTokens: 12 })).result.generatedTokens);
    // Widened again, past the context: every token the dialog holds.
    widened.configureSampler({ penalizeLastN: 10_000 });
    oracle.configureSampler({ penalizeLastN: 10_000 });
    const third = await tokenTurn(widened, PROMPT.slice(0, 2), { maxTokens: 6 });
    expect(third.result.generatedTokens).toEqual((await tokenTurn(oracle, PROMPT.slice(0, 2), { maxTokens: 6 })).result.generatedTokens);
  });

  it('a penalty window past the context covers the tokens the dialog holds, also once a KV policy took the conversation past it', async () => {
    // A sliding window keeps the dialog going past the context; a stop sequence then cuts the
    // history, and the window is rebuilt from it: it must not ask for tokens the dialog let go.
    const open = (penalizeLastN: number) =>
      pool.open(bundle, pool.config(bundle, { sampler: SAMPLING }), {
        kvPolicy: { type: 'sliding-window', windowSize: 40, reservedTokens: 4 },
        sampler: { penalizeLastN, repetitionPenalty: 1.3 },
      });
    const wide = await open(100_000);
    const oracle = await open(wide.contextLimit + 1);
    const stops: string[] = [];
    for (let turn = 0; turn < 6; turn++) {
      if (turn === 3) for (const dialog of [wide, oracle]) dialog.setStopSequences(['e', 'a', 'o']);
      const got = await tokenTurn(wide, PROMPT, { maxTokens: 40 });
      expect(got.result.generatedTokens).toEqual((await tokenTurn(oracle, PROMPT, { maxTokens: 40 })).result.generatedTokens);
      stops.push(got.result.stopReason);
    }
    expect(wide.kvCache.nextPosition).toBeGreaterThan(wide.contextLimit + 1);
    expect(stops.slice(3)).toContain('stop-sequence');
  });

  it('samplerStages are checked against the parameters in force: the config with Dialog.create option sampler over it', async () => {
    const config = pool.config(bundle, { sampler: SAMPLING });
    const bias = { type: 'logit-bias' as const, bias: { 7: 3 } };
    // top-k 30 and top-p 0.9 come from the config; greedy overrides leave a bias-only chain nothing to miss.
    const dialog = await pool.open(bundle, config, { sampler: { temp: 0 }, samplerStages: [bias] });
    expect(dialog.samplerParams.temp).toBe(0);
    expect((await tokenTurn(dialog, PROMPT, { maxTokens: 3 })).result.generatedTokens).toHaveLength(3);
    const off = await pool.open(bundle, config, { sampler: { topK: 0, topP: 1 }, samplerStages: [bias, 'temperature'] });
    expect((await tokenTurn(off, PROMPT, { maxTokens: 3 })).result.generatedTokens).toHaveLength(3);
    // Without the overrides the config's top-k has no stage: refused, naming it.
    await expect(pool.open(bundle, config, { samplerStages: [bias] })).rejects.toThrow(/^sampler\.topK 30 has no "top-k" stage in Dialog\.create option samplerStages/);
  });

  it('genie-ts run --sampler-stages and --top-logprobs N --json print what the library returns', async () => {
    const config = writeConfig(bundle, 'stages.json', { sampler: SAMPLING });
    const promptFile = join(root, 'prompt.txt');
    writeFileSync(promptFile, PROMPT.join(' '));
    const stages = '["top-k",{"type":"typical-p","p":0.95},"top-p","temperature"]';
    const { code, stdout, stderr } = await cli(['run', '-c', config, '-tok', promptFile, '-n', '5', '--json', '--top-logprobs', '3', '--sampler-stages', stages]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const library = await libraryTurn(config, { tokens: PROMPT }, { maxTokens: 5, topLogprobs: 3 }, { samplerStages: JSON.parse(stages) });
    const json = JSON.parse(stdout);
    expect(json.generatedTokens).toEqual(library.result.generatedTokens);
    expect(json.logprobs).toEqual(library.result.logprobs);
    expect(json.logprobs).toHaveLength(5);

    const names = await cli(['run', '-c', config, '-tok', promptFile, '-n', '2', '--json', '--sampler-stages', 'top-k, top-p,temperature']);
    expect(names.code).toBe(0);
    const bad = await cli(['run', '-c', config, '-tok', promptFile, '--sampler-stages', '[{"type":"xtc","probability":2,"threshold":0.1}]']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--sampler-stages[0].probability must be a number in [0, 1], got 2');
    // Checks of the whole list against the config's sampler name the flag too (a usage error).
    const repeated = await cli(['run', '-c', config, '-tok', promptFile, '--sampler-stages', 'top-k,top-p,top-k']);
    expect(repeated.code).not.toBe(0);
    expect(repeated.stderr).toContain('--sampler-stages[2] repeats the "top-k" stage (it reads the sampler params once per step)');
    const missing = await cli(['run', '-c', config, '-tok', promptFile, '--sampler-stages', 'temperature']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/sampler\.topK \d+ has no "top-k" stage in --sampler-stages \[temperature\]/);
    expect(missing.stderr).not.toContain('Dialog.create');
    const noJson = await cli(['run', '-c', config, '-tok', promptFile, '--top-logprobs', '3']);
    expect(noJson.code).not.toBe(0);
    expect(noJson.stderr).toContain('--top-logprobs needs --json');
  });
});
