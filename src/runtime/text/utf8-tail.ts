/**
 * Tracks whether a UTF-8 byte stream ends inside a character, following the WHATWG decoder (the one
 * `TextDecoder` implements): a byte that cannot continue the current sequence ends it as invalid and
 * is read again as a new lead byte.
 */
export class Utf8Tail {
  private needed = 0;
  private lower = 0x80;
  private upper = 0xbf;

  /** True when the bytes fed so far end with an incomplete (but so far valid) sequence. */
  get pending(): boolean {
    return this.needed > 0;
  }

  feed(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) this.feedByte(bytes[i]);
  }

  reset(): void {
    this.needed = 0;
    this.lower = 0x80;
    this.upper = 0xbf;
  }

  private feedByte(b: number): void {
    if (this.needed > 0) {
      if (b >= this.lower && b <= this.upper) {
        this.needed--;
        this.lower = 0x80;
        this.upper = 0xbf;
        return;
      }
      this.reset();
    }
    if (b >= 0xc2 && b <= 0xdf) {
      this.needed = 1;
    } else if (b >= 0xe0 && b <= 0xef) {
      if (b === 0xe0) this.lower = 0xa0;
      if (b === 0xed) this.upper = 0x9f;
      this.needed = 2;
    } else if (b >= 0xf0 && b <= 0xf4) {
      if (b === 0xf0) this.lower = 0x90;
      if (b === 0xf4) this.upper = 0x8f;
      this.needed = 3;
    }
  }
}
