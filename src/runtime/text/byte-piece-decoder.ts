import type { TokenByteTable } from '../tokenizer/index.js';
import type { PieceDecoder } from './piece-decoder.js';
import { Utf8Tail } from './utf8-tail.js';

/** `wholeText` entry of a token whose bytes are not whole characters (or not UTF-8). */
const NOT_WHOLE = null;

/**
 * Exact streaming for byte-level tokenizers: each token's raw bytes go through one streaming UTF-8
 * decoder, so a character split across tokens is emitted when its last byte arrives, and U+FFFD only
 * for bytes that can no longer form a character. Added tokens are emitted verbatim and, as in the
 * tokenizer's own decode, end the byte run before them.
 *
 * Most tokens are whole characters: when no character is pending, such a token's text is its bytes
 * decoded alone, which is cached per token on first sight, so the common case costs a lookup instead
 * of a decoder call (this runs on the decode loop's critical path, once per generated token).
 */
export class BytePieceDecoder implements PieceDecoder {
  private readonly decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  /** Throws on bytes that are not whole, valid characters: decides what `wholeText` may cache. */
  private readonly strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  private readonly streaming = { stream: true };
  private readonly tail = new Utf8Tail();
  /** Per token id: its text (its bytes are whole characters), NOT_WHOLE, or undefined (not seen yet). */
  private readonly wholeText: (string | typeof NOT_WHOLE | undefined)[] = [];

  constructor(private readonly table: TokenByteTable) {}

  get pending(): boolean {
    return this.tail.pending;
  }

  push(ids: Int32Array, count: number): string {
    return this.decodeToken(ids[count - 1]);
  }

  flush(): string {
    this.tail.reset();
    return this.decoder.decode();
  }

  rewind(ids: Int32Array, count: number, _prefix: number, read: number): number {
    this.reset();
    let length = 0;
    for (let i = read; i < count; i++) length += this.decodeToken(ids[i]).length;
    return length;
  }

  reset(): void {
    this.flush();
  }

  private decodeToken(id: number): string {
    if (!this.tail.pending) {
      const whole = this.wholeText[id] ?? this.learn(id);
      if (whole !== NOT_WHOLE) return whole;
    }
    const bytes = this.table.bytes(id);
    if (this.table.isAdded(id)) return this.flush() + this.decoder.decode(bytes);
    this.tail.feed(bytes);
    return this.decoder.decode(bytes, this.streaming);
  }

  /** Caches token `id`'s text if its bytes are whole characters (an added token's always are). */
  private learn(id: number): string | typeof NOT_WHOLE {
    const bytes = this.table.bytes(id);
    let text: string | typeof NOT_WHOLE;
    try {
      text = this.strict.decode(bytes);
    } catch {
      text = NOT_WHOLE;
    }
    this.wholeText[id] = text;
    return text;
  }
}
