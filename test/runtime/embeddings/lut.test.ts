/**
 * Reading a LUT file: its size is checked against n-vocab x size x bytes before anything is read or
 * allocated, and only a regular file is opened (found by the LUT fuzzer,
 * test/reliability/fuzz/input-files.test.ts: a device such as /dev/zero was read until memory ran out).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EmbeddingTable, EmbeddingTableError } from '../../../src/runtime/embeddings/lut.js';
import { tempDir } from '../../backends/reference/fixtures.js';

const dir = tempDir('runtime-lut');
const expectation = (nVocab: number, size: number) => `n-vocab x size x bytes = ${nVocab} x ${size} x 4 = ${nVocab * size * 4}`;

function loadError(path: string, nVocab = 4, size = 2): EmbeddingTableError {
  try {
    EmbeddingTable.load({ path, nVocab, size, dtype: 'FLOAT_32' });
  } catch (error) {
    expect(error).toBeInstanceOf(EmbeddingTableError);
    return error as EmbeddingTableError;
  }
  throw new Error('expected EmbeddingTable.load to throw');
}

describe('EmbeddingTable.load', () => {
  it('reads a table of exactly n-vocab x size x bytes', () => {
    const path = join(dir, 'ok.bin');
    writeFileSync(path, new Uint8Array(Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]).buffer));
    const table = EmbeddingTable.load({ path, nVocab: 4, size: 2, dtype: 'FLOAT_32' });
    const row = { data: new Float32Array(2), dtype: 'FLOAT_32' as const };
    table.writeRow(3, 0, row);
    expect(Array.from(row.data)).toEqual([6, 7]);
  });

  it('refuses a directory, a device and a FIFO without reading them', (ctx) => {
    mkdirSync(join(dir, 'a-dir'), { recursive: true });
    expect(loadError(join(dir, 'a-dir')).message).toBe(`embedding LUT "${join(dir, 'a-dir')}" is a directory, not a file of ${expectation(4, 2)} bytes`);
    if (process.platform === 'win32') return ctx.skip();
    if (existsSync('/dev/zero')) {
      expect(loadError('/dev/zero').message).toBe(`embedding LUT "/dev/zero" is a character device, not a file of ${expectation(4, 2)} bytes`);
    }
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // Opening a FIFO without a writer would block: it must be refused from its type alone.
    expect(loadError(fifo).message).toBe(`embedding LUT "${fifo}" is a FIFO (named pipe), not a file of ${expectation(4, 2)} bytes`);
  });

  it('compares the size before reading: an 8 GiB sparse file and a declared 1e9 x 4096 table fail at once', () => {
    const sparse = join(dir, 'sparse.bin');
    const fd = openSync(sparse, 'w');
    ftruncateSync(fd, 8 * 2 ** 30);
    closeSync(fd);
    const start = performance.now();
    expect(loadError(sparse).message).toBe(`embedding LUT "${sparse}" has ${8 * 2 ** 30} bytes, expected ${expectation(4, 2)}`);
    const small = join(dir, 'small.bin');
    writeFileSync(small, new Uint8Array(32));
    expect(loadError(small, 1e9, 4096).message).toBe(`embedding LUT "${small}" has 32 bytes, expected ${expectation(1e9, 4096)}`);
    expect(performance.now() - start).toBeLessThan(1_000);
  });

  it('names a missing file with the reason', () => {
    const missing = join(dir, 'missing.bin');
    expect(loadError(missing).message).toBe(`cannot read embedding LUT "${missing}": ENOENT: no such file or directory`);
  });
});
