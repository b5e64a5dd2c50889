/**
 * The sampler built from stages. Oracles: the sampler as it was before stages (a frozen copy in
 * legacy/, drawing the same tokens for the same seed), a plain recount of the penalty window from a
 * token array, and naive full-sort float64 versions of every extra stage written here from their
 * papers' / llama.cpp's definitions.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { Candidates, checkStageSpec, Sampler, TokenHistory, TopLogprobs, type SamplerStage, type StageContext } from '../../src/sampler/index.js';
import { DTYPES, makeLogits, randomLogits, samplerParams } from './fixtures.js';
import { Sampler as LegacySampler } from './legacy/sampler.js';
import { dequantizeRow, naiveSurvivors, penalize, softmax, sortedTokens, testRng, uniforms } from './oracle.js';
import { drawStagedSequence } from './sequence.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Softmax at `t` over `kept` (any order), as a map token -> probability. */
function probabilities(values: readonly number[], kept: readonly number[], t: number): Map<number, number> {
  const max = Math.max(...kept.map((k) => values[k]));
  const w = kept.map((k) => Math.exp((values[k] - max) / t));
  const z = w.reduce((a, b) => a + b, 0);
  return new Map(kept.map((k, i) => [k, w[i] / z]));
}

/** The set in sampling order. */
function ordered(values: readonly number[], kept: readonly number[]): number[] {
  const set = new Set(kept);
  return sortedTokens(values).filter((t) => set.has(t));
}

function naiveTypical(values: readonly number[], kept: readonly number[], p: number, t: number): number[] {
  const probs = probabilities(values, kept, t);
  const entropy = -[...probs.values()].reduce((s, q) => s + q * Math.log(q), 0);
  const order = ordered(values, kept).sort((a, b) => Math.abs(-Math.log(probs.get(a)!) - entropy) - Math.abs(-Math.log(probs.get(b)!) - entropy));
  let cumulative = 0;
  for (let i = 0; i < order.length; i++) {
    cumulative += probs.get(order[i])!;
    if (cumulative > p) return ordered(values, order.slice(0, i + 1));
  }
  return ordered(values, order);
}

function naiveMirostatCut(values: readonly number[], kept: readonly number[], mu: number, t: number): number[] {
  const probs = probabilities(values, kept, t);
  const cut = ordered(values, kept).filter((k) => -Math.log2(probs.get(k)!) <= mu);
  return cut.length > 0 ? cut : ordered(values, kept).slice(0, 1);
}

function naiveXtc(values: readonly number[], kept: readonly number[], threshold: number, t: number): number[] {
  const probs = probabilities(values, kept, t);
  const sorted = ordered(values, kept);
  const above = sorted.filter((k) => probs.get(k)! >= threshold);
  if (above.length < 2) return sorted;
  const spared = above[above.length - 1];
  return sorted.filter((k) => probs.get(k)! < threshold || k === spared);
}

describe('the default chain is the sampler it replaced', () => {
  it.each(DTYPES)('%s: same tokens as the pre-stage sampler for 60 seeds x 40 draws, penalties, rewinds and restores included', (dtype) => {
    const rng = testRng(`legacy-${dtype}`);
    const vocab = 400;
    for (let trial = 0; trial < 60; trial++) {
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng() * xs.length)];
      const params = samplerParams({
        seed: Math.floor(rng() * 2 ** 32),
        topK: pick([0, 1, 5, 40, vocab]),
        topP: pick([1, 0.5, 0.9, 0.95]),
        minP: pick([0, 0, 0.05]),
        temp: pick([0, 0.3, 0.8, 1.5]),
        ...(rng() < 0.5 ? { penalizeLastN: pick([3, 16, 64]), repetitionPenalty: 1.3, presencePenalty: 0.2, frequencyPenalty: 0.1 } : {}),
      });
      const rows = [0, 1, 2].map(() => randomLogits(rng, vocab, 1 + rng() * 3, trial % 4 === 0 ? 0.25 : 0));
      const { view } = makeLogits(dtype, rows);
      const now = new Sampler(params, vocab);
      const before = new LegacySampler(params, vocab);
      const history = new TokenHistory(128);
      history.pushAll(Array.from({ length: 20 }, () => Math.floor(rng() * 30)));
      for (let draw = 0; draw < 40; draw++) {
        view.setRow(draw % 3);
        const token = now.sample(view, history);
        expect(token).toBe(before.sample(view, history));
        history.push(token);
        if (draw % 13 === 12) history.truncate(history.length - 5); // a rewind
        if (draw % 17 === 16) history.restore(history.snapshot());
      }
    }
  });
});

describe('penalty counts follow the history incrementally', () => {
  it('after any mix of pushes, prompts, truncations, resets and restores, the penalised survivors equal a recount', () => {
    const rng = testRng('penalty-window');
    const vocab = 60;
    const { view, data } = makeLogits('FLOAT_32', [randomLogits(rng, vocab, 2)]);
    const values = dequantizeRow('FLOAT_32', data, 0, vocab);
    const penalties = { penalizeLastN: 7, repetitionPenalty: 1.7, presencePenalty: 0.5, frequencyPenalty: 0.25 };
    const sampler = new Sampler(samplerParams({ temp: 1, topK: 0, topP: 1, ...penalties }), vocab);
    const greedy = new Sampler(samplerParams({ temp: 0, ...penalties }), vocab);
    // A ring larger than the window, so that a rewind leaves the window's tokens retained.
    const history = new TokenHistory(32);
    const other = new TokenHistory(32);
    const model: number[] = [];
    const out = new Int32Array(vocab);
    for (let op = 0; op < 600; op++) {
      const r = rng();
      if (r < 0.55) {
        const t = Math.floor(rng() * 12);
        history.push(t);
        model.push(t);
      } else if (r < 0.7) {
        const ts = Array.from({ length: 1 + Math.floor(rng() * 10) }, () => Math.floor(rng() * 12));
        history.pushAll(ts);
        model.push(...ts);
      } else if (r < 0.82) {
        // Deeper than the ring keeps would lose tokens; stay within it.
        const cut = Math.max(0, model.length - Math.floor(rng() * Math.min(4, model.length + 1)));
        history.truncate(cut);
        model.length = cut;
      } else if (r < 0.86) {
        history.reset();
        model.length = 0;
      } else if (r < 0.92) {
        history.restore(history.snapshot());
      } else {
        // Another history object with the same tokens: the counts follow whichever is passed.
        other.restore(history.snapshot());
        const expected = sortedTokens(penalize(values, model, penalties));
        expect(Array.from(out.subarray(0, sampler.survivorsInto(view, out, other)))).toEqual(expected);
        continue;
      }
      const penalised = penalize(values, model, penalties);
      expect(Array.from(out.subarray(0, sampler.survivorsInto(view, out, history)))).toEqual(sortedTokens(penalised));
      expect(greedy.sample(view, history)).toBe(sortedTokens(penalised)[0]);
    }
  });

  it('a history token outside the vocabulary is an InvalidArgumentError naming it; the next good history works', () => {
    const vocab = 10;
    const { view } = makeLogits('FLOAT_32', [randomLogits(testRng('oov'), vocab, 1)]);
    const sampler = new Sampler(samplerParams({ temp: 0, penalizeLastN: 4, repetitionPenalty: 2 }), vocab);
    const history = new TokenHistory(4);
    history.pushAll([1, 2, 30]);
    expect(() => sampler.sample(view, history)).toThrow(InvalidArgumentError);
    expect(() => sampler.sample(view, history)).toThrow('history token 30 (0 before the newest) is outside the vocabulary [0, 10)');
    history.truncate(2);
    history.push(3);
    expect(() => sampler.sample(view, history)).not.toThrow();
  });
});

describe('every extra stage equals a naive full-sort float64 implementation', () => {
  const vocab = 250;
  const out = new Int32Array(vocab);
  const trials = (name: string, n: number, body: (rng: () => number, dtype: (typeof DTYPES)[number], trial: number) => void) => {
    it.each(DTYPES)(`%s: ${name}`, (dtype) => {
      const rng = testRng(`${name}-${dtype}`);
      for (let trial = 0; trial < n; trial++) body(rng, dtype, trial);
    });
  };

  trials('logit-bias, then Genie\'s top-k and top-p', 40, (rng, dtype, trial) => {
    const { view, data, encoding } = makeLogits(dtype, [randomLogits(rng, vocab, 2, trial % 3 ? 0 : 0.25)]);
    const values = dequantizeRow(dtype, data, 0, vocab, encoding);
    const bias: Record<string, number> = {};
    for (let j = 0; j < 6; j++) bias[String(Math.floor(rng() * vocab))] = (rng() - 0.5) * 10;
    bias[String(sortedTokens(values)[0])] = -3; // the best token pushed down
    const biased = values.map((v, t) => (bias[t] === undefined ? v : Math.fround(v + bias[t])));
    const topK = [0, 7, 30][trial % 3];
    const sampler = new Sampler(samplerParams({ topK, topP: 0.9, temp: 1 }), vocab, [{ type: 'logit-bias', bias }, 'top-k', 'top-p']);
    expect(Array.from(out.subarray(0, sampler.survivorsInto(view, out)))).toEqual(naiveSurvivors(biased, { topK, topP: 0.9, minP: 0 }));
    const greedy = new Sampler(samplerParams({ temp: 0 }), vocab, [{ type: 'logit-bias', bias }]);
    expect(greedy.sample(view)).toBe(sortedTokens(biased)[0]);
  });

  trials('temperature before top-p and min-p: the cuts take probabilities at that temperature', 30, (rng, dtype) => {
    const { view, data, encoding } = makeLogits(dtype, [randomLogits(rng, vocab, 2)]);
    const values = dequantizeRow(dtype, data, 0, vocab, encoding);
    const temp = [0.5, 2][Math.floor(rng() * 2)];
    const sampler = new Sampler(samplerParams({ temp, topP: 0.8, minP: 0.05 }), vocab, ['temperature', 'top-p', 'min-p']);
    const scaled = values.map((v) => v / temp);
    expect(Array.from(out.subarray(0, sampler.survivorsInto(view, out)))).toEqual(naiveSurvivors(scaled, { topK: 0, topP: 0.8, minP: 0.05 }));
  });

  trials('typical-p after top-k', 40, (rng, dtype, trial) => {
    const { view, data, encoding } = makeLogits(dtype, [randomLogits(rng, vocab, 1 + rng() * 3, trial % 4 ? 0 : 0.5)]);
    const values = dequantizeRow(dtype, data, 0, vocab, encoding);
    const p = [0.2, 0.5, 0.9, 0.99][trial % 4];
    const topK = [0, 50][trial % 2];
    const temp = [1, 0.7][Math.floor(trial / 2) % 2];
    const sampler = new Sampler(samplerParams({ topK, temp, topP: 1 }), vocab, ['top-k', 'temperature', { type: 'typical-p', p }]);
    const kept = topK > 0 ? sortedTokens(values).slice(0, topK) : sortedTokens(values);
    expect(Array.from(out.subarray(0, sampler.survivorsInto(view, out)))).toEqual(naiveTypical(values, kept, p, temp));
  });

  trials('xtc (probability 1) after top-k', 40, (rng, dtype, trial) => {
    const { view, data, encoding } = makeLogits(dtype, [randomLogits(rng, vocab, 1 + rng() * 3, trial % 4 ? 0 : 0.5)]);
    const values = dequantizeRow(dtype, data, 0, vocab, encoding);
    const threshold = [0.02, 0.05, 0.1, 0.3][trial % 4];
    const sampler = new Sampler(samplerParams({ topK: 20, temp: 1, topP: 1 }), vocab, ['top-k', { type: 'xtc', probability: 1, threshold }]);
    const kept = sortedTokens(values).slice(0, 20);
    expect(Array.from(out.subarray(0, sampler.survivorsInto(view, out)))).toEqual(naiveXtc(values, kept, threshold, 1));
  });

  it('xtc fires with its probability: one uniform of the dialog RNG per step, below `probability` cuts', () => {
    const rng = testRng('xtc-chance');
    const { view, data } = makeLogits('FLOAT_32', [randomLogits(rng, 40, 3)]);
    const values = dequantizeRow('FLOAT_32', data, 0, 40);
    const seed = 77;
    const sampler = new Sampler(samplerParams({ seed, temp: 1, topP: 1 }), 40, [{ type: 'xtc', probability: 0.3, threshold: 0.05 }]);
    const u = uniforms(seed);
    const all = sortedTokens(values);
    const cut = naiveXtc(values, all, 0.05, 1);
    expect(cut.length).toBeLessThan(all.length);
    for (let step = 0; step < 200; step++) {
      const fires = u() < 0.3;
      const survivors = fires ? cut : all;
      const draw = u();
      const probs = softmax(values, survivors, 1);
      let c = 0;
      let expected = survivors[survivors.length - 1];
      for (let i = 0; i < survivors.length; i++) {
        c += probs[i];
        if (c > draw) {
          expected = survivors[i];
          break;
        }
      }
      expect(sampler.sample(view)).toBe(expected);
    }
  });

  trials('mirostat-v2: the cut at mu, the draw, and mu moved by eta * (surprise - tau)', 4, (rng, dtype, trial) => {
    const rows = [0, 1, 2].map(() => randomLogits(rng, vocab, 1 + rng() * 3, trial % 2 ? 0.25 : 0));
    const { view, data, encoding } = makeLogits(dtype, rows);
    const tau = [3, 5][trial % 2];
    const eta = 0.1;
    const temp = [1, 0.8][trial % 2];
    const seed = 1000 + trial;
    const sampler = new Sampler(samplerParams({ seed, temp, topP: 1 }), vocab, ['temperature', { type: 'mirostat-v2', tau, eta }]);
    const u = uniforms(seed);
    let mu = 2 * tau;
    for (let step = 0; step < 40; step++) {
      view.setRow(step % 3);
      const values = dequantizeRow(dtype, data, step % 3, vocab, encoding);
      const cut = naiveMirostatCut(values, sortedTokens(values), mu, temp);
      expect(Array.from(out.subarray(0, sampler.survivorsInto(view, out)))).toEqual(cut);
      const probs = softmax(values, cut, temp);
      const draw = u();
      let c = 0;
      let index = cut.length - 1;
      for (let i = 0; i < cut.length; i++) {
        c += probs[i];
        if (c > draw) {
          index = i;
          break;
        }
      }
      expect(sampler.sample(view)).toBe(cut[index]);
      mu -= eta * (-Math.log2(probs[index]) - tau);
    }
  });
});

describe('top logprobs: the distribution drawn from', () => {
  it.each(DTYPES)('%s: top-N and the chosen token\'s log-probability equal softmax(temp) over the naive survivors', (dtype) => {
    const rng = testRng(`logprobs-${dtype}`);
    const vocab = 300;
    const report = new TopLogprobs(8);
    for (let trial = 0; trial < 30; trial++) {
      const { view, data, encoding } = makeLogits(dtype, [randomLogits(rng, vocab, 1 + rng() * 3, trial % 3 ? 0 : 0.25)]);
      const values = dequantizeRow(dtype, data, 0, vocab, encoding);
      const f = { topK: [0, 5, 40][trial % 3], topP: [1, 0.9][trial % 2], minP: 0 };
      const temp = [0.6, 1.3][trial % 2];
      const seed = trial;
      const sampler = new Sampler(samplerParams({ seed, temp, ...f }), vocab);
      const twin = new Sampler(samplerParams({ seed, temp, ...f }), vocab);
      const token = sampler.sample(view, undefined, report);
      expect(token).toBe(twin.sample(view)); // reporting changes nothing
      const kept = naiveSurvivors(values, f);
      const p = softmax(values, kept, temp);
      expect(report.count).toBe(Math.min(8, kept.length));
      expect(Array.from(report.tokens.subarray(0, report.count))).toEqual(kept.slice(0, report.count));
      for (let i = 0; i < report.count; i++) expect(report.logprobs[i]).toBeCloseTo(Math.log(p[i]), 10);
      expect(report.token).toBe(token);
      expect(report.logprob).toBeCloseTo(Math.log(p[kept.indexOf(token)]), 10);
    }
  });

  it('bad sizes are InvalidArgumentErrors', () => {
    for (const bad of [0, 1.5, -2, 70000]) {
      expect(() => new TopLogprobs(bad)).toThrow(InvalidArgumentError);
      expect(() => new TopLogprobs(bad)).toThrow(`topLogprobs must be an integer in [1, 65536], got ${bad}`);
    }
  });
});

describe('custom stages', () => {
  it('run where they are placed, with the context, and may select; accept hears the chosen token', () => {
    const vocab = 50;
    const { view, data } = makeLogits('FLOAT_32', [randomLogits(testRng('custom-stage'), vocab, 2)]);
    const values = dequantizeRow('FLOAT_32', data, 0, vocab);
    const calls: string[] = [];
    const accepted: number[] = [];
    const sizes: number[] = [];
    const pickWorst: SamplerStage = {
      name: 'pick-worst',
      apply(c: Candidates, context: StageContext) {
        calls.push(`${context.step}:${context.history?.length}`);
        sizes.push(c.size);
        let worst = c.tokenAt(0);
        for (let i = 1; i < c.size; i++) if (c.logits[c.tokenAt(i)] < c.logits[worst]) worst = c.tokenAt(i);
        if (context.step % 2 === 1) c.select(worst);
      },
      accept: (token) => accepted.push(token),
    };
    const sampler = new Sampler(samplerParams({ topK: 10, temp: 1, topP: 1 }), vocab, ['top-k', pickWorst, 'temperature']);
    const history = new TokenHistory(4);
    history.pushAll([1, 2]);
    const tokens = [0, 1, 2, 3].map(() => sampler.sample(view, history));
    expect(calls).toEqual(['0:2', '1:2', '2:2', '3:2']);
    expect(sizes).toEqual([10, 10, 10, 10]);
    const tenth = sortedTokens(values)[9];
    expect(tokens[1]).toBe(tenth);
    expect(tokens[3]).toBe(tenth);
    expect(accepted).toEqual(tokens);
    expect(sortedTokens(values).slice(0, 10)).toContain(tokens[0]);
  });

  it('stage misuse is an InvalidArgumentError: selecting outside the set, keeping nothing, a NaN logit', () => {
    const vocab = 20;
    const { view } = makeLogits('FLOAT_32', [randomLogits(testRng('misuse'), vocab, 2)]);
    const stage = (apply: (c: Candidates) => void): SamplerStage => ({ name: 'bad', apply });
    const run = (s: SamplerStage) => new Sampler(samplerParams({ topK: 3, temp: 1, topP: 1 }), vocab, ['top-k', s, 'temperature']).sample(view);
    const outside = sortedTokens(dequantizeRow('FLOAT_32', makeLogits('FLOAT_32', [randomLogits(testRng('misuse'), vocab, 2)]).data, 0, vocab))[10];
    expect(() => run(stage((c) => c.select(outside)))).toThrow(`select(${outside}): the token is not among the 3 candidates left`);
    expect(() => run(stage((c) => c.keep(() => false)))).toThrow('a sampler stage must keep at least one token');
    expect(() => run(stage((c) => c.setLogit(c.tokenAt(0), Number.NaN)))).toThrow(InvalidArgumentError);
    expect(() => run(stage((c) => c.select(vocab)))).toThrow(`token must be an integer in [0, ${vocab}), got ${vocab}`);
  });
});

describe('stage specs: bad values are InvalidArgumentErrors naming the key and value', () => {
  const cases: [unknown, string][] = [
    ['dist', 'x "dist" is not a stage; expected one of "penalties", "top-k", "top-p", "min-p", "temperature", "logit-bias", "typical-p", "mirostat-v2", "xtc", or an object for logit-bias, typical-p, mirostat-v2, xtc'],
    ['logit-bias', 'x "logit-bias" takes parameters: write it as an object with "type": "logit-bias" and "bias"'],
    ['xtc', 'x "xtc" takes parameters: write it as an object with "type": "xtc" and "probability", "threshold"'],
    [42, 'x must be a stage name or an object with a "type", got 42'],
    [{ type: 'top-k', k: 4 }, 'x.k is not a key of a "top-k" stage (it reads the sampler params)'],
    [{ type: 'typical-p', p: 0 }, 'x.p must be a number in (0, 1], got 0'],
    [{ type: 'typical-p' }, 'x.p must be a number in (0, 1], got undefined'],
    [{ type: 'mirostat-v2', tau: -1 }, 'x.tau must be a finite number > 0 (target surprise in bits), got -1'],
    [{ type: 'mirostat-v2', eta: 2 }, 'x.eta must be a number in (0, 1] (learning rate), got 2'],
    [{ type: 'xtc', probability: 0.5, threshold: 0.6 }, 'x.threshold must be a number in (0, 0.5], got 0.6'],
    [{ type: 'xtc', probability: '1', threshold: 0.1 }, 'x.probability must be a number in [0, 1], got "1"'],
    [{ type: 'logit-bias', bias: [1] }, 'x.bias must be an object of token id -> bias, got an array'],
    [{ type: 'logit-bias', bias: { '-1': 2 } }, 'x.bias key "-1" is not a token id (a non-negative integer)'],
    [{ type: 'logit-bias', bias: { 5: 'a' } }, 'x.bias["5"] must be a finite number, got "a"'],
    [{ type: 'nope' }, 'x.type must be one of "penalties", "top-k", "top-p", "min-p", "temperature", "logit-bias", "typical-p", "mirostat-v2", "xtc", got "nope"'],
  ];
  it.each(cases)('%j', (spec, message) => {
    expect(() => checkStageSpec(spec, 'x')).toThrow(InvalidArgumentError);
    expect(() => checkStageSpec(spec, 'x')).toThrow(message);
  });

  it('the chain: a repeated Genie stage, a bias token outside the vocabulary, a parameter without its stage', () => {
    expect(() => new Sampler(samplerParams(), 10, ['top-k', 'top-p', 'top-k', 'temperature'])).toThrow(
      'sampler.stages[2] repeats the "top-k" stage (it reads the sampler params once per step)',
    );
    expect(() => new Sampler(samplerParams({ temp: 1 }), 10, [{ type: 'logit-bias', bias: { 10: 1 } }])).toThrow(
      'sampler.stages[0].bias key "10" is outside the vocabulary [0, 10)',
    );
    expect(() => new Sampler(samplerParams({ temp: 0.5 }), 10, ['top-p'])).toThrow(
      'sampler.temp 0.5 has no "temperature" stage in sampler.stages [top-p]; add the stage or set the parameter neutral',
    );
    const sampler = new Sampler(samplerParams({ temp: 0.5 }), 10, ['temperature']);
    expect(() => sampler.configure({ topP: 0.9 })).toThrow('sampler.topP 0.9 has no "top-p" stage in sampler.stages [temperature]');
    expect(sampler.params.topP).toBe(1);
    expect(sampler.stageNames).toEqual(['temperature']);
  });
});

describe('seeded runs with extra stages', () => {
  it('a child process draws the same tokens (xtc, typical-p, mirostat-v2 and a logit bias in the chain)', () => {
    const script = "import('./test/sampler/sequence.ts').then((m) => console.log(JSON.stringify(m.drawStagedSequence(42))))";
    const stdout = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: repoRoot, encoding: 'utf8' });
    const here = drawStagedSequence(42);
    expect(JSON.parse(stdout)).toEqual(here);
    expect(drawStagedSequence(43)).not.toEqual(here);
    expect(new Set(here).size).toBeGreaterThan(5);
  });
});
