/**
 * The bad-input catalog: calls a new user could make with a wrong argument, each expected to fail
 * with a typed error of exactly one class whose message names what was wrong, and to leave the
 * object it was made on usable and unchanged. A case lists the key words its message must contain
 * (the argument, key or value it names, and what was expected), not the whole text.
 *
 * `DialogProbe` checks "usable and unchanged" for a Dialog: every case runs between the same two
 * turns, and the second turn (its prompt tokens, its greedy tokens under a penalty window, which
 * reads the whole history) must equal that of a dialog on which no bad call was made.
 */
import { expect } from 'vitest';
import type { Dialog } from '../../../src/runtime/dialog.js';
import { DialogPool, makeModel, tempDir, tokenIds, tokenTurn, writeBundle, type Bundle, type Json } from '../../runtime/fixtures.js';

export type ErrorClass = abstract new (...args: never[]) => Error;

export interface BadCall<S> {
  /** What the user did, as the test's name. */
  readonly name: string;
  readonly call: (subject: S) => unknown;
  /** The exact class of the error (a subclass does not match). */
  readonly error: ErrorClass;
  /** Words the message must contain. */
  readonly words: readonly string[];
}

/** Runs `call`, which must throw synchronously, and checks the error's class and key words. */
export function expectThrows(call: () => unknown, error: ErrorClass, words: readonly string[]): Error {
  let thrown: unknown;
  let returned: unknown;
  try {
    returned = call();
  } catch (caught) {
    thrown = caught;
  }
  expect(returned, 'the call returned instead of throwing').toBeUndefined();
  return checkError(thrown, error, words);
}

/** Awaits `call`, which must reject, and checks the error's class and key words. */
export async function expectRejects(call: () => Promise<unknown>, error: ErrorClass, words: readonly string[]): Promise<Error> {
  let thrown: unknown;
  try {
    await call();
  } catch (caught) {
    thrown = caught;
  }
  return checkError(thrown, error, words);
}

function checkError(thrown: unknown, error: ErrorClass, words: readonly string[]): Error {
  expect(thrown, 'no error was thrown').toBeInstanceOf(Error);
  const e = thrown as Error;
  expect(e.constructor, `${e.constructor.name}: ${e.message}`).toBe(error);
  for (const word of words) expect(e.message, 'the message names what was wrong').toContain(word);
  return e;
}

const CONTEXT = 64;

/** A small greedy model with a penalty window: the tokens a turn samples depend on the whole history. */
export class DialogProbe {
  private readonly root = tempDir('catalog');
  private readonly pool = new DialogPool('Reference');
  private bundle: Bundle | undefined;
  private expected: { promptTokens: readonly number[]; generatedTokens: readonly number[] } | undefined;
  readonly model = makeModel({}, 'catalog');
  readonly before = tokenIds(6, 1, 1, this.model.config.vocabSize - 1);
  readonly after = tokenIds(4, 2, 1, this.model.config.vocabSize - 1);

  /** The config of `open()`: context 64, greedy, repetition penalty over the last 16 tokens. */
  config(): Json {
    return this.pool.config(this.bundle!, {
      contextSize: CONTEXT,
      sampler: { version: 1, seed: 1, temp: 0, 'token-penalty': { version: 1, 'penalize-last-n': 16, 'repetition-penalty': 3 } },
    });
  }

  get dir(): string {
    return this.bundle!.dir;
  }

  async setup(): Promise<void> {
    this.bundle = await writeBundle(this.root, this.model, { name: 'catalog', arSet: [1, 32], cl: 128, splits: 1 });
    const clean = await this.open();
    await tokenTurn(clean, this.before, { maxTokens: 5 });
    const { result } = await tokenTurn(clean, this.after, { maxTokens: 5 });
    this.expected = { promptTokens: result.promptTokens, generatedTokens: result.generatedTokens };
  }

  open(): Promise<Dialog> {
    return this.pool.open(this.bundle!, this.config());
  }

  /** A dialog with the first turn done: make the bad call on it, then `expectUnchanged`. */
  async ready(): Promise<Dialog> {
    const dialog = await this.open();
    await tokenTurn(dialog, this.before, { maxTokens: 5 });
    return dialog;
  }

  /** The second turn is what it is on a dialog that saw no bad call. */
  async expectUnchanged(dialog: Dialog): Promise<void> {
    const { result } = await tokenTurn(dialog, this.after, { maxTokens: 5 });
    expect({ promptTokens: result.promptTokens, generatedTokens: result.generatedTokens }, 'the turn after the bad call').toEqual(this.expected);
  }

  dispose(): Promise<void> {
    return this.pool.disposeAll();
  }
}
