/**
 * Positions carried apart from KV slots. After `setPosition` the cache holds its entries in slots
 * 0.. while the model is told other positions; the logits must equal a float64 recompute of the
 * same tokens with those HF `position_ids`, and (where positions have a gap, which RoPE can see)
 * differ from the recompute at 0.., so the test fails if positions were ignored. On a synthetic
 * scatter model, `position_ids` follows positions while `cache_index` and the mask follow slots.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphBackend } from '../../../src/backends/backend.js';
import { openReferenceBackend } from '../../../src/backends/reference/index.js';
import { InvalidArgumentError } from '../../../src/errors.js';
import { ContextLimitError } from '../../../src/graphs/errors.js';
import type { GraphSpec, TensorSpec } from '../../../src/graphs/spec.js';
import { Engine } from '../../../src/runtime/engine/index.js';
import { bundle as syntheticBundle } from '../../graphs/fixtures.js';
import { fullForward } from '../../backends/reference/qwen2-oracle.js';
import { makeModel, silentEos, tempDir, tokenIds, writeBundle, type Bundle } from '../fixtures.js';

const CL = 64;
const model = makeModel({}, 'positions');
const vocab = model.config.vocabSize;
const ids = (n: number, seed: number): number[] => tokenIds(n, seed, 1, vocab - 1);

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

function argmaxOf(row: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

describe('Engine: a cache whose positions are apart from its slots (Reference, float64 recompute)', () => {
  const root = tempDir('engine-positions');
  let bundle: Bundle;
  let engine: Engine;

  beforeAll(async () => {
    bundle = await writeBundle(root, model, { name: 'offset', arSet: [1, 8], cl: CL, splits: 2 });
    engine = Engine.create(await openReferenceBackend(bundle.ctxBins.map((p) => join(bundle.dir, p))), {
      contextSize: CL,
      padToken: 0,
      eosToken: silentEos(model),
      rope: { theta: model.config.ropeTheta, scaling: { type: 'default' } },
    });
  });
  afterAll(() => engine.dispose());

  /** Prefill, then greedy decodes; every logits row, dequantized. */
  async function generate(prompt: readonly number[], decodes: number): Promise<{ tokens: number[]; rows: Float32Array[] }> {
    const row = new Float32Array(vocab);
    const rows: Float32Array[] = [];
    let token = (await engine.prefill(prompt))!.dequantizeInto(row);
    rows.push(row.slice());
    const tokens = [token];
    for (let i = 0; i < decodes; i++) {
      token = (await engine.decode(token)).dequantizeInto(row);
      rows.push(row.slice());
      tokens.push(token);
    }
    return { tokens, rows };
  }

  /**
   * The run's rows (prefill of `prompt` after `context`, then decodes) against the recompute of the
   * whole fed sequence at `positions` (one per fed token, the generated ones continuing the last).
   * Returns the largest difference to the recompute at positions 0.. (contiguous).
   */
  function expectRecompute(context: number[], prompt: number[], run: { tokens: number[]; rows: Float32Array[] }, positions: number[]): number {
    const fed = [...context, ...prompt, ...run.tokens.slice(0, -1)];
    const all = [...positions];
    while (all.length < fed.length) all.push(all[all.length - 1] + 1);
    const from = context.length + prompt.length - 1;
    const want = fullForward(model.config, model.weights, fed, all).slice(from);
    const contiguous = fullForward(model.config, model.weights, fed).slice(from);
    expect(run.rows).toHaveLength(want.length);
    run.rows.forEach((row, i) => {
      expect(maxDiff(row, want[i])).toBeLessThanOrEqual(1e-4);
      expect(run.tokens[i]).toBe(argmaxOf(want[i]));
    });
    return Math.max(...run.rows.map((row, i) => maxDiff(row, contiguous[i])));
  }

  const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

  it.each([0, 1, 23])('setPosition(%i) on an empty cache: prefill over two AR-8 chunks and 6 decodes match the recompute', async (start) => {
    engine.reset();
    engine.setPosition(start);
    expect(engine.position).toBe(start);
    const prompt = ids(11, start + 1);
    const run = await generate(prompt, 6);
    expect(engine.nValid).toBe(17);
    expect(engine.position).toBe(start + 17);
    // RoPE scores depend only on position differences, so a uniform shift must not change the
    // logits: this case checks the offset reaches cos/sin consistently, the gap cases below that
    // positions are used at all.
    expect(expectRecompute([], prompt, run, range(start, 11))).toBeLessThanOrEqual(1e-4);
  });

  it('a gap in the positions (6 entries at 0..5, then 20..): logits equal the recompute at those positions', async () => {
    engine.reset();
    const context = ids(6, 11);
    await engine.prefill(context);
    engine.setPosition(20);
    const prompt = ids(9, 12);
    const run = await generate(prompt, 5);
    expect(engine.nValid).toBe(6 + 9 + 5);
    expect(engine.position).toBe(20 + 9 + 5);
    const versusContiguous = expectRecompute(context, prompt, run, [...range(0, 6), ...range(20, 9)]);
    expect(versusContiguous).toBeGreaterThan(1e-2);
  });

  it('a rewind into the gapped entries keeps their positions; a rewind before the gap and a reset restore slot positions', async () => {
    engine.reset();
    const context = ids(6, 21);
    await engine.prefill(context);
    engine.setPosition(30);
    const middle = ids(8, 22);
    await engine.prefill(middle);
    engine.rewind(9);
    expect(engine.position).toBe(33);
    const prompt = ids(4, 23);
    const run = await generate(prompt, 3);
    const versusContiguous = expectRecompute([...context, ...middle.slice(0, 3)], prompt, run, [...range(0, 6), ...range(30, 7)]);
    expect(versusContiguous).toBeGreaterThan(1e-2);

    engine.rewind(4);
    expect(engine.position).toBe(4);
    engine.reset();
    expect(engine.position).toBe(0);
  });

  it('an aborted prefill leaves the cache and the next position as they were', async () => {
    engine.reset();
    engine.setPosition(10);
    const controller = new AbortController();
    controller.abort();
    expect(await engine.prefill(ids(12, 31), controller.signal)).toBeNull();
    expect(engine.nValid).toBe(0);
    expect(engine.position).toBe(10);
  });

  it('rejects positions below the last entry + 1 or past int32, changing nothing', async () => {
    engine.reset();
    engine.setPosition(3);
    await engine.prefill([5, 6]);
    expect(engine.position).toBe(5);
    for (const bad of [4, -1, 5.5, 2 ** 31, Number.NaN]) {
      expect(() => engine.setPosition(bad)).toThrow(InvalidArgumentError);
      expect(() => engine.setPosition(bad)).toThrow(`position must be an integer in [5, 2^31), got ${bad} (the last cached entry is at 4)`);
    }
    expect(engine.nValid).toBe(2);
    expect(engine.position).toBe(5);

    engine.reset();
    expect(() => engine.setPosition(-1)).toThrow('position must be an integer in [0, 2^31), got -1');
    engine.setPosition(2 ** 31 - 3);
    const error = await engine.prefill([1, 2, 3, 4]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContextLimitError);
    expect((error as Error).message).toBe(`positions ${2 ** 31 - 3} .. ${2 ** 31} exceed the int32 positions the model's inputs take (below 2^31)`);
    expect(engine.nValid).toBe(0);
    expect(engine.position).toBe(2 ** 31 - 3);
  });

  it('positions past the largest CL (RoPE rows computed, not in the table) match the recompute at those positions', async () => {
    engine.reset();
    const context = ids(5, 41);
    await engine.prefill(context);
    // The gap crosses the table's end (CL = 64): the prompt runs at 60..68, the decodes after it.
    engine.setPosition(CL - 4);
    const prompt = ids(9, 42);
    const run = await generate(prompt, 4);
    expect(engine.position).toBe(CL - 4 + 9 + 4);
    const versusContiguous = expectRecompute(context, prompt, run, [...range(0, 5), ...range(CL - 4, 9)]);
    expect(versusContiguous).toBeGreaterThan(1e-2);
  });
});

/** Snapshots of the named int32 inputs at each execute of a step's first part. */
interface Snapshot {
  readonly graph: string;
  readonly values: Map<string, number[]>;
}

function recordingBackend(graphs: GraphSpec[], watch: readonly string[]): GraphBackend & { readonly snapshots: Snapshot[] } {
  const bound = new Map<string, ReadonlyMap<string, Uint8Array>>();
  const snapshots: Snapshot[] = [];
  return {
    type: 'recording',
    graphs,
    snapshots,
    allocate: (n) => new Uint8Array(n),
    bind: (graph, buffers) => void bound.set(graph, buffers),
    execute: async (graph) => {
      if (!graph.endsWith('_1_of_2')) return;
      const spec = graphs.find((g) => g.name === graph)!;
      const values = new Map<string, number[]>();
      for (const name of watch) {
        const bytes = bound.get(graph)!.get(name)!;
        const n = spec.inputs.find((t) => t.name === name)!.shape.reduce((a, b) => a * b, 1);
        values.set(name, Array.from(name === 'attention_mask'
          ? new Uint16Array(bytes.buffer, bytes.byteOffset, n)
          : new Int32Array(bytes.buffer, bytes.byteOffset, n)));
      }
      snapshots.push({ graph, values });
    },
    dispose: async () => {},
  };
}

describe('Engine: position_ids follow positions, cache_index and the mask follow slots (synthetic scatter model)', () => {
  const SYN_CL = 32;
  const AR = 4;
  // A scatter export that takes position_ids instead of cos/sin tables.
  const graphs = syntheticBundle({ ars: [1, AR], cls: [SYN_CL], splits: 2, mode: 'scatter' }).graphs.map((g) => ({
    ...g,
    inputs: g.inputs.flatMap((t): TensorSpec[] => {
      if (t.name === 'position_ids_sin') return [];
      if (t.name !== 'position_ids_cos') return [t];
      return [{ name: 'position_ids', dtype: 'INT_32', shape: [1, t.shape[2]] }];
    }),
  }));
  const watch = ['position_ids', 'cache_index', 'attention_mask'];
  const backend = recordingBackend(graphs, watch);
  const engine = Engine.create(backend, { contextSize: SYN_CL, padToken: 0, eosToken: 1, rope: { theta: 1e4, scaling: { type: 'default' } } });

  /** Row i < nNew attends slots [0, nValid + i] (scatter: new entries sit at their slots); other rows none. */
  function expectedMask(ar: number, nValid: number, nNew: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < ar; i++) {
      for (let c = 0; c < SYN_CL; c++) out.push(i < nNew && c <= nValid + i ? 65535 : 0);
    }
    return out;
  }

  function take(): Array<Record<string, number[]>> {
    const steps = backend.snapshots.map((s) => Object.fromEntries(s.values));
    backend.snapshots.length = 0;
    return steps;
  }

  it('starts at position 100 in slot 0; rewinds and resets move both counters consistently', async () => {
    expect(engine.layout.kvMode).toBe('scatter');
    engine.setPosition(100);
    await engine.prefill([3, 4, 5, 6, 7, 8]);
    let steps = take();
    // 6 tokens, ARs {1, 4}: the largest AR, chunks of 4 and 2 (+2 padded rows).
    expect(steps.map((s) => s.position_ids)).toEqual([[100, 101, 102, 103], [104, 105, 0, 0]]);
    expect(steps.map((s) => s.cache_index)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
    expect(steps[0].attention_mask).toEqual(expectedMask(AR, 0, 4));
    expect(steps[1].attention_mask).toEqual(expectedMask(AR, 4, 2));

    await engine.decode(9);
    steps = take();
    expect(steps[0].position_ids).toEqual([106]);
    expect(steps[0].cache_index).toEqual([6]);
    expect(steps[0].attention_mask).toEqual(expectedMask(1, 6, 1));

    engine.rewind(3);
    expect(engine.position).toBe(103);
    await engine.decode(9);
    steps = take();
    expect(steps[0].position_ids).toEqual([103]);
    expect(steps[0].cache_index).toEqual([3]);

    engine.reset();
    expect(engine.position).toBe(0);
    await engine.decode(9);
    expect(take()[0].position_ids).toEqual([0]);
  });

  it('after an eviction (a KV policy\'s): cache_index and the mask follow the compacted slots, position_ids continue the positions', async () => {
    engine.reset();
    await engine.prefill([3, 4, 5, 6, 7, 8, 9, 10]);
    take();
    engine.evict([1, 2, 3]);
    expect(engine.nValid).toBe(5);
    expect(engine.position).toBe(8);
    await engine.decode(11);
    let steps = take();
    expect(steps[0].position_ids).toEqual([8]);
    expect(steps[0].cache_index).toEqual([5]);
    expect(steps[0].attention_mask).toEqual(expectedMask(1, 5, 1));
    // A prefill chunk after it: slots 6.., positions 9..
    await engine.prefill([12, 13, 14]);
    steps = take();
    expect(steps[0].position_ids).toEqual([9, 10, 11, 0]);
    expect(steps[0].cache_index).toEqual([6, 7, 8, 9]);
    expect(steps[0].attention_mask).toEqual(expectedMask(AR, 6, 3));
  });

  it('position_ids take any int32 position, and nothing past it', async () => {
    engine.reset();
    engine.setPosition(2 ** 31 - 1);
    expect(engine.position).toBe(2 ** 31 - 1);
    expect(() => engine.setPosition(-1)).toThrow('position must be an integer in [0, 2^31), got -1');
    await engine.decode(9);
    expect(take()[0].position_ids).toEqual([2 ** 31 - 1]);
    await expect(engine.decode(9)).rejects.toThrow(ContextLimitError);
  });

  it('lists its input parts in fill order, each with the tensors it writes', () => {
    expect(engine.inputs.map((p) => p.name)).toEqual(['KV cache', 'token ids', 'attention mask', 'position ids', 'cache index']);
    expect(engine.inputs.find((p) => p.name === 'position ids')!.tensors.map((t) => t.name)).toEqual(['position_ids']);
    // 2 layers x (key, value) x (in, out).
    expect(engine.inputs[0].tensors).toHaveLength(16);
  });
});

describe('Engine.evict (one-layer model: a cached entry depends only on its token and position)', () => {
  // With one decoder layer, K and V of an entry are computed from its own token and position only,
  // so a cache that dropped entries equals the recompute of the kept tokens at their positions.
  const oneLayer = makeModel({ numHiddenLayers: 1 }, 'evict');
  const root = tempDir('engine-evict');
  let engine: Engine;

  beforeAll(async () => {
    const b = await writeBundle(root, oneLayer, { name: 'one-layer', arSet: [1, 8], cl: CL, splits: 1 });
    engine = Engine.create(await openReferenceBackend(b.ctxBins.map((p) => join(b.dir, p))), {
      contextSize: CL,
      padToken: 0,
      eosToken: silentEos(oneLayer),
      rope: { theta: oneLayer.config.ropeTheta, scaling: { type: 'default' } },
    });
  });
  afterAll(() => engine.dispose());

  it('attention sinks + a window: evict a middle run and scattered slots, then prefill and decode; logits equal the recompute', async () => {
    engine.reset();
    const context = tokenIds(20, 41, 1, vocab - 1);
    await engine.prefill(context);
    // Keep slots 0..3 (sinks), drop 4..11, then drop what were slots 14 and 17.
    engine.evict([4, 5, 6, 7, 8, 9, 10, 11, 14, 17]);
    expect(engine.nValid).toBe(10);
    expect(engine.position).toBe(20);
    const keptSlots = [0, 1, 2, 3, 12, 13, 15, 16, 18, 19];
    const prompt = tokenIds(5, 42, 1, vocab - 1);
    const row = new Float32Array(vocab);
    const rows: Float32Array[] = [];
    let token = (await engine.prefill(prompt))!.dequantizeInto(row);
    rows.push(row.slice());
    const generated = [token];
    for (let i = 0; i < 4; i++) {
      token = (await engine.decode(token)).dequantizeInto(row);
      rows.push(row.slice());
      generated.push(token);
    }
    const fed = [...keptSlots.map((s) => context[s]), ...prompt, ...generated.slice(0, -1)];
    const positions = [...keptSlots, ...fed.slice(keptSlots.length).map((_, i) => 20 + i)];
    const want = fullForward(oneLayer.config, oneLayer.weights, fed, positions).slice(keptSlots.length + prompt.length - 1);
    const contiguous = fullForward(oneLayer.config, oneLayer.weights, fed).slice(keptSlots.length + prompt.length - 1);
    rows.forEach((r, i) => {
      expect(maxDiff(r, want[i])).toBeLessThanOrEqual(1e-4);
      expect(generated[i]).toBe(argmaxOf(want[i]));
    });
    expect(Math.max(...rows.map((r, i) => maxDiff(r, contiguous[i])))).toBeGreaterThan(1e-2);
    expect(engine.position).toBe(20 + 5 + 4);
  });

  it('a rewind after an eviction goes back to the kept entries and their positions', async () => {
    engine.reset();
    await engine.prefill(tokenIds(12, 43, 1, vocab - 1));
    engine.evict([2, 3, 4]);
    engine.rewind(4);
    // Slots 0, 1, 5, 6 are left: the next position follows the entry from position 6.
    expect(engine.position).toBe(7);
  });

  it('rejects bad slot lists with InvalidArgumentError and changes nothing', async () => {
    engine.reset();
    await engine.prefill([1, 2, 3, 4]);
    expect(() => engine.evict([4])).toThrow('slots[0] = 4 is not a cached slot in [0, 4)');
    expect(() => engine.evict([2, 1])).toThrow(InvalidArgumentError);
    expect(engine.nValid).toBe(4);
    expect(engine.position).toBe(4);
  });
});
