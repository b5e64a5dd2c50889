/**
 * KV policies on a running dialog, against the float64 cached oracle (./cached-oracle.ts): after every
 * eviction the logits of every later step must equal a decoder whose cache holds exactly the entries
 * the policy's rule keeps, at the positions they were computed at. The rule is written here from
 * the policy's definition, not taken from src/.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoCheckpoint, writeDemoBundle, type DemoBundle } from '../../../src/demo/index.js';
import { resolveDemoOptions } from '../../../src/demo/options.js';
import { ContextLimitError } from '../../../src/graphs/errors.js';
import { Dialog } from '../../../src/runtime/dialog.js';
import { TINY } from '../quant/fixtures.js';
import { StaleCheckpointError } from '../../../src/runtime/save/errors.js';
import { BACKENDS, DialogPool, makeModel, maxRowDiff, tempDir, tokenIds, tokenTurn, writeBundle, type Bundle, type Json, type Turn } from '../fixtures.js';
import { CachedOracle } from './cached-oracle.js';

const CL = 64;
/** KV entries the AR-1 graph holds: CL - 1. */
const CAPACITY = CL - 1;
/** The same for the quantised demo bundle (CL 16). */
const TINY_CAPACITY = TINY.cl - 1;

function longContext(reserved: number, window: number): Json {
  return { version: 1, type: 'sliding-window', 'reserved-tokens': reserved, 'sliding-window': { version: 1, 'window-size': window } };
}

/** Largest |delta| between a turn's logits rows and the oracle's rows. */
function worstDiff(rows: readonly Float32Array[], want: readonly Float64Array[]): number {
  expect(rows.length).toBe(want.length);
  let worst = 0;
  rows.forEach((row, i) => {
    for (let v = 0; v < row.length; v++) worst = Math.max(worst, Math.abs(row[v] - want[i][v]));
  });
  return worst;
}

/**
 * Genie's sliding window, as its definition reads: the first `reserved` entries stay; of the others
 * the oldest go, first so that a step fits in `capacity` (leaving at most reserved + window), then
 * after each step so that at most reserved + window remain.
 */
class WindowRule {
  constructor(
    readonly oracle: CachedOracle,
    readonly reserved: number,
    readonly window: number,
    readonly capacity = CAPACITY,
  ) {}

  private dropOldest(count: number): void {
    if (count > 0) this.oracle.drop(Array.from({ length: count }, (_, i) => this.reserved + i));
  }

  beforeStep(needed: number): void {
    const length = this.oracle.length;
    if (length + needed > this.capacity) this.dropOldest(length + needed - Math.min(this.capacity, this.reserved + this.window));
  }

  afterStep(): void {
    this.dropOldest(this.oracle.length - this.reserved - this.window);
  }

  /** One turn: its fed prompt, then the generated tokens but the last (which is not fed). Returns its logits rows. */
  turn(prompt: readonly number[], generated: readonly number[]): Float64Array[] {
    this.beforeStep(prompt.length);
    let row: Float64Array = new Float64Array(0);
    for (const token of prompt) row = this.oracle.feed(token);
    this.afterStep();
    const rows = [row];
    for (const token of generated.slice(0, -1)) {
      this.beforeStep(1);
      rows.push(this.oracle.feed(token));
      this.afterStep();
    }
    return rows;
  }
}

describe.each(BACKENDS)('%s: Genie\'s sliding-window longcontext block', (backend) => {
  const root = tempDir(`kv-sliding-${backend}`);
  const pool = new DialogPool(backend);
  const model = makeModel({}, 'kv-sliding');
  const vocab = model.config.vocabSize;
  let bundle: Bundle;

  beforeAll(async () => {
    bundle = await writeBundle(root, model, { name: 'bundle', arSet: [1, 8], cl: CL, splits: 2 });
  });
  afterAll(() => pool.disposeAll());

  async function open(reserved: number, window: number, contextSize = CL): Promise<Dialog> {
    const config = pool.config(bundle, { contextSize });
    config.dialog.engine.longcontext = longContext(reserved, window);
    return pool.open(bundle, config);
  }

  const expectTurn = (rule: WindowRule, turn: Turn): void => {
    expect(turn.result.generatedTokens).toEqual(turn.sampled.slice(0, turn.result.generatedTokens.length));
    expect(worstDiff(turn.logits, rule.turn(turn.result.promptTokens, turn.sampled))).toBeLessThanOrEqual(1e-4);
  };

  it('a window below the capacity: every step after the cache passes reserved + window evicts the oldest non-sink entry', async () => {
    const dialog = await open(4, 40);
    const rule = new WindowRule(new CachedOracle(model.config, model.weights), 4, 40);
    const turn = await tokenTurn(dialog, tokenIds(20, 1, 1, vocab - 1), { maxTokens: 90 });
    expect(turn.result.stopReason).toBe('max-tokens');
    expectTurn(rule, turn);
    // The cache: the 4 sinks at 0..3, then the 40 most recent entries at their own positions.
    const view = dialog.kvCache;
    expect(view.length).toBe(44);
    const positions = Array.from({ length: view.length }, (_, s) => view.position(s));
    const fed = 20 + 90 - 1;
    expect(positions).toEqual([0, 1, 2, 3, ...Array.from({ length: 40 }, (_, i) => fed - 40 + i)]);
    expect(positions).toEqual(rule.oracle.positions());
    expect(Array.from({ length: view.length }, (_, s) => view.token(s))).toEqual(rule.oracle.tokens());
    expect(view.nextPosition).toBe(fed);
  });

  it('a window past the capacity: a full cache evicts for each step (prefill and decode) and generates 10x the context', async () => {
    const dialog = await open(3, 1000);
    const rule = new WindowRule(new CachedOracle(model.config, model.weights), 3, 1000);
    const first = await tokenTurn(dialog, tokenIds(30, 2, 1, vocab - 1), { maxTokens: 50 });
    expectTurn(rule, first);
    expect(dialog.contextUsed).toBe(CAPACITY);
    // The next prompt needs 2 + 12 entries in a full cache: the policy makes room before the prefill.
    const second = await tokenTurn(dialog, tokenIds(12, 3, 1, vocab - 1), { maxTokens: 30 });
    expect(second.result.promptTokens).toHaveLength(14);
    expectTurn(rule, second);
    // 10x the context without error (the oracle is not run over this long stretch: the evictions
    // were checked above, this checks that nothing gives out).
    const long = await tokenTurn(dialog, tokenIds(5, 4, 1, vocab - 1), { maxTokens: 10 * CL });
    expect(long.result.stopReason).toBe('max-tokens');
    expect(long.result.generatedTokens).toHaveLength(10 * CL);
    expect(dialog.contextUsed).toBe(CAPACITY);
    expect(dialog.kvCache.nextPosition).toBe(30 + 50 - 1 + 14 + 30 - 1 + 7 + 10 * CL - 1);
  });

  it('context.size may exceed the largest CL with long context (Genie); the cache holds what the binaries hold', async () => {
    const dialog = await open(2, 8, 4 * CL);
    const rule = new WindowRule(new CachedOracle(model.config, model.weights), 2, 8);
    expectTurn(rule, await tokenTurn(dialog, tokenIds(9, 5, 1, vocab - 1), { maxTokens: 20 }));
    expect(dialog.contextUsed).toBe(10);
  });

  it('save after evictions, restore in a new dialog: it continues with the same tokens; a checkpoint whose entries moved is stale', async () => {
    const dialog = await open(2, 20);
    await tokenTurn(dialog, tokenIds(10, 8, 1, vocab - 1), { maxTokens: 30 });
    const early = dialog.checkpoint();
    const dir = join(root, `save-${backend}`);
    await dialog.save(dir);
    const restored = await open(2, 20);
    await restored.restore(dir);
    expect(Array.from({ length: restored.kvCache.length }, (_, s) => restored.kvCache.position(s)))
      .toEqual(Array.from({ length: dialog.kvCache.length }, (_, s) => dialog.kvCache.position(s)));
    const next = tokenIds(4, 9, 1, vocab - 1);
    const a = await tokenTurn(dialog, next, { maxTokens: 25 });
    const b = await tokenTurn(restored, next, { maxTokens: 25 });
    expect(b.sampled).toEqual(a.sampled);
    expect(maxRowDiff(a, b)).toBe(0);
    // The window slid past the checkpoint's entries: they are no longer the first entries of the cache.
    expect(() => dialog.rewindTo(early)).toThrow(StaleCheckpointError);
  });

  it('rewind queries (chat(), -w) go on past the context: cached entries match at their positions, only what is new is fed', async () => {
    const dialog = await open(3, 1000);
    const rule = new WindowRule(new CachedOracle(model.config, model.weights), 3, 1000);
    const view = dialog.kvCache;
    const slots = (): number[] => Array.from({ length: view.length }, (_, s) => s);

    let conversation = tokenIds(30, 11, 1, vocab - 1);
    const first = await tokenTurn(dialog, conversation, { rewind: true, maxTokens: 50 });
    expectTurn(rule, first);
    expect(dialog.contextUsed).toBe(CAPACITY);
    // Entry i of the conversation sits at position i (the dialog puts BOS first when configured).
    const bos = first.result.promptTokens.slice(0, first.result.promptTokens.length - conversation.length);
    conversation = [...conversation, ...first.sampled];

    // The whole conversation again plus a new message: the window slid, yet every cached entry is the
    // conversation's entry at its position, so the rewind keeps them all and feeds only the reply's
    // last token (never fed) and the new message; the window makes room for them.
    for (let round = 0; round < 3; round++) {
      const held = view.length;
      const fedFrom = view.position(held - 1) + 1;
      conversation = [...conversation, ...tokenIds(9, 20 + round, 1, vocab - 1)];
      const turn = await tokenTurn(dialog, conversation, { rewind: true, maxTokens: 20 });
      const fed = [...bos, ...conversation].slice(fedFrom);
      expect(turn.result.promptTokens).toEqual(fed);
      expect(turn.result.reusedTokens).toBe(CAPACITY - fed.length);
      expectTurn(rule, turn);
      conversation = [...conversation, ...turn.sampled];
    }
    for (const s of slots()) expect(view.token(s)).toBe([...bos, ...conversation][view.position(s)]);

    // An edit inside the cached window: the entries before it stay, the conversation is fed from there.
    const edited = [...bos, ...conversation];
    const editAt = view.position(view.length - 6);
    edited[editAt] = edited[editAt] === 1 ? 2 : 1;
    const kept = slots().filter((s) => view.position(s) < editAt).length;
    rule.oracle.drop(slots().slice(kept));
    const turn = await tokenTurn(dialog, edited.slice(bos.length), { rewind: true, maxTokens: 10 });
    expect(turn.result.promptTokens).toEqual(edited.slice(editAt));
    // The reply's last token (never fed) comes too, so the window evicts one more for room.
    expect(turn.result.reusedTokens).toBe(Math.min(kept, CAPACITY - (edited.length - editAt)));
    expectTurn(rule, turn);
  });

  it('a prompt that cannot fit beside the sinks is a ContextLimitError at query(), changing nothing', async () => {
    const dialog = await open(10, 20);
    await tokenTurn(dialog, tokenIds(20, 6, 1, vocab - 1), { maxTokens: 5 });
    const used = dialog.contextUsed;
    expect(() => dialog.tokenQuery(tokenIds(60, 7, 1, vocab - 1))).toThrow(ContextLimitError);
    expect(() => dialog.tokenQuery(tokenIds(60, 7, 1, vocab - 1))).toThrow(
      `the prompt needs 62 tokens but only ${CAPACITY - used} of context.size=${CL} (the binaries' KV cache holds ${CAPACITY} entries) are left; call reset() to make room, or shorten the prompt`,
    );
    expect(dialog.contextUsed).toBe(used);
  });
});

describe('a quantised demo bundle (HTP IO, uint8 KV): eviction compacts codes in place', () => {
  const root = tempDir('kv-sliding-htp');
  let bundle: DemoBundle;
  beforeAll(async () => {
    bundle = await writeDemoBundle(join(root, 'htp'), { ...TINY, quant: 'htp' });
  });

  /** 10 log10(sum ref^2 / sum (ref - x)^2) over every row. */
  function sqnrDb(rows: readonly Float32Array[], want: readonly Float64Array[]): number {
    let signal = 0;
    let noise = 0;
    rows.forEach((row, i) => {
      for (let v = 0; v < row.length; v++) {
        signal += want[i][v] ** 2;
        noise += (row[v] - want[i][v]) ** 2;
      }
    });
    return 10 * Math.log10(signal / noise);
  }

  it('logits after evictions stay within 30 dB SQNR of the float64 cached oracle, as without eviction', async () => {
    const config = JSON.parse(readFileSync(bundle.configPath, 'utf8')) as Json;
    config.dialog.engine.longcontext = longContext(2, 6);
    config.dialog.sampler = { version: 1, seed: 1, temp: 0 };
    const dialog = await Dialog.create(config, { baseDir: bundle.dir });
    try {
      const { config: qwen, weights } = demoCheckpoint(resolveDemoOptions({ ...TINY }));
      const rule = new WindowRule(new CachedOracle(qwen, new Map(weights)), 2, 6, TINY_CAPACITY);
      const turn = await tokenTurn(dialog, tokenIds(5, 8, 1, 1000), { maxTokens: 40 });
      expect(turn.sampled.length).toBeGreaterThan(20);
      const want = rule.turn(turn.result.promptTokens, turn.sampled);
      expect(dialog.contextUsed).toBe(8);
      expect(sqnrDb(turn.logits, want)).toBeGreaterThanOrEqual(30);
    } finally {
      await dialog.dispose();
    }
  });
});
