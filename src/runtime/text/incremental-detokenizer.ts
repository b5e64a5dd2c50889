import { InvalidArgumentError } from '../../errors.js';
import { checkTokenId, type Tokenizer } from '../tokenizer/index.js';
import { BytePieceDecoder } from './byte-piece-decoder.js';
import type { PieceDecoder } from './piece-decoder.js';
import { WindowPieceDecoder } from './window-piece-decoder.js';

function grown(array: Int32Array, needed: number): Int32Array {
  if (needed <= array.length) return array;
  const bigger = new Int32Array(Math.max(needed, array.length * 2));
  bigger.set(array);
  return bigger;
}

/**
 * Streams generated tokens as text: `push(id)` returns the text that token completes. The
 * concatenation of all pieces and `flush()` equals `tokenizer.decode(all ids)`. A character whose
 * UTF-8 bytes are split over several tokens is emitted whole by the token that completes it; U+FFFD
 * is emitted only for bytes that cannot become a character. Byte-level tokenizers (Qwen, Llama 3, ...)
 * stream exactly from each token's bytes; other decoders use a small sliding window of ids.
 *
 * Tokens and text are tied by clean boundaries: token counts after which nothing is held back. The
 * tokens between two boundaries own the text emitted between them together (a split character joins
 * them). `tokensCoveringLast` and `truncate` let a caller remove trailing tokens whole, e.g. the ones
 * that spelled a stop sequence.
 */
export class IncrementalDetokenizer {
  private readonly pieces: PieceDecoder;
  private ids: Int32Array = new Int32Array(256);
  private count = 0;
  private emitted = 0;
  // boundaryTokens[j] tokens had emitted boundaryTexts[j] characters with nothing held back; j = 0 is (0, 0).
  private boundaryTokens: Int32Array = new Int32Array(64);
  private boundaryTexts: Int32Array = new Int32Array(64);
  private boundaries = 1;

  constructor(tokenizer: Tokenizer) {
    const table = tokenizer.byteTable();
    this.pieces = table ? new BytePieceDecoder(table) : new WindowPieceDecoder(tokenizer);
  }

  /** Tokens pushed since `reset` (less those removed by `truncate`). */
  get tokenCount(): number {
    return this.count;
  }

  /** UTF-16 length of the text emitted for those tokens. */
  get textLength(): number {
    return this.emitted;
  }

  /** Feeds one token id; returns the text it completes (often the token's own text, '' while a character is incomplete). */
  push(id: number): string {
    checkTokenId(id, 'id');
    this.ids = grown(this.ids, this.count + 1);
    this.ids[this.count++] = id;
    const piece = this.pieces.push(this.ids, this.count, this.prefixBoundary(), this.readBoundary());
    this.emitted += piece.length;
    if (!this.pieces.pending) this.addBoundary();
    return piece;
  }

  /** Ends the stream: returns held-back text (U+FFFD for an incomplete character). Pushing may go on afterwards. */
  flush(): string {
    const piece = this.pieces.flush(this.ids, this.count, this.prefixBoundary(), this.readBoundary());
    this.emitted += piece.length;
    if (this.readBoundary() !== this.count) this.addBoundary();
    return piece;
  }

  /** Forgets every token. */
  reset(): void {
    this.count = 0;
    this.emitted = 0;
    this.boundaries = 1;
    this.pieces.reset();
  }

  /**
   * Keeps only the first `tokenCount` tokens: afterwards the state, `textLength` included, is as if
   * only those had been pushed. Text already returned is not taken back: when a kept token's
   * character was completed by a removed one, the kept bytes are held again.
   */
  truncate(tokenCount: number): void {
    if (!Number.isInteger(tokenCount) || tokenCount < 0 || tokenCount > this.count) {
      throw new InvalidArgumentError(`tokenCount = ${String(tokenCount)} is out of range [0, ${this.count}]`);
    }
    let j = this.boundaries - 1;
    while (this.boundaryTokens[j] > tokenCount) j--;
    this.boundaries = j + 1;
    this.count = tokenCount;
    const replayed = this.pieces.rewind(this.ids, this.count, this.prefixBoundary(), this.readBoundary());
    this.emitted = this.boundaryTexts[j] + replayed;
  }

  /**
   * How many trailing tokens to remove so that the kept tokens' text ends at or before the point
   * `charCount` characters from the end of the emitted text. Tokens are removed whole: the token
   * whose text straddles that point is removed (its text before the point was already emitted), as
   * are tokens sharing a split character with it and tokens whose bytes are still held back.
   */
  tokensCoveringLast(charCount: number): number {
    if (!Number.isInteger(charCount) || charCount < 0 || charCount > this.emitted) {
      throw new InvalidArgumentError(`charCount = ${String(charCount)} is out of range [0, ${this.emitted}] (the emitted text length)`);
    }
    const offset = this.emitted - charCount;
    let j = this.boundaries - 1;
    while (this.boundaryTexts[j] > offset) j--;
    return this.count - this.boundaryTokens[j];
  }

  private readBoundary(): number {
    return this.boundaryTokens[this.boundaries - 1];
  }

  private prefixBoundary(): number {
    return this.boundaries > 1 ? this.boundaryTokens[this.boundaries - 2] : 0;
  }

  private addBoundary(): void {
    this.boundaryTokens = grown(this.boundaryTokens, this.boundaries + 1);
    this.boundaryTexts = grown(this.boundaryTexts, this.boundaries + 1);
    this.boundaryTokens[this.boundaries] = this.count;
    this.boundaryTexts[this.boundaries] = this.emitted;
    this.boundaries++;
  }
}
