import type { Tokenizer } from '../tokenizer/index.js';
import type { PieceDecoder } from './piece-decoder.js';

const REPLACEMENT = '\uFFFD';

/**
 * Streaming for tokenizers whose decoder is not ByteLevel (SentencePiece-style Metaspace / ByteFallback /
 * Strip decoders, where a token's text depends on its neighbours), the way text-generation-inference
 * does it: decode the window `ids[prefix..count)` and emit what it adds to `ids[prefix..read)`; hold
 * back while the window ends in U+FFFD. A U+FFFD that really ends the text (invalid bytes, or the
 * character itself) is therefore emitted with the next token or by `flush`.
 */
export class WindowPieceDecoder implements PieceDecoder {
  private holding = false;
  private cachedPrefix = -1;
  private cachedRead = -1;
  private cachedText = '';

  constructor(private readonly tokenizer: Tokenizer) {}

  get pending(): boolean {
    return this.holding;
  }

  push(ids: Int32Array, count: number, prefix: number, read: number): string {
    const before = this.prefixText(ids, prefix, read);
    const text = this.tokenizer.decode(ids.subarray(prefix, count));
    this.holding = text.length < before.length || text.endsWith(REPLACEMENT);
    return this.holding ? '' : text.slice(before.length);
  }

  flush(ids: Int32Array, count: number, prefix: number, read: number): string {
    if (!this.holding) return '';
    this.holding = false;
    const before = this.prefixText(ids, prefix, read);
    const text = this.tokenizer.decode(ids.subarray(prefix, count));
    return text.slice(before.length);
  }

  rewind(_ids: Int32Array, count: number, _prefix: number, read: number): number {
    this.cachedPrefix = -1;
    this.holding = count > read;
    return 0;
  }

  reset(): void {
    this.cachedPrefix = -1;
    this.holding = false;
  }

  private prefixText(ids: Int32Array, prefix: number, read: number): string {
    if (prefix !== this.cachedPrefix || read !== this.cachedRead) {
      this.cachedText = this.tokenizer.decode(ids.subarray(prefix, read));
      this.cachedPrefix = prefix;
      this.cachedRead = read;
    }
    return this.cachedText;
  }
}
