/**
 * Catalog: bad input to the debugging options (`onStep`, `forceTokens`, `wrapBackend`,
 * `graphBackend`): the error class, the key words of its message, and a dialog that answers its
 * next turn as one that saw no bad call. A throwing `onStep` ends the query with
 * `StepListenerError` (a `CallbackError` naming `onStep`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/errors.js';
import { Dialog } from '../../../src/runtime/dialog.js';
import { StepListenerError } from '../../../src/runtime/engine/index.js';
import { DialogProbe, expectRejects, expectThrows, type BadCall } from './catalog.js';

async function drainAll(generator: AsyncGenerator<string, unknown>): Promise<void> {
  for (;;) if ((await generator.next()).done) return;
}

describe('catalog: debugging options', () => {
  const probe = new DialogProbe();
  beforeAll(() => probe.setup());
  afterAll(() => probe.dispose());

  const queryCalls: BadCall<Dialog>[] = [
    { name: 'onStep is a string', call: (d) => d.tokenQuery(probe.after, { onStep: 'log' as never }), error: InvalidArgumentError, words: ['onStep', 'must be a function', 'the string "log"'] },
    { name: 'forceTokens is empty', call: (d) => d.tokenQuery(probe.after, { forceTokens: [] }), error: InvalidArgumentError, words: ['forceTokens', 'must not be empty'] },
    { name: 'forceTokens holds an id past the vocabulary', call: (d) => d.tokenQuery(probe.after, { forceTokens: [1, 1e9] }), error: InvalidArgumentError, words: ['forceTokens[1]', '1000000000', 'is not a token id'] },
    { name: 'forceTokens holds a string', call: (d) => d.tokenQuery(probe.after, { forceTokens: [1, '2'] as never }), error: InvalidArgumentError, words: ['forceTokens[1]', 'the string "2"'] },
    { name: 'forceTokens is a number', call: (d) => d.tokenQuery(probe.after, { forceTokens: 3 as never }), error: InvalidArgumentError, words: ['forceTokens', 'must be an array', 'got 3'] },
  ];

  it.each(queryCalls)('$name: InvalidArgumentError at the call; the dialog is unchanged', async ({ call, error, words }) => {
    const dialog = await probe.ready();
    expectThrows(() => call(dialog), error, words);
    await probe.expectUnchanged(dialog);
  });

  it('onStep throws: StepListenerError naming onStep, cause attached; the dialog works after a reset', async () => {
    const dialog = await probe.ready();
    const cause = new Error('inspect failed');
    const e = await expectRejects(
      () => drainAll(dialog.tokenQuery(probe.after, { maxTokens: 5, onStep: () => { throw cause; } })),
      StepListenerError,
      ['onStep', 'inspect failed', 'step 0', 'before its KV update'],
    );
    expect(e.cause).toBe(cause);
    dialog.reset();
    await drainAll(dialog.tokenQuery(probe.before, { maxTokens: 5 }));
    await probe.expectUnchanged(dialog);
  });

  it.each([
    ['wrapBackend is an object', { wrapBackend: {} }, ['wrapBackend', 'must be a function']],
    ['graphBackend lacks execute', { graphBackend: { graphs: [], allocate() {}, bind() {}, dispose() {} } }, ['graphBackend', 'must be a GraphBackend']],
  ] as const)('Dialog.create: %s is an InvalidArgumentError before anything is read', async (_, options, words) => {
    // A wrapper returning something else is refused after the backend opened: test/runtime/backend-injection.test.ts.
    await expectRejects(() => Dialog.create({ dialog: {} }, options as never), InvalidArgumentError, words);
  });
});
