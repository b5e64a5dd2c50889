/**
 * `Dialog.dispose()` from a 100 ms timer while a long query runs: the query ends with a
 * `DisposedError` within one step, `dispose()` resolves, and the process survives. Before the fix
 * QnnHtp segfaulted (the step went on after dispose and its KV update and the sampler read the IO
 * buffers the QNN session had freed) and Reference never let the timer run until the query was
 * over. Each run is a child process, so that a crash fails the test instead of the vitest worker.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { reportOf, runChild } from '../children/run-child.js';
import { writeConfig } from '../cli/fixtures.js';
import { BACKENDS, QWEN_VOCAB, makeModel, tempDir, writeBundle, type Bundle } from './fixtures.js';

interface DisposeReport {
  readonly outcome: string;
  readonly message: string;
  readonly sampledAtDispose: number;
  readonly sampled: number;
  readonly disposedAfterMs: number;
  readonly disposeResolved: boolean;
}

describe('Dialog.dispose() during a long query (child process)', () => {
  let bundle: Bundle;
  beforeAll(async () => {
    // The full Qwen vocabulary makes every step a few milliseconds of LM head: 1000 tokens take seconds.
    const model = makeModel({ vocabSize: QWEN_VOCAB, hiddenSize: 32, intermediateSize: 64 }, 'dispose');
    bundle = await writeBundle(tempDir('dialog-dispose'), model, { name: 'm', arSet: [1, 8], cl: 1024, splits: 2 });
  });

  const cases = BACKENDS.flatMap((backend) => (['start', 'first-token'] as const).map((from) => [backend, from] as const));
  it.each(cases)('%s, timer set at the query\'s %s: the query ends with DisposedError within one step, dispose resolves, no crash', async (backend, from) => {
    const config = writeConfig(bundle, `${backend}.json`, { backend, maxNumTokens: 1000 });
    const exit = await runChild('dispose-during-query.ts', [config, '100', from]);
    expect({ code: exit.code, signal: exit.signal, stderr: exit.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    const report = reportOf<DisposeReport>(exit);
    expect(report.outcome).toBe('DisposedError');
    expect(report.message).toMatch(/^engine is disposed/);
    // In the decode loop the error says which step was cancelled (the prefill's is replaced by its rollback's).
    if (from === 'first-token') expect(report.message).toMatch(/the step was cancelled/);
    expect(report.disposeResolved).toBe(true);
    // The timer ran during the query, not after it; the step it interrupted was cancelled, so no
    // token was sampled after dispose() (from IO buffers being freed).
    expect(report.sampledAtDispose).toBeGreaterThanOrEqual(from === 'start' ? 0 : 1);
    expect(report.sampled).toBe(report.sampledAtDispose);
  });
});
