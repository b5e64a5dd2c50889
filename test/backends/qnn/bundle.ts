/** A small reference bundle (2 ctx-bins, AR 1 and 4 at CL 16) shared by the simulated-provider tests. */
import { afterAll } from 'vitest';
import { splitQwen2Checkpoint } from '../../../src/backends/reference/index.js';
import { createSimulatedQnn, type SimulatedQnn, type SimulatedQnnOptions } from '../../../src/simulator/index.js';
import { randomWeights, tinyConfig } from '../reference/qwen2-oracle.js';
import { tempDir, writeParts } from '../reference/fixtures.js';

export const config = tinyConfig({ numHiddenLayers: 2 });

/** Writes the bundle into a fresh temporary folder (removed after the test file); returns the ctx-bin paths. */
export async function writeBundle(prefix: string): Promise<{ dir: string; paths: string[] }> {
  const dir = tempDir(prefix);
  const parts = splitQwen2Checkpoint({
    config,
    weights: randomWeights(config, 'qnn-binding'),
    arSet: [1, 4],
    cl: 16,
    splits: 2,
    inputKind: 'ids',
  });
  return { dir, paths: await writeParts(dir, 'model', parts) };
}

/** A `createSimulatedQnn` whose providers are all disposed after the test file. */
export function simulatedProviders(): (options?: SimulatedQnnOptions) => SimulatedQnn {
  const created: SimulatedQnn[] = [];
  afterAll(() => created.forEach((provider) => provider.dispose()));
  return (options) => {
    const provider = createSimulatedQnn(options);
    created.push(provider);
    return provider;
  };
}

export const PROMPT = [5, 17, 3, 250, 9];
export const CONTINUATION = [42, 7];
