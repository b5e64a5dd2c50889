/**
 * Catalog: `Dialog.configureSampler` with bad updates, and the sampler inputs that used to wedge a
 * dialog (issue 14 item 3): an update is validated whole before anything changes; a penalty window
 * larger than the context is accepted and allocates no more than the context needs; `samplerParams`
 * read back is accepted; a throwing custom callback comes out typed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/errors.js';
import type { Dialog } from '../../../src/runtime/dialog.js';
import { registerSamplerCallback, SamplerCallbackError, type SamplerUpdate } from '../../../src/sampler/index.js';
import { silentEos, tokenTurn } from '../../runtime/fixtures.js';
import { DialogProbe, expectRejects, expectThrows, type BadCall } from './catalog.js';

const update = (u: unknown) => (dialog: Dialog) => dialog.configureSampler(u as SamplerUpdate);

const BAD: readonly BadCall<Dialog>[] = [
  { name: 'penalizeLastN -1', call: update({ penalizeLastN: -1 }), error: InvalidArgumentError, words: ['sampler.penalizeLastN', 'integer >= 0', '-1'] },
  { name: 'penalizeLastN 1.5', call: update({ penalizeLastN: 1.5 }), error: InvalidArgumentError, words: ['sampler.penalizeLastN', '1.5'] },
  { name: 'penalizeLastN NaN', call: update({ penalizeLastN: NaN }), error: InvalidArgumentError, words: ['sampler.penalizeLastN', 'NaN'] },
  { name: 'penalizeLastN "16" (a string)', call: update({ penalizeLastN: '16' }), error: InvalidArgumentError, words: ['sampler.penalizeLastN', '"16"'] },
  { name: 'penalizeLastN 2^53', call: update({ penalizeLastN: 2 ** 53 }), error: InvalidArgumentError, words: ['sampler.penalizeLastN', '9007199254740992'] },
  { name: 'temp -1', call: update({ temp: -1 }), error: InvalidArgumentError, words: ['sampler.temp', '>= 0', '-1'] },
  { name: 'temp "0.5" (a string)', call: update({ temp: '0.5' }), error: InvalidArgumentError, words: ['sampler.temp', '"0.5"'] },
  { name: 'topK 2.5', call: update({ topK: 2.5 }), error: InvalidArgumentError, words: ['sampler.topK', '2.5'] },
  { name: 'topP -0.1', call: update({ topP: -0.1 }), error: InvalidArgumentError, words: ['sampler.topP', '[0, 1]', '-0.1'] },
  { name: 'minP 1', call: update({ minP: 1 }), error: InvalidArgumentError, words: ['sampler.minP', '[0, 1)'] },
  { name: 'seed 2^32', call: update({ seed: 2 ** 32 }), error: InvalidArgumentError, words: ['sampler.seed', 'uint32', '4294967296'] },
  { name: 'repetitionPenalty 0', call: update({ repetitionPenalty: 0 }), error: InvalidArgumentError, words: ['sampler.repetitionPenalty', '> 0'] },
  { name: 'presencePenalty Infinity', call: update({ presencePenalty: Infinity }), error: InvalidArgumentError, words: ['sampler.presencePenalty', 'Infinity'] },
  { name: 'type "greedy"', call: update({ type: 'greedy' }), error: InvalidArgumentError, words: ['sampler.type', '"greedy"'] },
  { name: 'type custom without a callback', call: update({ type: 'custom' }), error: InvalidArgumentError, words: ['sampler.callbackName', 'required'] },
  { name: 'an unregistered callback', call: update({ type: 'custom', callbackName: 'nobody' }), error: InvalidArgumentError, words: ['"nobody"', 'not registered'] },
  { name: 'greedy false against temp 0', call: update({ greedy: false }), error: InvalidArgumentError, words: ['sampler.greedy', 'derived', 'true', 'false'] },
  { name: 'an unknown key (top_k)', call: update({ top_k: 5 }), error: InvalidArgumentError, words: ['unknown sampler parameter', '"top_k"'] },
  { name: 'null', call: update(null), error: InvalidArgumentError, words: ['sampler update', 'object', 'null'] },
  { name: 'an array', call: update([]), error: InvalidArgumentError, words: ['sampler update', 'array'] },
  { name: 'a valid key next to a bad one', call: update({ temp: 0.7, topK: -1 }), error: InvalidArgumentError, words: ['sampler.topK', '-1'] },
];

describe('catalog: configureSampler', () => {
  const probe = new DialogProbe();
  beforeAll(() => probe.setup());
  afterAll(() => probe.dispose());

  it.each(BAD)('$name: typed error naming the key; nothing changes, the dialog works as before', async ({ call, error, words }) => {
    const dialog = await probe.ready();
    const before = dialog.samplerParams;
    expectThrows(() => call(dialog), error, words);
    expect(dialog.samplerParams).toBe(before);
    // A later unrelated update applies and does not throw (a rejected one used to stick and wedge it).
    dialog.configureSampler({ minP: 0 });
    expect(dialog.samplerParams).toEqual(before);
    await probe.expectUnchanged(dialog);
  });

  it.each([2 ** 31, 1e9])('penalizeLastN %d is accepted, read back as given, allocates no more than the context needs, and penalises the whole conversation', async (n) => {
    const dialog = await probe.ready();
    const heapBefore = process.memoryUsage().arrayBuffers;
    dialog.configureSampler({ penalizeLastN: n });
    expect(process.memoryUsage().arrayBuffers - heapBefore).toBeLessThan(1 << 20);
    expect(dialog.samplerParams.penalizeLastN).toBe(n);
    const big = await tokenTurn(dialog, probe.after, { maxTokens: 8 });

    // The same turn with the window set to everything the dialog can hold (context 64 + the carried token).
    const bounded = await probe.ready();
    bounded.configureSampler({ penalizeLastN: bounded.contextLimit + 1 });
    const same = await tokenTurn(bounded, probe.after, { maxTokens: 8 });
    expect(big.result.generatedTokens).toEqual(same.result.generatedTokens);
    expect(big.result.stopReason).toBe('max-tokens');
  });

  it('samplerParams read back are accepted whole (greedy included), on a basic and on a custom sampler', async () => {
    const dialog = await probe.ready();
    const before = dialog.samplerParams;
    dialog.configureSampler(dialog.samplerParams);
    expect(dialog.samplerParams).toEqual(before);
    registerSamplerCallback('catalog-first', () => 1);
    dialog.configureSampler({ type: 'custom', callbackName: 'catalog-first' });
    const custom = dialog.samplerParams;
    dialog.configureSampler(custom);
    expect(dialog.samplerParams).toEqual(custom);
    dialog.configureSampler(before);
    expect(dialog.samplerParams).toEqual(before);
    await probe.expectUnchanged(dialog);
  });

  it('a custom sampler callback that throws fails the query with a SamplerCallbackError naming it, the cause attached; the dialog stays usable', async () => {
    const dialog = await probe.ready();
    const cause = new TypeError('cannot read the logits');
    registerSamplerCallback('catalog-thrower', () => {
      throw cause;
    });
    dialog.configureSampler({ type: 'custom', callbackName: 'catalog-thrower' });
    const failure = await expectRejects(() => tokenTurn(dialog, [5, 6, 7]), SamplerCallbackError, [
      'sampler callback "catalog-thrower" threw',
      'cannot read the logits',
    ]);
    expect(failure.cause).toBe(cause);
    dialog.configureSampler({ type: 'basic' });
    // The failed turn's prompt was fed: the next turn follows it (EOS between turns) and runs.
    const next = await tokenTurn(dialog, probe.after, { maxTokens: 3 });
    expect(next.result.promptTokens).toEqual([silentEos(probe.model), ...probe.after]);
    expect(next.result.generatedTokens).toHaveLength(3);
  });
});
