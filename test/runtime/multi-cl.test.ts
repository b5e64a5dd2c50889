/**
 * A multi-CL bundle (docs/genie-behaviour.md#graph-variants-and-splits,
 * docs/genie-behaviour.md#inference-strategy, docs/genie-behaviour.md#kv-cache-smart-mask): the
 * same random checkpoint split at CL 64 and at CL 256 (AR {1, 16}), both sets of ctx-bins given to
 * one Engine / Dialog. Queries start on the smallest CL that fits, switch to CL 256 when the cache
 * outgrows CL 64 (mid-prefill or while decoding) and go back after a rewind or reset; the logits
 * must equal an uncached recompute and the tokens those of the CL-256-only bundle, and the context
 * limit is CL 256's.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphBackend } from '../../src/backends/backend.js';
import { openReferenceBackend } from '../../src/backends/reference/index.js';
import { ContextLimitError, ModelLayoutError } from '../../src/graphs/errors.js';
import type { Dialog } from '../../src/runtime/dialog.js';
import { Engine } from '../../src/runtime/engine/index.js';
import { fullForward } from '../backends/reference/qwen2-oracle.js';
import {
  BACKENDS, DialogPool, argmax, expectTurnMatchesRecompute, makeModel, silentEos, tempDir, tokenIds, tokenTurn, writeBundle,
  type Bundle, type Turn,
} from './fixtures.js';

const SMALL_CL = 64;
const LARGE_CL = 256;
const AR_SET = [1, 16];
const SPLITS = 2;

const root = tempDir('runtime-multi-cl');
const model = makeModel({}, 'multi-cl');
const vocab = model.config.vocabSize;
const ids = (n: number, seed: number): number[] => tokenIds(n, seed, 1, vocab - 1);

/** The CL-256-only bundle, and one whose config lists the CL-256 and the CL-64 ctx-bins. */
let single: Bundle;
let multi: Bundle;

beforeAll(async () => {
  const small = await writeBundle(root, model, { name: 'cl64', arSet: AR_SET, cl: SMALL_CL, splits: SPLITS });
  single = await writeBundle(root, model, { name: 'cl256', arSet: AR_SET, cl: LARGE_CL, splits: SPLITS });
  // Largest CL first: discovery must group graphs by the CL in their names, not by file order.
  multi = {
    dir: root,
    model,
    ctxBins: [...single.ctxBins.map((p) => join('cl256', p)), ...small.ctxBins.map((p) => join('cl64', p))],
    cl: LARGE_CL,
    lut: undefined,
  };
});

/** Records the graphs the engine executes. */
class RecordingBackend implements GraphBackend {
  readonly executed: string[] = [];
  constructor(private readonly inner: GraphBackend) {}
  get type(): string {
    return this.inner.type;
  }
  get graphs() {
    return this.inner.graphs;
  }
  allocate(byteLength: number): Uint8Array {
    return this.inner.allocate(byteLength);
  }
  bind(graph: string, buffers: ReadonlyMap<string, Uint8Array>): void {
    this.inner.bind(graph, buffers);
  }
  async execute(graph: string): Promise<void> {
    this.executed.push(graph);
    await this.inner.execute(graph);
  }
  dispose(): Promise<void> {
    return this.inner.dispose();
  }

  /** `ar<AR>_cl<CL>` of each step since the last call (a step runs part 1, then part 2). */
  takeSteps(): string[] {
    const steps = this.executed
      .filter((g) => g.endsWith(`_1_of_${SPLITS}`))
      .map((g) => /(ar\d+_cl\d+)_1_of_/.exec(g)![1]);
    expect(this.executed.length).toBe(steps.length * SPLITS);
    this.executed.length = 0;
    return steps;
  }
}

const repeat = (step: string, n: number): string[] => Array.from({ length: n }, () => step);

/** The logits rows an engine produced, against the uncached forward pass over the same tokens. */
function expectRowsMatchRecompute(tokens: readonly number[], rows: readonly Float32Array[], firstPosition: number): void {
  const expected = fullForward(model.config, model.weights, tokens);
  let worst = 0;
  rows.forEach((row, i) => {
    const want = expected[firstPosition + i];
    for (let v = 0; v < want.length; v++) worst = Math.max(worst, Math.abs(row[v] - want[v]));
    expect(argmax(row)).toBe(argmax(want));
  });
  expect(worst).toBeLessThanOrEqual(1e-4);
}

describe('Engine over a CL {64, 256} bundle: which variant runs each step', () => {
  let backend: RecordingBackend;
  let engine: Engine;

  beforeAll(async () => {
    backend = new RecordingBackend(await openReferenceBackend(multi.ctxBins.map((p) => join(root, p))));
    engine = Engine.create(backend, {
      contextSize: LARGE_CL,
      padToken: 0,
      eosToken: silentEos(model),
      rope: { theta: model.config.ropeTheta, scaling: { type: 'default' } },
    });
  });
  afterAll(() => engine.dispose());

  /** Prefills `prompt`, then decodes greedily `decodes` times; returns every token and logits row. */
  async function generate(prompt: readonly number[], decodes: number) {
    const row = new Float32Array(vocab);
    const rows: Float32Array[] = [];
    let token = (await engine.prefill(prompt))!.dequantizeInto(row);
    rows.push(row.slice());
    const generated = [token];
    for (let i = 0; i < decodes; i++) {
      token = (await engine.decode(token)).dequantizeInto(row);
      rows.push(row.slice());
      generated.push(token);
    }
    return { generated, rows };
  }

  it('the layout lists both CLs and the KV regions are sized for CL 256', () => {
    expect(engine.layout.contextLengths).toEqual([SMALL_CL, LARGE_CL]);
    expect(engine.layout.variants.map((v) => v.id)).toEqual(['ar1_cl64', 'ar16_cl64', 'ar1_cl256', 'ar16_cl256']);
  });

  it('prefills at CL 64, decodes there while nValid + 1 <= 64 - 1, then moves to CL 256; logits equal the recompute', async () => {
    engine.reset();
    backend.takeSteps();
    const prompt = ids(40, 1);
    const { generated, rows } = await generate(prompt, 40);
    // 40 tokens = AR-16 chunks of 16, 16, 8: all fit CL 64's past (64 - 16 = 48).
    // Decode at nValid n needs n + 1 <= CL - 1: CL 64 for n <= 62 (n = 40..62), CL 256 after.
    expect(backend.takeSteps()).toEqual([...repeat('ar16_cl64', 3), ...repeat('ar1_cl64', 23), ...repeat('ar1_cl256', 17)]);
    expect(engine.nValid).toBe(80);
    expectRowsMatchRecompute([...prompt, ...generated.slice(0, -1)], rows, prompt.length - 1);

    // A rewind below CL 64's capacity goes back to CL 64 (a legal switch down), from the same cache.
    engine.rewind(50);
    const kept = [...prompt, ...generated].slice(0, 50);
    const next = ids(1, 2)[0];
    const row = new Float32Array(vocab);
    const rewound: Float32Array[] = [];
    const fed = [...kept, next];
    let token = (await engine.decode(next)).dequantizeInto(row);
    rewound.push(row.slice());
    for (let i = 0; i < 15; i++) {
      fed.push(token);
      token = (await engine.decode(token)).dequantizeInto(row);
      rewound.push(row.slice());
    }
    // Decodes at nValid 50..65: CL 64 up to 62, then CL 256 again.
    expect(backend.takeSteps()).toEqual([...repeat('ar1_cl64', 13), ...repeat('ar1_cl256', 3)]);
    expectRowsMatchRecompute(fed, rewound, 50);
  });

  it('a prompt longer than CL 64 holds bumps to CL 256 mid-prefill', async () => {
    engine.reset();
    backend.takeSteps();
    const prompt = ids(100, 3);
    const { generated, rows } = await generate(prompt, 8);
    // Chunks at nValid 0, 16, 32 fit CL 64 (n + 16 <= 48); from nValid 48 on, CL 256: 16, 16, 16, 4.
    expect(backend.takeSteps()).toEqual([...repeat('ar16_cl64', 3), ...repeat('ar16_cl256', 4), ...repeat('ar1_cl256', 8)]);
    expectRowsMatchRecompute([...prompt, ...generated.slice(0, -1)], rows, prompt.length - 1);
  });

  it('reset returns to CL 64', async () => {
    const prompt = ids(20, 4);
    engine.reset();
    backend.takeSteps();
    const { generated, rows } = await generate(prompt, 4);
    expect(backend.takeSteps()).toEqual([...repeat('ar16_cl64', 2), ...repeat('ar1_cl64', 4)]);
    expectRowsMatchRecompute([...prompt, ...generated.slice(0, -1)], rows, prompt.length - 1);
  });
});

describe.each(BACKENDS)('%s: Dialog over a CL {64, 256} bundle', (backend) => {
  const dialogs = new DialogPool(backend);
  afterAll(() => dialogs.disposeAll());

  /** Runs a query expected to fail mid-stream; returns what it sampled before the error. */
  async function failingTurn(dialog: Dialog, tokens: number[]) {
    const sampled: number[] = [];
    const logits: Float32Array[] = [];
    let error: unknown;
    try {
      const query = dialog.tokenQuery(tokens, {
        onLogits: (row, token) => {
          sampled.push(token);
          logits.push(row.slice());
        },
      });
      for await (const piece of query) void piece;
    } catch (caught) {
      error = caught;
    }
    return { error, sampled, logits };
  }

  it('a conversation crossing from CL 64 to CL 256 equals the recompute and the CL-256 bundle, and again after reset', async () => {
    const mine = await dialogs.open(multi);
    const theirs = await dialogs.open(single);
    const p1 = ids(40, 5);
    const p2 = ids(30, 6);
    const p3 = ids(100, 7);
    const both = async (f: (d: Dialog) => Promise<Turn>) => [await f(mine), await f(theirs)] as const;

    // Turn 1 prefills at CL 64 and decodes past it.
    const [t1, s1] = await both((d) => tokenTurn(d, p1, { maxTokens: 50 }));
    expect(t1.result.stopReason).toBe('max-tokens');
    expect(mine.contextUsed).toBe(p1.length + 49);
    expect(mine.contextUsed).toBeGreaterThan(SMALL_CL);
    expectTurnMatchesRecompute(model, p1, t1);
    expect(t1.sampled).toEqual(s1.sampled);

    // Turn 2 continues on CL 256.
    const [t2, s2] = await both((d) => tokenTurn(d, p2, { maxTokens: 12 }));
    const g1 = t1.result.generatedTokens;
    expect(t2.result.promptTokens).toEqual([g1[g1.length - 1], silentEos(model), ...p2]);
    expectTurnMatchesRecompute(model, [...p1, ...g1, silentEos(model), ...p2], t2);
    expect(t2.sampled).toEqual(s2.sampled);

    // After a reset a long prompt starts on CL 64 again and bumps mid-prefill.
    mine.reset();
    theirs.reset();
    expect(mine.contextUsed).toBe(0);
    const [t3, s3] = await both((d) => tokenTurn(d, p3, { maxTokens: 20 }));
    expectTurnMatchesRecompute(model, p3, t3);
    expect(t3.sampled).toEqual(s3.sampled);

    // And a short one stays there, the same as on a fresh dialog.
    mine.reset();
    const short = await tokenTurn(mine, p1, { maxTokens: 10 });
    expect(short.sampled).toEqual(t1.sampled.slice(0, 10));
    expectTurnMatchesRecompute(model, p1, short);
  });

  it('the context limit is the largest CL: context.size 256 loads, 257 does not, and generation stops where CL 256 does', async () => {
    await expect(dialogs.open(multi, dialogs.config(multi, { contextSize: LARGE_CL + 1 }))).rejects.toThrow(ModelLayoutError);
    await expect(dialogs.open(multi, dialogs.config(multi, { contextSize: LARGE_CL + 1 }))).rejects.toThrow(
      /^Config specifies context\.size=257, but the largest CL in the binaries is 256$/,
    );

    const mine = await dialogs.open(multi, dialogs.config(multi, { contextSize: LARGE_CL }));
    const theirs = await dialogs.open(single, dialogs.config(single, { contextSize: LARGE_CL }));
    const prompt = ids(200, 8);
    const run = await failingTurn(mine, prompt);
    const reference = await failingTurn(theirs, prompt);
    expect(run.error).toBeInstanceOf(ContextLimitError);
    expect(reference.error).toBeInstanceOf(ContextLimitError);
    // AR-1 decodes need nValid + 1 <= CL - 1 = 255: decodes at nValid 200..254, plus the prompt's token.
    expect(run.sampled).toHaveLength(LARGE_CL - 1 - prompt.length + 1);
    expect(run.sampled).toEqual(reference.sampled);
    expectTurnMatchesRecompute(model, prompt, run);
    expect(mine.contextUsed).toBe(LARGE_CL - 1);

    // Still usable: reset and a short query on CL 64.
    mine.reset();
    const p = ids(8, 9);
    const turn = await tokenTurn(mine, p, { maxTokens: 4 });
    expectTurnMatchesRecompute(model, p, turn);
  });
});
