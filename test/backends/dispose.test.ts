/**
 * Memory a backend hands out is unusable once the backend is disposed, never freed under its views:
 * after `dispose`, every buffer from `allocate` is detached (length 0, reads give undefined, fill
 * throws TypeError). Run in a child process: reading freed native memory segfaults (it did on
 * QnnHtp for a 4 MiB buffer), which must fail this test rather than kill the vitest worker.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { reportOf, runChild } from '../children/run-child.js';
import { BACKENDS, makeModel, tempDir, writeBundle, type Bundle } from '../runtime/fixtures.js';

interface BufferReport {
  readonly byteLength: number;
  readonly first: number | null;
  readonly sum: number;
  readonly last: number | null;
  readonly fill: string;
}

describe('backend.allocate() memory after dispose', () => {
  let bundle: Bundle;
  beforeAll(async () => {
    bundle = await writeBundle(tempDir('backend-dispose'), makeModel({}, 'dispose'), { name: 'm', arSet: [1], cl: 32, splits: 1 });
  });

  it.each(BACKENDS)('%s: a 4 MiB and a 16-byte buffer are detached: empty, reads undefined, fill throws TypeError', async (backend) => {
    const exit = await runChild('allocate-after-dispose.ts', [backend, ...bundle.ctxBins.map((p) => join(bundle.dir, p))]);
    expect({ code: exit.code, signal: exit.signal, stderr: exit.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    const detached: BufferReport = { byteLength: 0, first: null, sum: 0, last: null, fill: 'TypeError' };
    expect(reportOf<BufferReport[]>(exit)).toEqual([detached, detached]);
  });
});
