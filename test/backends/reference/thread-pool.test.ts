import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/errors.js';
import { exportHfCheckpoint } from '../../../src/backends/reference/index.js';
import { linear } from '../../../src/backends/reference/kernels.js';
import { LinearPool, referenceThreads, THREADS_ENV } from '../../../src/backends/reference/thread-pool.js';
import { tempDir } from './fixtures.js';
import { greedyRun, writeHubCheckpoint } from './hub-checkpoint.js';

const root = tempDir('thread-pool');
const saved = process.env[THREADS_ENV];
afterEach(() => {
  if (saved === undefined) delete process.env[THREADS_ENV];
  else process.env[THREADS_ENV] = saved;
});

function seeded(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 30 - 1;
  });
}

describe('Reference executor thread pool', () => {
  it('shares a product between 3 threads with the single-thread result, bit for bit', async () => {
    const pool = new LinearPool(3);
    try {
      // 1001 outputs: chunks of 336, 336 and 329 (one not a multiple of 4); 6 rows: a 4-row group and 2 left over.
      for (const [rows, inDim, outDim] of [[6, 300, 1001], [1, 517, 2048]]) {
        const x = pool.share(seeded(rows * inDim, 1));
        const weight = pool.share(seeded(outDim * inDim, 2));
        const bias = pool.share(seeded(outDim, 3));
        const out = pool.scratch(rows * outDim).fill(Number.NaN);
        pool.linear(x, rows, inDim, weight, bias, outDim, out);
        const want = new Float32Array(rows * outDim);
        linear(x, rows, inDim, weight, bias, outDim, want);
        expect(out.buffer).toBeInstanceOf(SharedArrayBuffer);
        expect(Array.from(out)).toEqual(Array.from(want));
      }
    } finally {
      await pool.terminate();
    }
    // Terminated, it still computes every output, on the calling thread.
    const [rows, inDim, outDim] = [2, 600, 700];
    const x = pool.share(seeded(rows * inDim, 4));
    const weight = pool.share(seeded(outDim * inDim, 5));
    const out = pool.scratch(rows * outDim).fill(Number.NaN);
    pool.linear(x, rows, inDim, weight, null, outDim, out);
    const want = new Float32Array(rows * outDim);
    linear(x, rows, inDim, weight, null, outDim, want);
    expect(Array.from(out)).toEqual(Array.from(want));
  });

  it('reads its thread count from GENIE_TS_REFERENCE_THREADS', () => {
    expect(referenceThreads({})).toBe(availableParallelism());
    expect(referenceThreads({ [THREADS_ENV]: '1' })).toBe(1);
    expect(referenceThreads({ [THREADS_ENV]: '3' })).toBe(3);
    for (const bad of ['0', '1.5', 'two', '1000']) {
      expect(() => referenceThreads({ [THREADS_ENV]: bad })).toThrow(new InvalidArgumentError(`${THREADS_ENV} "${bad}" is not an integer in [1, 256]`));
    }
  });

  it('a bundle generates the same logits on 1 and on 3 threads', async () => {
    const hf = await writeHubCheckpoint(root, 'llama', 'threads', { overrides: { hidden_size: 128, intermediate_size: 256 } });
    const out = join(root, 'bundle');
    mkdirSync(out);
    await exportHfCheckpoint(hf.dir, out, { arSet: [1, 8], cl: 64, splits: 2 });
    const prompt = [5, 17, 298, 3, 250, 42, 7, 600, 11, 13, 14];
    process.env[THREADS_ENV] = '1';
    const one = await greedyRun(join(out, 'genie_config.json'), prompt, 4);
    process.env[THREADS_ENV] = '3';
    const three = await greedyRun(join(out, 'genie_config.json'), prompt, 4);
    expect(three.tokens).toEqual(one.tokens);
    for (const [i, row] of three.rows.entries()) expect(Array.from(row)).toEqual(Array.from(one.rows[i]));
  });
});
