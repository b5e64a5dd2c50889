/**
 * An abort requested from a timer lands within one step on every backend: the engine yields a
 * macrotask turn per step when the backend executes on the JS thread (Reference), so timers,
 * signals and I/O run during a query instead of after it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, DialogPool, makeModel, tempDir, tokenIds, tokenTurn, writeBundle, type Bundle } from './fixtures.js';

const CL = 1024;

describe.each(BACKENDS)('%s: abort from a timer during a long query', (backend) => {
  const dialogs = new DialogPool(backend);
  const model = makeModel({}, 'abort');
  const ids = (n: number, seed: number): number[] => tokenIds(n, seed, 1, model.config.vocabSize - 1);
  let bundle: Bundle;

  beforeAll(async () => {
    bundle = await writeBundle(tempDir('runtime-abort'), model, { name: 'm', arSet: [1, 8], cl: CL, splits: 2 });
  });
  afterAll(() => dialogs.disposeAll());

  it('in the decode loop: at most one more token is sampled after the abort', async () => {
    const dialog = await dialogs.open(bundle);
    const controller = new AbortController();
    let sampledAtAbort = -1;
    let sampled = 0;
    const turn = await tokenTurn(dialog, ids(5, 1), { maxTokens: 900, signal: controller.signal }, (count) => {
      sampled = count;
      if (count === 1) {
        setTimeout(() => {
          sampledAtAbort = sampled;
          controller.abort();
        }, 0);
      }
    });
    expect(turn.result.stopReason).toBe('abort');
    expect(sampledAtAbort).toBeGreaterThanOrEqual(1);
    expect(turn.sampled.length - sampledAtAbort).toBeLessThanOrEqual(1);
    expect(turn.result.generatedTokens).toEqual(turn.sampled);
  });

  it('in the prefill: the query ends before its first token, the KV cache back where it was', async () => {
    const dialog = await dialogs.open(bundle);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 0);
    const turn = await tokenTurn(dialog, ids(800, 2), { maxTokens: 10, signal: controller.signal });
    expect(turn.result).toMatchObject({ stopReason: 'abort', promptTokens: [], generatedTokens: [] });
    expect(turn.sampled).toEqual([]);
    expect(dialog.contextUsed).toBe(0);
  });
});
