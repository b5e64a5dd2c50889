import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { QNN_PROVIDER_ENV } from '../../src/backends/qnn/index.js';
import type { PerfCall, SimulatedContextInfo } from '../../src/simulator/index.js';
import { Dialog, type StopReason } from '../../src/runtime/dialog.js';
import type { Tokenizer } from '../../src/runtime/tokenizer/index.js';
import {
  DialogPool, argmax, makeModel, sharedTokenizer, stopFrom, tempDir, tokenIds, tokenTurn, writeBundle, type BackendKind,
  type Bundle, type BundleOptions, type ConfigOptions, type Json, type Turn,
} from './fixtures.js';

/**
 * QnnHtp (the QNN binding over the simulated HTP provider) against the Reference backend on the
 * same bundles: every turn must give the same tokens, text and stop reason, and logits rows that
 * are bit-identical, since both run the same executor and only the path to it differs (native
 * tensor structs, client buffers, function tables).
 */
interface Scenario {
  readonly name: string;
  readonly layout: Omit<BundleOptions, 'name'>;
  readonly config?: ConfigOptions;
  /** The stop reason each turn must end with (proves the scenario exercises what it claims). */
  readonly stopReasons: readonly StopReason[];
  readonly run: (dialog: Dialog) => Promise<Turn[]>;
  /** QnnHtp run only: keys merged into `engine.backend.QnnHtp`, an extensions file, and what the provider must have seen. */
  readonly htp?: {
    readonly block: Json;
    readonly extensions: Json;
    readonly expectProvider: (seen: ProviderSnapshot) => void;
  };
}

/** What the simulated provider recorded while the dialog was open. */
interface ProviderSnapshot {
  readonly contexts: readonly SimulatedContextInfo[];
  readonly perfCalls: readonly PerfCall[];
}

const CL = 256;
const model = makeModel({ numHiddenLayers: 3 }, 'cross-backend');
const vocab = model.config.vocabSize;
// Shorter than one AR-32 chunk, across AR-32 chunks, and across the AR-128 chunk.
const PROMPTS = [5, 45, 150].map((n, i) => tokenIds(n, 300 + i, 1, vocab - 1));
const P2 = tokenIds(9, 310, 1, vocab - 1);
const SAMPLING = {
  version: 1,
  seed: 42,
  temp: 1.5,
  'top-k': 20,
  'top-p': 0.9,
  'token-penalty': { version: 1, 'repetition-penalty': 1.3, 'penalize-last-n': 16 },
};

let tokenizer: Tokenizer;

/** One fresh query per prompt. */
async function promptTurns(dialog: Dialog): Promise<Turn[]> {
  const turns: Turn[] = [];
  for (const prompt of PROMPTS) {
    dialog.reset();
    turns.push(await tokenTurn(dialog, prompt, { maxTokens: 12 }));
  }
  return turns;
}

/** A free run picks a stop; then three turns: stopped by it, and two continuing the same KV. */
async function stopTurns(dialog: Dialog): Promise<Turn[]> {
  const free = await tokenTurn(dialog, PROMPTS[0], { maxTokens: 24 });
  const { stop } = stopFrom(tokenizer, free.sampled, 6, 3);
  dialog.reset();
  dialog.setStopSequences([stop]);
  return [
    free,
    await tokenTurn(dialog, PROMPTS[0], { maxTokens: 24 }),
    await tokenTurn(dialog, P2, { maxTokens: 8 }),
    await tokenTurn(dialog, PROMPTS[1], { maxTokens: 8 }),
  ];
}

/** Two sampled turns on one KV (the RNG and the penalty history carry over). */
async function sampledTurns(dialog: Dialog): Promise<Turn[]> {
  return [await tokenTurn(dialog, PROMPTS[1], { maxTokens: 16 }), await tokenTurn(dialog, P2, { maxTokens: 16 })];
}

const MAX = Array<StopReason>(PROMPTS.length).fill('max-tokens');
const SPILL_FILL_BYTES = 320_000;
const SCENARIOS: Scenario[] = [
  { name: 'AR {1, 32, 128}, 2 parts', layout: { arSet: [1, 32, 128], cl: CL, splits: 2 }, stopReasons: MAX, run: promptTurns },
  { name: 'AR {1} only, 2 parts', layout: { arSet: [1], cl: CL, splits: 2 }, stopReasons: MAX, run: promptTurns },
  { name: 'AR {32, 128} (no AR-1), 1 part', layout: { arSet: [32, 128], cl: CL, splits: 1 }, stopReasons: MAX, run: promptTurns },
  { name: 'AR {1, 32, 128}, 3 parts', layout: { arSet: [1, 32, 128], cl: CL, splits: 3 }, stopReasons: MAX, run: promptTurns },
  {
    name: 'embedding-only first part + 2 decoder parts',
    layout: { arSet: [1, 32, 128], cl: CL, splits: 3, embeddingPart: true },
    stopReasons: MAX,
    run: promptTurns,
  },
  {
    name: 'input_embeds from a float32 LUT',
    layout: { arSet: [1, 32, 128], cl: CL, splits: 2, inputKind: 'embeds' },
    stopReasons: MAX,
    run: promptTurns,
  },
  {
    name: 'QnnHtp block with a spill-fill group, mmap budget, graph switching and a burst vote from an extensions file',
    layout: { arSet: [1, 32, 128], cl: CL, splits: 2 },
    stopReasons: MAX,
    run: promptTurns,
    htp: {
      block: { 'spill-fill-bufsize': SPILL_FILL_BYTES, 'mmap-budget': 40, 'use-mmap': false, 'enable-graph-switching': true },
      extensions: { devices: [{ cores: [{ perf_profile: 'burst', rpc_control_latency: 100 }] }] },
      expectProvider: ({ contexts, perfCalls }) => {
        expect(contexts).toHaveLength(2);
        const groups = contexts.map((c) => c.config.spillFillGroup);
        expect(groups.map((g) => g?.maxSpillFillBuffer)).toEqual([BigInt(SPILL_FILL_BYTES), BigInt(SPILL_FILL_BYTES)]);
        // The first context heads the group; the second names it.
        expect(groups[0]?.firstGroupHandle).toBe(0n);
        expect(groups[1]?.firstGroupHandle).toBe(contexts[0].handle);
        expect(contexts.every((c) => c.config.persistentBinary && c.config.memoryLimitHint !== undefined)).toBe(true);
        expect(perfCalls.map((c) => c.fn)).toContain('setPowerConfig');
      },
    },
  },
  {
    name: 'multi-turn with a stop sequence',
    layout: { arSet: [1, 32], cl: CL, splits: 2 },
    stopReasons: ['max-tokens', 'stop-sequence', 'max-tokens', 'max-tokens'],
    run: stopTurns,
  },
  {
    name: 'seeded sampling with top-k, top-p and a repetition penalty, two turns',
    layout: { arSet: [1, 32], cl: CL, splits: 2 },
    config: { sampler: SAMPLING },
    stopReasons: ['max-tokens', 'max-tokens'],
    run: sampledTurns,
  },
];

interface Run {
  readonly turns: Turn[];
  /** QnnHtp only: graphExecute calls the simulated provider served, what it saw, and its live handles after dispose. */
  readonly executes?: number;
  readonly seen?: ProviderSnapshot;
  readonly liveAfterDispose?: number;
}

/** Everything but the timings. */
const outcome = ({ result, pieces, sampled }: Turn) => ({
  stopReason: result.stopReason,
  promptTokens: result.promptTokens,
  generatedTokens: result.generatedTokens,
  text: result.text,
  pieces,
  sampled,
});

/** Logits elements whose float32 bit patterns differ (NaN-safe, -0 != +0). */
function differingBits(a: readonly Turn[], b: readonly Turn[]): number {
  let differing = 0;
  a.forEach((turn, t) => {
    expect(b[t].logits.length).toBe(turn.logits.length);
    turn.logits.forEach((row, r) => {
      const x = new Uint32Array(row.buffer, row.byteOffset, row.length);
      const other = b[t].logits[r];
      expect(other.length).toBe(row.length);
      const y = new Uint32Array(other.buffer, other.byteOffset, other.length);
      for (let v = 0; v < x.length; v++) if (x[v] !== y[v]) differing++;
    });
  });
  return differing;
}

describe('QnnHtp on the simulated provider gives the Reference backend’s tokens and bit-identical logits', () => {
  const root = tempDir('runtime-cross-backend');
  const pools = { Reference: new DialogPool('Reference'), QnnHtp: new DialogPool('QnnHtp') };
  const bundles = new Map<string, Bundle>();
  const runs = new Map<string, Record<BackendKind, Run>>();

  async function runOn(backend: BackendKind, scenario: Scenario): Promise<Run> {
    const pool = pools[backend];
    const bundle = bundles.get(scenario.name)!;
    const config = pool.config(bundle, scenario.config);
    if (backend === 'QnnHtp' && scenario.htp !== undefined) {
      Object.assign(config.dialog.engine.backend.QnnHtp, scenario.htp.block);
      writeFileSync(join(bundle.dir, 'htp_extensions.json'), JSON.stringify(scenario.htp.extensions));
      config.dialog.engine.backend.extensions = 'htp_extensions.json';
    }
    const dialog = await pool.open(bundle, config);
    const turns = await scenario.run(dialog);
    const provider = pool.provider(dialog);
    const seen = provider && { contexts: provider.contexts(), perfCalls: provider.perfCalls() };
    await dialog.dispose();
    if (provider === undefined) return { turns };
    return { turns, executes: provider.calls('graphExecute'), seen, liveAfterDispose: provider.liveHandles() };
  }

  beforeAll(async () => {
    tokenizer = await sharedTokenizer();
    for (const [i, scenario] of SCENARIOS.entries()) {
      bundles.set(scenario.name, await writeBundle(root, model, { ...scenario.layout, name: `scenario-${i}` }));
      runs.set(scenario.name, { Reference: await runOn('Reference', scenario), QnnHtp: await runOn('QnnHtp', scenario) });
    }
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await pools.Reference.disposeAll();
    await pools.QnnHtp.disposeAll();
  });

  it.each(SCENARIOS.map((s) => [s.name, s] as const))('%s', (_, scenario) => {
    const { Reference, QnnHtp } = runs.get(scenario.name)!;
    expect(Reference.turns.map((t) => t.result.stopReason)).toEqual(scenario.stopReasons);
    Reference.turns.forEach((turn) => expect(turn.sampled.length).toBeGreaterThan(0));
    expect(QnnHtp.turns.map(outcome)).toEqual(Reference.turns.map(outcome));
    expect(differingBits(QnnHtp.turns, Reference.turns)).toBe(0);
    expect(QnnHtp.executes).toBeGreaterThan(0);
    expect(QnnHtp.liveAfterDispose).toBe(0);
    scenario.htp?.expectProvider(QnnHtp.seen!);
  });

  it('the sampling scenario really samples: some tokens are not the argmax of their row', () => {
    const { turns } = runs.get(SCENARIOS[SCENARIOS.length - 1].name)!.Reference;
    const rows = turns.flatMap((t) => t.logits);
    const picks = turns.flatMap((t) => t.sampled);
    expect(picks.filter((token, i) => token !== argmax(rows[i])).length).toBeGreaterThan(0);
  });

  it(`${QNN_PROVIDER_ENV}=simulated selects the simulated provider for a config file with no backend options`, async () => {
    const scenario = SCENARIOS[0];
    const bundle = bundles.get(scenario.name)!;
    const path = join(bundle.dir, 'genie_config_qnn.json');
    writeFileSync(path, JSON.stringify(pools.QnnHtp.config(bundle), null, 2));
    vi.stubEnv(QNN_PROVIDER_ENV, 'simulated');
    await using dialog = await Dialog.create(path, { tokenizer });
    vi.unstubAllEnvs();
    expect(dialog.config.backendType).toBe('QnnHtp');
    const turns = await scenario.run(dialog);
    const { Reference } = runs.get(scenario.name)!;
    expect(turns.map(outcome)).toEqual(Reference.turns.map(outcome));
    expect(differingBits(turns, Reference.turns)).toBe(0);
  });
});
