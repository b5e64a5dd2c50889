/**
 * Catalog: bad arguments to `query`, `tokenQuery` and `embeddingQuery`, and bad queries at the
 * context limit. Each is thrown by the call itself (before a generator exists, before anything runs),
 * as a typed error naming the argument, option or value; the dialog goes on as if the call had not
 * been made.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotSupportedError } from '../../../src/errors.js';
import { ContextLimitError } from '../../../src/graphs/errors.js';
import type { Dialog, QueryOptions } from '../../../src/runtime/dialog.js';
import { tokenTurn } from '../../runtime/fixtures.js';
import { DialogProbe, expectRejects, expectThrows, type BadCall } from './catalog.js';

const tokens = (value: unknown, options?: unknown) => (d: Dialog) => d.tokenQuery(value as number[], options as QueryOptions);
const text = (value: unknown, options?: unknown) => (d: Dialog) => d.query(value as string, options as QueryOptions);

const BAD: readonly BadCall<Dialog>[] = [
  // tokenQuery's ids
  { name: 'tokenQuery(undefined)', call: tokens(undefined), error: InvalidArgumentError, words: ['tokens', 'array', 'undefined'] },
  { name: 'tokenQuery(null)', call: tokens(null), error: InvalidArgumentError, words: ['tokens', 'array', 'null'] },
  { name: 'tokenQuery("12") (text, not ids)', call: tokens('12'), error: InvalidArgumentError, words: ['tokens', 'the string "12"', 'query() takes text'] },
  { name: 'tokenQuery(["5"]) (ids as strings)', call: tokens(['5']), error: InvalidArgumentError, words: ['tokens[0]', 'the string "5"', 'not a token id'] },
  { name: 'tokenQuery([1, null])', call: tokens([1, null]), error: InvalidArgumentError, words: ['tokens[1]', 'null', 'not a token id'] },
  { name: 'tokenQuery([1, , 3]) (a hole)', call: tokens([1, , 3]), error: InvalidArgumentError, words: ['tokens[1]', 'undefined'] },
  { name: 'tokenQuery([1.5])', call: tokens([1.5]), error: InvalidArgumentError, words: ['tokens[0] = 1.5', 'not a token id'] },
  { name: 'tokenQuery([-1])', call: tokens([-1]), error: InvalidArgumentError, words: ['tokens[0] = -1', 'not a token id'] },
  { name: 'tokenQuery([1024]) (the vocabulary size)', call: tokens([1024]), error: InvalidArgumentError, words: ['tokens[0] = 1024', '[0, 1024)'] },
  { name: 'tokenQuery({ length: 2 })', call: tokens({ length: 2 }), error: InvalidArgumentError, words: ['tokens', 'array', 'an object'] },
  { name: 'tokenQuery(a DataView)', call: tokens(new DataView(new ArrayBuffer(8))), error: InvalidArgumentError, words: ['tokens', 'DataView'] },
  { name: 'tokenQuery(BigInt64Array)', call: tokens(new BigInt64Array([1n])), error: InvalidArgumentError, words: ['tokens[0]', 'bigint'] },
  // query's prompt
  { name: 'query(5)', call: text(5), error: InvalidArgumentError, words: ['prompt', 'string', '5'] },
  { name: 'query(["hi"])', call: text(['hi']), error: InvalidArgumentError, words: ['prompt', 'string', 'an array'] },
  // options
  { name: 'query(prompt, { onLogits: 5 })', call: text('hi', { onLogits: 5 }), error: InvalidArgumentError, words: ['onLogits', 'function', '5'] },
  { name: 'tokenQuery(ids, { onLogits: "log" })', call: tokens([5], { onLogits: 'log' }), error: InvalidArgumentError, words: ['onLogits', 'the string "log"'] },
  { name: 'query(prompt, { signal: {} })', call: text('hi', { signal: {} }), error: InvalidArgumentError, words: ['signal', 'AbortSignal', 'an object'] },
  { name: 'query(prompt, { signal: new AbortController() })', call: text('hi', { signal: new AbortController() }), error: InvalidArgumentError, words: ['signal', 'AbortSignal', 'AbortController'] },
  { name: 'query(prompt, { maxTokens: "5" })', call: text('hi', { maxTokens: '5' }), error: InvalidArgumentError, words: ['maxTokens', 'positive integer', 'the string "5"'] },
  { name: 'query(prompt, { maxTokens: 0 })', call: text('hi', { maxTokens: 0 }), error: InvalidArgumentError, words: ['maxTokens', 'positive integer', '0'] },
  { name: 'query(prompt, { rewind: "yes" })', call: text('hi', { rewind: 'yes' }), error: InvalidArgumentError, words: ['rewind', 'boolean', 'yes'] },
  { name: 'query(prompt, { maxToken: 5 }) (a misspelt option)', call: text('hi', { maxToken: 5 }), error: InvalidArgumentError, words: ['query options', 'unknown option "maxToken"', 'maxTokens'] },
  { name: 'tokenQuery(ids, { dtype: "FLOAT_32" }) (an embeddingQuery option)', call: tokens([5], { dtype: 'FLOAT_32' }), error: InvalidArgumentError, words: ['tokenQuery options', 'unknown option "dtype"'] },
  { name: 'query(prompt, null)', call: text('hi', null), error: InvalidArgumentError, words: ['query options', 'object', 'null'] },
  { name: 'query(prompt, "fast")', call: text('hi', 'fast'), error: InvalidArgumentError, words: ['query options', 'object', 'the string "fast"'] },
  // embeddingQuery on a model that takes ids, and its own options
  {
    name: 'embeddingQuery(rows) on a model that takes token ids',
    call: (d) => d.embeddingQuery(new Float32Array(32)),
    error: NotSupportedError,
    words: ['token ids', 'not embeddings'],
  },
  {
    name: 'embeddingQuery(rows, { rewind: true })',
    call: (d) => d.embeddingQuery(new Float32Array(32), { rewind: true }),
    error: NotSupportedError,
    words: ['embeddingQuery', 'rewind'],
  },
  {
    name: 'embeddingQuery(rows, { tokenToEmbedding: 1 })',
    call: (d) => d.embeddingQuery(new Float32Array(32), { tokenToEmbedding: 1 as never, maxTokens: 1 }),
    error: InvalidArgumentError,
    words: ['tokenToEmbedding', 'function', '1'],
  },
  {
    name: 'embeddingQuery(rows, { onLogit: f }) (a misspelt option)',
    call: (d) => d.embeddingQuery(new Float32Array(32), { onLogit: () => {} } as never),
    error: InvalidArgumentError,
    words: ['embeddingQuery options', 'unknown option "onLogit"', 'tokenToEmbedding'],
  },
];

describe('catalog: query arguments', () => {
  const probe = new DialogProbe();
  beforeAll(() => probe.setup());
  afterAll(() => probe.dispose());

  it.each(BAD)('$name: thrown by the call, typed, naming what was wrong; the dialog goes on unchanged', async ({ call, error, words }) => {
    const dialog = await probe.ready();
    expectThrows(() => call(dialog), error, words);
    await probe.expectUnchanged(dialog);
  });

  it('a prompt longer than the whole context says to shorten it (no reset() could help); one that would fit after a reset says so', async () => {
    const dialog = await probe.open();
    const long = Array.from({ length: dialog.contextLimit + 1 }, (_, i) => 1 + (i % 1000));
    const fresh = expectThrows(() => dialog.tokenQuery(long), ContextLimitError, ['needs 65 tokens', 'only 64', 'shorten the prompt']);
    expect(fresh.message).not.toContain('reset()');
    await tokenTurn(dialog, probe.before, { maxTokens: 5 });
    expectThrows(() => dialog.tokenQuery(long.slice(0, 60)), ContextLimitError, ['needs 62 tokens', 'call reset() to make room', 'shorten the prompt']);
    // The dialog is as it was: reset() makes room, and the prompt then fits.
    await probe.expectUnchanged(dialog);
    dialog.reset();
    expect((await tokenTurn(dialog, long.slice(0, 60), { maxTokens: 2 })).result.stopReason).toBe('max-tokens');
  });

  it('a reply that fills the context fails with a ContextLimitError naming the limit; the dialog stays usable', async () => {
    const dialog = await probe.open();
    await expectRejects(() => tokenTurn(dialog, probe.before), ContextLimitError, ['context.size=64', 'generated tokens', 'maxTokens', 'reset()']);
    expect(dialog.contextUsed).toBe(dialog.contextLimit);
    dialog.reset();
    await tokenTurn(dialog, probe.before, { maxTokens: 5 });
    await probe.expectUnchanged(dialog);
  });
});
