/**
 * Stage state across checkpoints, saves and rewinds: mirostat-v2's `mu` and a custom stage's state.
 * Oracles: the same sampler or dialog continuing uninterrupted (a restored one draws the same tokens),
 * and the state observed when the history had the length a rewind goes back to.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { SaveFormatError } from '../../src/runtime/save/errors.js';
import { Sampler, TokenHistory, type SamplerStage, type SamplerStageState, type StageContext } from '../../src/sampler/index.js';
import { DialogPool, makeModel, sharedTokenizer, stopFrom, tempDir, tokenIds, tokenTurn, writeBundle, type Bundle, type Json } from '../runtime/fixtures.js';
import { makeLogits, randomLogits, samplerParams } from './fixtures.js';
import { testRng } from './oracle.js';

const MIROSTAT = ['temperature', { type: 'mirostat-v2', tau: 2, eta: 0.3 }] as const;

/** Counts the tokens it accepted and remembers the history length each one was drawn at. */
class Counter implements SamplerStage {
  readonly name = 'counter';
  readonly stateSize = 2;
  accepted = 0;
  /** A second number, to check that states of more than one number stay in order. */
  sum = 0;
  readonly lengths: number[] = [];
  apply(): void {}
  accept(token: number, context: StageContext): void {
    this.accepted++;
    this.sum += token;
    this.lengths.push(context.history?.length ?? -1);
  }
  reset(): void {
    this.accepted = 0;
    this.sum = 0;
  }
  writeState(out: Float64Array, offset: number): void {
    out[offset] = this.accepted;
    out[offset + 1] = this.sum;
  }
  readState(from: Float64Array, offset: number): void {
    if (from[offset] < 0) throw new Error(`a count cannot be ${from[offset]}`);
    this.accepted = from[offset];
    this.sum = from[offset + 1];
  }
}

/** Rows of logits a mirostat chain truncates differently as `mu` moves. */
function rows(seed: string, vocab: number, n: number) {
  const rng = testRng(seed);
  return Array.from({ length: n }, () => makeLogits('FLOAT_32', [randomLogits(rng, vocab, 2)]).view);
}

const muOf = (sampler: Sampler): number => sampler.getStageState().state[0];

describe('sampler: stage state', () => {
  const vocab = 200;
  const views = rows('stage-state', vocab, 40);

  it('getStageState/setStageState with the RNG state: a second sampler continues with the same tokens', () => {
    const a = new Sampler(samplerParams({ seed: 5, temp: 0.9 }), vocab, MIROSTAT);
    const history = new TokenHistory(0);
    for (let i = 0; i < 15; i++) history.push(a.sample(views[i], history));
    const rng = a.getState();
    const stages = a.getStageState();
    expect(stages.stages).toEqual([{ name: 'mirostat-v2', size: 1 }]);
    expect(stages.state[0]).not.toBe(4); // mu moved away from 2 * tau
    const continued: number[] = [];
    for (let i = 15; i < 40; i++) continued.push(a.sample(views[i], history));

    const b = new Sampler(samplerParams({ seed: 99, temp: 0.9 }), vocab, MIROSTAT);
    b.setState(rng);
    b.setStageState(JSON.parse(JSON.stringify(stages)) as SamplerStageState);
    const replay = new TokenHistory(0);
    replay.restore({ length: 15, tokens: [] });
    expect(views.slice(15).map((view) => { const t = b.sample(view, replay); replay.push(t); return t; })).toEqual(continued);

    // Without the stage state (mu back at 2 * tau) the same RNG draws differently: mu matters here.
    const c = new Sampler(samplerParams({ seed: 99, temp: 0.9 }), vocab, MIROSTAT);
    c.setState(rng);
    expect(views.slice(15).map((view) => c.sample(view))).not.toEqual(continued);
  });

  it('rewindStages(length) takes the state observed when the history was that long; the RNG runs on', () => {
    const counter = new Counter();
    const sampler = new Sampler(samplerParams({ seed: 3, temp: 1 }), vocab, [...MIROSTAT, counter]);
    const history = new TokenHistory(0);
    history.pushAll([1, 2, 3, 4, 5]); // a prompt: no state changes while it is fed
    const seen = new Map<number, { mu: number; accepted: number; sum: number }>();
    seen.set(history.length, { mu: muOf(sampler), accepted: counter.accepted, sum: counter.sum });
    for (let i = 0; i < 20; i++) {
      history.push(sampler.sample(views[i], history));
      seen.set(history.length, { mu: muOf(sampler), accepted: counter.accepted, sum: counter.sum });
      if (i === 9) history.pushAll([7, 8, 9]); // a user turn in the middle
    }
    const at = (length: number) => ({ mu: muOf(sampler), accepted: counter.accepted, sum: counter.sum, length });
    for (const length of [22, 17, 16, 15, 14, 10, 6, 5, 3, 0]) {
      sampler.rewindStages(length);
      // The last length at or below it that was observed (lengths inside a prompt hold the state before it).
      const observed = Math.max(...[...seen.keys()].filter((k) => k <= length), 5);
      expect(at(length)).toEqual({ ...seen.get(observed)!, length });
    }
    expect(counter.accepted).toBe(0);
    expect(muOf(sampler)).toBe(4);
    // After a rewind the journal continues from there: sampling again and rewinding to it gives the new state.
    history.truncate(5);
    const t = sampler.sample(views[30], history);
    history.push(t);
    const mu = muOf(sampler);
    sampler.rewindStages(6);
    expect([muOf(sampler), counter.accepted, counter.sum]).toEqual([mu, 1, t]);
    expect(() => sampler.rewindStages(-1)).toThrow(new InvalidArgumentError('rewindStages needs a history length >= 0, got -1'));
  });

  it('reset() forgets the journal: a rewind after it finds the reset state', () => {
    const sampler = new Sampler(samplerParams({ seed: 3, temp: 1 }), vocab, MIROSTAT);
    const history = new TokenHistory(0);
    for (let i = 0; i < 5; i++) history.push(sampler.sample(views[i], history));
    sampler.reset();
    sampler.rewindStages(3);
    expect(muOf(sampler)).toBe(4);
    expect(sampler.getStageState().journal).toEqual({ base: [4], keys: [], states: [] });
  });

  it('a state that does not fit the chain is refused with the key at fault, and nothing changes', () => {
    const counter = new Counter();
    const sampler = new Sampler(samplerParams({ seed: 3, temp: 1 }), vocab, [...MIROSTAT, counter]);
    const history = new TokenHistory(0);
    for (let i = 0; i < 4; i++) history.push(sampler.sample(views[i], history));
    const good = sampler.getStageState();
    const bad = (edit: (s: Json) => void): SamplerStageState => {
      const s = JSON.parse(JSON.stringify(good)) as Json;
      edit(s);
      return s as SamplerStageState;
    };
    const cases: [SamplerStageState, string][] = [
      [bad((s) => { s.stages = [{ name: 'mirostat-v2', size: 1 }]; }), 'stage state.stages [mirostat-v2:1] are not this chain\'s stateful stages [mirostat-v2:1, counter:2] (name:size)'],
      [bad((s) => { s.state = [1, 2]; }), 'stage state.state must be an array of 3 numbers'],
      [bad((s) => { s.step = -2; }), 'stage state.step must be an integer >= 0, got -2'],
      [bad((s) => { s.journal.keys = [2, 2, 3, 4]; }), 'stage state.journal.keys[1] = 2 is not a history length >= 1 above the one before'],
      [bad((s) => { s.journal.states.pop(); }), 'stage state.journal.states must hold 3 numbers per key (12), got 11'],
      [bad((s) => { s.journal.base = [4, 0, 'x']; }), 'stage state.journal.base[2] must be a number, got "x"'],
      [bad((s) => { s.state = [Number.NaN, 1, 1]; }), 'stage state.state: mirostat-v2 mu must be a finite number of bits, got NaN'],
      [bad((s) => { s.state = [3, -1, 0]; }), 'stage state.state: a count cannot be -1'],
    ];
    for (const [state, message] of cases) {
      expect(() => sampler.setStageState(state)).toThrow(new InvalidArgumentError(message));
      expect(sampler.getStageState()).toEqual(good);
    }
    const plain = new Sampler(samplerParams({ seed: 3, temp: 1 }), vocab);
    expect(() => plain.setStageState(good)).toThrow(/stage state.stages \[mirostat-v2:1, counter:2\] are not this chain's stateful stages \[\]/);
  });

  it('a stage object whose state hooks are incomplete or whose stateSize is not a count is refused when the chain is built', () => {
    const base = { name: 'half', apply: () => undefined };
    const build = (stage: object) => new Sampler(samplerParams({ temp: 1 }), vocab, [stage as SamplerStage]);
    expect(() => build({ ...base, stateSize: 1, writeState: () => undefined })).toThrow(
      new InvalidArgumentError('sampler.stages[0] (stage "half") has stateSize 1 but not both writeState and readState'),
    );
    expect(() => build({ ...base, stateSize: 1.5 })).toThrow(new InvalidArgumentError('sampler.stages[0].stateSize (stage "half") must be an integer in [0, 1024], got 1.5'));
    expect(() => build({ ...base, readState: 3 })).toThrow(new InvalidArgumentError('sampler.stages[0].readState (stage "half") must be a function when present, got 3'));
  });

  it('recording the state allocates nothing per token (journal storage grows by doubling)', () => {
    const sampler = new Sampler(samplerParams({ seed: 3, temp: 1 }), vocab, MIROSTAT);
    const history = new TokenHistory(0);
    for (let i = 0; i < 5000; i++) history.push(sampler.sample(views[i % 40], history));
    const state = sampler.getStageState();
    expect(state.journal!.keys.length).toBe(5000);
    expect(state.journal!.keys[4999]).toBe(5000);
    expect(state.journal!.states[4999]).toBe(state.state[0]);
  });
});

describe('dialog: mirostat state across save, restore, checkpoints and rewinds', () => {
  const root = tempDir('stage-state');
  const pool = new DialogPool('Reference');
  const model = makeModel({}, 'stage-state');
  const vocab = model.config.vocabSize;
  const sampler: Json = { version: 1, seed: 11, temp: 1.2, 'top-p': 1, stages: ['temperature', { type: 'mirostat-v2', tau: 1.5, eta: 0.5 }] };
  let bundle: Bundle;
  let config: Json;

  beforeAll(async () => {
    bundle = await writeBundle(root, model, { name: 'bundle', arSet: [1, 4], cl: 128, splits: 1 });
    config = pool.config(bundle, { sampler });
  });
  afterAll(() => pool.disposeAll());

  it('a restored dialog continues with the tokens the original drew; a version-1 save restores with the stages reset', async () => {
    const dialog = await pool.open(bundle, config);
    await tokenTurn(dialog, tokenIds(6, 1, 1, vocab - 1), { maxTokens: 10 });
    const dir = join(root, 'save');
    await dialog.save(dir);
    const manifest = JSON.parse(readFileSync(join(dir, 'dialog.json'), 'utf8')) as Json;
    expect(manifest.version).toBe(2);
    expect(manifest.sampler.stages.stages).toEqual([{ name: 'mirostat-v2', size: 1 }]);
    const prompts = [tokenIds(4, 2, 1, vocab - 1), tokenIds(3, 3, 1, vocab - 1)];
    const expected = [];
    for (const prompt of prompts) expected.push((await tokenTurn(dialog, prompt, { maxTokens: 10 })).sampled);

    const restored = await pool.open(bundle, config);
    await tokenTurn(restored, tokenIds(3, 9, 1, vocab - 1), { maxTokens: 5 }); // some other state first
    await restored.restore(dir);
    for (const [i, prompt] of prompts.entries()) expect((await tokenTurn(restored, prompt, { maxTokens: 10 })).sampled).toEqual(expected[i]);

    // The save as version 1 wrote it (no sampler.stages) restores like the save with the stages' initial state.
    const v1 = join(root, 'save-v1');
    const reset = join(root, 'save-reset');
    for (const [target, edit] of [
      [v1, (m: Json) => { m.version = 1; delete m.sampler.stages; }],
      [reset, (m: Json) => { m.sampler.stages = { step: 0, stages: [{ name: 'mirostat-v2', size: 1 }], state: [3], journal: { base: [3], keys: [], states: [] } }; }],
    ] as const) {
      cpSync(dir, target, { recursive: true });
      const m = JSON.parse(JSON.stringify(manifest)) as Json;
      edit(m);
      writeFileSync(join(target, 'dialog.json'), JSON.stringify(m));
    }
    const fromV1 = await pool.open(bundle, config);
    await fromV1.restore(v1);
    const fromReset = await pool.open(bundle, config);
    await fromReset.restore(reset);
    const a = (await tokenTurn(fromV1, prompts[0], { maxTokens: 10 })).sampled;
    expect(a).toEqual((await tokenTurn(fromReset, prompts[0], { maxTokens: 10 })).sampled);
    expect(a).not.toEqual(expected[0]);
  });

  it('a save whose stage state does not fit the dialog\'s chain: SaveFormatError naming sampler.stages, the dialog unchanged', async () => {
    const dialog = await pool.open(bundle, config);
    await tokenTurn(dialog, tokenIds(5, 4, 1, vocab - 1), { maxTokens: 4 });
    const dir = join(root, 'save-mismatch');
    await dialog.save(dir);
    const plain = await pool.open(bundle, pool.config(bundle, { sampler: { version: 1, seed: 11, temp: 1.2, 'top-p': 1 } }));
    const used = plain.contextUsed;
    await expect(plain.restore(dir)).rejects.toThrow(SaveFormatError);
    await expect(plain.restore(dir)).rejects.toThrow(/sampler\.stages.stages \[mirostat-v2:1\] are not this chain's stateful stages \[\]/);
    expect(plain.contextUsed).toBe(used);
  });

  it('rewindTo(checkpoint) replays the next turn: the stages\' state is part of the checkpoint', async () => {
    const counter = new Counter();
    const dialog = await pool.open(bundle, config, { samplerStages: ['temperature', { type: 'mirostat-v2', tau: 1.5, eta: 0.5 }, counter] });
    await tokenTurn(dialog, tokenIds(5, 5, 1, vocab - 1), { maxTokens: 6 });
    const mark = dialog.checkpoint();
    const at = [counter.accepted, counter.sum];
    const prompt = tokenIds(3, 6, 1, vocab - 1);
    const first = await tokenTurn(dialog, prompt, { maxTokens: 24 });
    dialog.rewindTo(mark);
    expect([counter.accepted, counter.sum]).toEqual(at);
    expect((await tokenTurn(dialog, prompt, { maxTokens: 24 })).sampled).toEqual(first.sampled);
  });

  it('a REWIND query takes the stage state of its cut: a custom stage counts only the sampled tokens still in the conversation', async () => {
    const counter = new Counter();
    const dialog = await pool.open(bundle, config, { samplerStages: ['temperature', { type: 'mirostat-v2', tau: 1.5, eta: 0.5 }, counter] });
    const prompt = tokenIds(6, 7, 1, vocab - 1);
    const first = await tokenTurn(dialog, prompt, { maxTokens: 8, rewind: true });
    expect(counter.accepted).toBe(first.sampled.length);
    /** Sampled tokens of the journal at or below a history of `length` tokens (drawn at length L, they made it L + 1 long). */
    const keptAt = (length: number) => counter.lengths.filter((l) => l + 1 <= length).length;

    // The user edits the reply: the conversation keeps the prompt and the first three reply tokens.
    const edited = [...prompt, ...first.sampled.slice(0, 3), ...tokenIds(2, 8, 1, vocab - 1)];
    const second = await tokenTurn(dialog, edited, { maxTokens: 5, rewind: true });
    expect(second.result.reusedTokens).toBe(prompt.length + 3);
    const afterCut = keptAt(second.result.reusedTokens);
    expect(afterCut).toBe(3);
    expect(counter.accepted).toBe(afterCut + second.sampled.length);
    expect(counter.sum).toBe([...first.sampled.slice(0, 3), ...second.sampled].reduce((a, b) => a + b, 0));

    // Regenerate from the prompt alone: no sampled token is left before the cut.
    counter.lengths.length = 0;
    const third = await tokenTurn(dialog, prompt, { maxTokens: 4, rewind: true });
    expect(third.result.reusedTokens).toBe(prompt.length - 1);
    expect(counter.accepted).toBe(third.sampled.length);
  });

  it('tokens dropped for a stop sequence take their share of the stage state with them', async () => {
    const chain = (counter: Counter) => ({ samplerStages: ['temperature', { type: 'mirostat-v2', tau: 1.5, eta: 0.5 }, counter] as const });
    const prompt = tokenIds(5, 12, 1, vocab - 1);
    const free = await tokenTurn(await pool.open(bundle, config, chain(new Counter())), prompt, { maxTokens: 16 });
    const { stop } = stopFrom(await sharedTokenizer(), free.result.generatedTokens, 4, 2);
    const counter = new Counter();
    const dialog = await pool.open(bundle, pool.config(bundle, { sampler, stopSequences: [stop] }), chain(counter));
    const turn = await tokenTurn(dialog, prompt, { maxTokens: 16 });
    expect(turn.result.stopReason).toBe('stop-sequence');
    const kept = turn.result.generatedTokens;
    expect(kept).toEqual(free.result.generatedTokens.slice(0, kept.length));
    expect(counter.lengths.length).toBeGreaterThan(kept.length); // the stop's tokens were drawn, then dropped
    expect([counter.accepted, counter.sum]).toEqual([kept.length, kept.reduce((a, b) => a + b, 0)]);
  });
});
