import type { TokenByteTable } from '../tokenizer/index.js';
import type { PieceDecoder } from './piece-decoder.js';
import { Utf8Tail } from './utf8-tail.js';

/**
 * Exact streaming for byte-level tokenizers: each token's raw bytes go through one streaming UTF-8
 * decoder, so a character split across tokens is emitted when its last byte arrives, and U+FFFD only
 * for bytes that can no longer form a character. Added tokens are emitted verbatim and, as in the
 * tokenizer's own decode, end the byte run before them.
 */
export class BytePieceDecoder implements PieceDecoder {
  private readonly decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  private readonly tail = new Utf8Tail();

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
    const bytes = this.table.bytes(id);
    if (this.table.isAdded(id)) return this.flush() + this.decoder.decode(bytes);
    this.tail.feed(bytes);
    return this.decoder.decode(bytes, { stream: true });
  }
}
