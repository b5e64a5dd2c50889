/**
 * The GPT-2 byte-level alphabet: every byte 0..255 is written in token strings as one printable
 * code point (printable Latin-1 bytes as themselves, the other 68 bytes as U+0100..U+0143).
 */
function buildUnicodeToByte(): Int16Array {
  const table = new Int16Array(256 + 68).fill(-1);
  let shifted = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[printable ? b : shifted++] = b;
  }
  return table;
}

const UNICODE_TO_BYTE = buildUnicodeToByte();
const utf8 = new TextEncoder();

/** The byte of one byte-level code unit, or -1 when the code unit is outside the alphabet. */
function byteOf(codeUnit: number): number {
  return codeUnit < UNICODE_TO_BYTE.length ? UNICODE_TO_BYTE[codeUnit] : -1;
}

/**
 * The raw bytes of a byte-level token string. A string with a character outside the alphabet is taken
 * as its own UTF-8, as the Rust `tokenizers` ByteLevel decoder does.
 */
function tokenByteLength(token: string): number {
  for (let i = 0; i < token.length; i++) {
    if (byteOf(token.charCodeAt(i)) < 0) return utf8.encode(token).length;
  }
  return token.length;
}

function writeTokenBytes(token: string, out: Uint8Array, at: number): void {
  for (let i = 0; i < token.length; i++) {
    const b = byteOf(token.charCodeAt(i));
    if (b < 0) {
      out.set(utf8.encode(token), at);
      return;
    }
    out[at + i] = b;
  }
}

/**
 * Bytes of every token id of a byte-level tokenizer, packed in one buffer. Added tokens (special or
 * not) are stored as the UTF-8 of their content, since decoders pass them through verbatim; ids with no
 * token have no bytes.
 */
export class TokenByteTable {
  private readonly data: Uint8Array;
  private readonly offsets: Int32Array;
  private readonly added: Uint8Array;

  constructor(vocab: ReadonlyArray<string | undefined>, addedIds: ReadonlySet<number>) {
    const n = vocab.length;
    this.offsets = new Int32Array(n + 1);
    this.added = new Uint8Array(n);
    for (let id = 0; id < n; id++) {
      const token = vocab[id];
      let length = 0;
      if (token !== undefined) {
        if (addedIds.has(id)) {
          this.added[id] = 1;
          length = utf8.encode(token).length;
        } else {
          length = tokenByteLength(token);
        }
      }
      this.offsets[id + 1] = this.offsets[id] + length;
    }
    this.data = new Uint8Array(this.offsets[n]);
    for (let id = 0; id < n; id++) {
      const token = vocab[id];
      if (token === undefined) continue;
      if (this.added[id] === 1) this.data.set(utf8.encode(token), this.offsets[id]);
      else writeTokenBytes(token, this.data, this.offsets[id]);
    }
  }

  /** Bytes of `id` (a view into the table; empty for ids without a token). */
  bytes(id: number): Uint8Array {
    if (id >= this.added.length) return this.data.subarray(0, 0);
    return this.data.subarray(this.offsets[id], this.offsets[id + 1]);
  }

  /** True for added tokens, which decoders emit verbatim and which break the byte stream around them. */
  isAdded(id: number): boolean {
    return id < this.added.length && this.added[id] === 1;
  }
}
