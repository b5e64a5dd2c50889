import { describe, expect, it } from 'vitest';
import { openReferenceBackend, splitQwen2Checkpoint } from '../../src/backends/reference/index.js';
import { createSimulatedQnn } from '../../src/simulator/index.js';
import { KvLoopDriver } from '../backends/reference/kv-loop-driver.js';
import { maxAbsDiff, tempDir, writeParts } from '../backends/reference/fixtures.js';
import { fullForward, randomWeights, tinyConfig } from '../backends/reference/qwen2-oracle.js';
import { SimGraphBackend } from './sim-graph-backend.js';

const dir = tempDir('qnn-sim-flow');
const prompt = [5, 17, 998, 3, 250, 42, 7];
const continuation = [11, 500, 0, 999];
const config = tinyConfig();
const weights = randomWeights(config, 'qnn-sim-flow');
const oracle = fullForward(config, weights, [...prompt, ...continuation]);

async function ctxBins(name: string, splits: number, embeddingPart = false): Promise<string[]> {
  const parts = splitQwen2Checkpoint({ config, weights, arSet: [1, 4], cl: 16, splits, embeddingPart, inputKind: 'ids' });
  return writeParts(dir, name, parts);
}

describe('full call flow through the simulated provider: KV loop over split ctx-bins', () => {
  for (const mode of ['sync', 'async'] as const) {
    it(`${mode} graphExecute: logits and KV equal the Reference backend bitwise and the no-cache oracle within 1e-4`, async () => {
      const paths = await ctxBins(`flow-${mode}`, 3, true);
      const sim = createSimulatedQnn();
      const simBackend = await SimGraphBackend.open(sim, paths, mode === 'async');
      const reference = await openReferenceBackend(paths);
      expect(simBackend.graphs).toEqual(reference.graphs);

      const simDriver = new KvLoopDriver(simBackend, config);
      const refDriver = new KvLoopDriver(reference, config);
      const simRows = await simDriver.run(prompt, continuation, 4, 1);
      const refRows = await refDriver.run(prompt, continuation, 4, 1);
      expect(simRows).toHaveLength(prompt.length + continuation.length);
      simRows.forEach((row, t) => expect(row).toEqual(refRows[t]));
      for (const l of [0, 1, 2]) expect(simDriver.bytes(`past_key_${l}_out`)).toEqual(refDriver.bytes(`past_key_${l}_out`));
      expect(Math.max(...simRows.map((row, t) => maxAbsDiff(row, oracle[t])))).toBeLessThanOrEqual(1e-4);

      // 2 prompt steps + 4 decode steps, 3 parts each.
      expect(sim.calls('graphExecute')).toBe(6 * 3);
      expect(sim.calls('contextCreateFromBinary')).toBe(3);
      expect(sim.liveHandles()).toBeGreaterThan(0);
      await simBackend.dispose();
      await reference.dispose();
      expect(sim.liveHandles()).toBe(0);
      sim.dispose();
    });
  }

  it('one-part ctx-bin with the prompt on AR-1: every row matches the oracle', async () => {
    const sim = createSimulatedQnn();
    const backend = await SimGraphBackend.open(sim, await ctxBins('flow-one', 1), false);
    const rows = await new KvLoopDriver(backend, config).run(prompt, continuation, 1, 1);
    expect(Math.max(...rows.map((row, t) => maxAbsDiff(row, oracle[t])))).toBeLessThanOrEqual(1e-4);
    await backend.dispose();
    expect(sim.liveHandles()).toBe(0);
    sim.dispose();
  });
});
