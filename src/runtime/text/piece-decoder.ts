/**
 * Turns a token stream into text pieces for `IncrementalDetokenizer`, which owns the token history and
 * the clean boundaries (token counts after which no text is held back). `prefix` and `read` are the
 * last two boundaries, `count` the number of tokens in `ids`.
 */
export interface PieceDecoder {
  /** True while text of pushed tokens is held back (an incomplete character). */
  readonly pending: boolean;
  /** Text completed by `ids[count - 1]`. */
  push(ids: Int32Array, count: number, prefix: number, read: number): string;
  /** Ends the stream: releases held text, U+FFFD for bytes that never completed a character. */
  flush(ids: Int32Array, count: number, prefix: number, read: number): string;
  /**
   * Restores the state of having pushed `ids[0..count)`, given that `read` is the last boundary;
   * returns the length of the text the pushes after `read` emitted.
   */
  rewind(ids: Int32Array, count: number, prefix: number, read: number): number;
  reset(): void;
}
