import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/errors.js';
import { exportHfCheckpoint } from '../../../src/backends/reference/index.js';
import { attention, linear } from '../../../src/backends/reference/kernels.js';
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

/** Runs one product so the pool starts its workers, then waits until they all flag themselves ready. */
async function started(pool: LinearPool): Promise<void> {
  const x = pool.share(seeded(600, 9));
  pool.linear(x, 1, 600, pool.share(seeded(600 * 600, 10)), null, 600, pool.scratch(600));
  for (let i = 0; i < 2000 && pool.readyWorkers < pool.threads - 1; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(pool.readyWorkers).toBe(pool.threads - 1);
}

describe('Reference executor thread pool', () => {
  it('shares a product between 3 threads with the single-thread result, bit for bit', async () => {
    const pool = new LinearPool(3);
    try {
      await started(pool);
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

  it('products before the workers are ready run on the calling thread (a worker that never starts cannot hang them)', async () => {
    const pool = new LinearPool(4);
    try {
      const [rows, inDim, outDim] = [3, 700, 900];
      const x = pool.share(seeded(rows * inDim, 6));
      const weight = pool.share(seeded(outDim * inDim, 7));
      const out = pool.scratch(rows * outDim).fill(Number.NaN);
      pool.linear(x, rows, inDim, weight, null, outDim, out); // starts the workers; none is ready yet
      const want = new Float32Array(rows * outDim);
      linear(x, rows, inDim, weight, null, outDim, want);
      expect(Array.from(out)).toEqual(Array.from(want));
    } finally {
      await pool.terminate();
    }
  });

  it('workers start in a process whose own flags would misread their script (node --input-type=module -e)', async () => {
    const source = `
      const { LinearPool } = await import(${JSON.stringify(new URL('../../../src/backends/reference/thread-pool.ts', import.meta.url).pathname)});
      const pool = new LinearPool(2);
      const x = pool.share(new Float32Array(600).fill(1));
      const w = pool.share(new Float32Array(600 * 600).fill(0.5));
      const out = pool.scratch(600);
      pool.linear(x, 1, 600, w, null, 600, out);
      for (let i = 0; i < 2000 && pool.readyWorkers < 1; i++) await new Promise((r) => setTimeout(r, 5));
      pool.linear(x, 1, 600, w, null, 600, out);
      console.log(pool.readyWorkers, out[0], out[599]);
      await pool.terminate();`;
    const { stdout, code } = await new Promise<{ stdout: string; code: number | null }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], { timeout: 60_000 }, (error, stdout) =>
        resolve({ stdout, code: error ? (typeof error.code === 'number' ? error.code : null) : 0 }));
    });
    expect(code).toBe(0);
    expect(stdout.trim()).toBe('1 300 300');
  }, 70_000);

  it('shares an attention between 3 threads with the calling thread result, bit for bit (decode and prefill rows, GQA)', async () => {
    const pool = new LinearPool(3);
    try {
      await started(pool);
      // 7 heads over 1 KV head: 5 rows x 7 = 35 queries, 9 units of 4 (the last short), 3 per thread.
      for (const shape of [{ ar: 5, cl: 700, heads: 7, kvHeads: 1, headDim: 24 }, { ar: 1, cl: 2000, heads: 14, kvHeads: 2, headDim: 64 }]) {
        const { ar, cl, heads, kvHeads, headDim } = shape;
        const past = cl - ar;
        const args = [seeded(ar * heads * headDim, 21), seeded(ar * kvHeads * headDim, 22), seeded(ar * kvHeads * headDim, 23), seeded(kvHeads * headDim * past, 24), seeded(kvHeads * past * headDim, 25), seeded(ar * cl, 26)] as const;
        const out = new Float32Array(ar * heads * headDim).fill(Number.NaN);
        pool.attention(shape, ...args, new Float64Array(cl), out);
        const want = new Float32Array(ar * heads * headDim);
        attention(shape, ...args, new Float64Array(cl), want);
        expect(Array.from(out)).toEqual(Array.from(want));
      }
    } finally {
      await pool.terminate();
    }
  });

  it('weights outside its memory (past 4 GiB) are computed on the calling thread with the same results', async () => {
    const pool = new LinearPool(2);
    try {
      await started(pool);
      const [rows, inDim, outDim] = [5, 333, 901];
      const x = pool.share(seeded(rows * inDim, 11));
      const plain = seeded(outDim * inDim, 12);
      const shared = pool.share(plain);
      expect(shared).not.toBe(plain);
      const inPlace = pool.scratch(rows * outDim);
      pool.linear(x, rows, inDim, shared, null, outDim, inPlace);
      const staged = pool.scratch(rows * outDim).fill(Number.NaN);
      pool.linear(x, rows, inDim, plain, null, outDim, staged);
      expect(Array.from(staged)).toEqual(Array.from(inPlace));
      // A plain output array too (the bound logits of a graph without pool scratch).
      const plainOut = new Float32Array(rows * outDim);
      pool.linear(x, rows, inDim, shared, null, outDim, plainOut);
      expect(Array.from(plainOut)).toEqual(Array.from(inPlace));
    } finally {
      await pool.terminate();
    }
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
