/**
 * Positions in JSON text: line:column of an offset, where JSON.parse failed and why, and object keys
 * that appear twice (which JSON.parse silently resolves to the last).
 */
import { formatPath, type PathSegment } from './json.js';

/** 1-based line and column of a UTF-16 offset in `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(Math.max(offset, 0), text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

/** A key that appears twice in one JSON object (JSON.parse silently keeps the last). */
export interface DuplicateKey {
  /** JSON path of the repeated key, e.g. `dialog.context.size`. */
  readonly path: string;
  readonly line: number;
  readonly column: number;
  readonly firstLine: number;
  readonly firstColumn: number;
}

class JsonScanError extends Error {
  constructor(readonly offset: number) {
    super(`JSON syntax error at offset ${offset}`);
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WHITESPACE = /[ \t\n\r]*/y;

/**
 * A strict JSON grammar walk that records duplicate object keys with their positions, and the
 * offset of the first syntax error. It builds no values; JSON.parse does that.
 */
class Scanner {
  private pos = 0;
  readonly duplicates: DuplicateKey[] = [];
  constructor(private readonly text: string) {}

  scan(): void {
    this.value([]);
    this.skipWhitespace();
    if (this.pos !== this.text.length) throw new JsonScanError(this.pos);
  }

  private skipWhitespace(): void {
    WHITESPACE.lastIndex = this.pos;
    WHITESPACE.exec(this.text);
    this.pos = WHITESPACE.lastIndex;
  }

  private value(path: PathSegment[]): void {
    this.skipWhitespace();
    const c = this.text[this.pos];
    if (c === '{') this.object(path);
    else if (c === '[') this.array(path);
    else if (c === '"') this.string();
    else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) this.number();
    else this.literal();
  }

  private object(path: PathSegment[]): void {
    this.pos++;
    const seen = new Map<string, number>();
    this.skipWhitespace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.pos] !== '"') throw new JsonScanError(this.pos);
      const keyOffset = this.pos;
      const key = this.string();
      const first = seen.get(key);
      if (first === undefined) seen.set(key, keyOffset);
      else this.recordDuplicate([...path, key], keyOffset, first);
      this.skipWhitespace();
      if (this.text[this.pos] !== ':') throw new JsonScanError(this.pos);
      this.pos++;
      this.value([...path, key]);
      if (this.endOfContainer('}')) return;
    }
  }

  private array(path: PathSegment[]): void {
    this.pos++;
    this.skipWhitespace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return;
    }
    for (let index = 0; ; index++) {
      this.value([...path, index]);
      if (this.endOfContainer(']')) return;
    }
  }

  /** After a member: `,` continues (false), the closing bracket ends (true), anything else is an error. */
  private endOfContainer(close: string): boolean {
    this.skipWhitespace();
    const c = this.text[this.pos];
    this.pos++;
    if (c === close) return true;
    if (c === ',') return false;
    throw new JsonScanError(this.pos - 1);
  }

  private string(): string {
    const start = this.pos;
    this.pos++;
    while (this.pos < this.text.length) {
      const code = this.text.charCodeAt(this.pos);
      if (code === 0x22) {
        this.pos++;
        return JSON.parse(this.text.slice(start, this.pos)) as string;
      }
      if (code < 0x20) throw new JsonScanError(this.pos);
      if (code === 0x5c) {
        const escape = this.text[this.pos + 1];
        if (escape === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(this.text.slice(this.pos + 2, this.pos + 6))) throw new JsonScanError(this.pos);
          this.pos += 6;
          continue;
        }
        if (escape === undefined || !'"\\/bfnrt'.includes(escape)) throw new JsonScanError(this.pos);
        this.pos += 2;
        continue;
      }
      this.pos++;
    }
    throw new JsonScanError(this.pos);
  }

  private number(): void {
    NUMBER.lastIndex = this.pos;
    if (NUMBER.exec(this.text) === null) throw new JsonScanError(this.pos);
    this.pos = NUMBER.lastIndex;
  }

  private literal(): void {
    for (const word of ['true', 'false', 'null']) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return;
      }
    }
    throw new JsonScanError(this.pos);
  }

  private recordDuplicate(path: PathSegment[], offset: number, firstOffset: number): void {
    const at = lineColumn(this.text, offset);
    const first = lineColumn(this.text, firstOffset);
    this.duplicates.push({ path: formatPath(path), line: at.line, column: at.column, firstLine: first.line, firstColumn: first.column });
  }
}

/** Duplicate keys of a text JSON.parse accepted. */
export function findDuplicateKeys(text: string): DuplicateKey[] {
  const scanner = new Scanner(text);
  scanner.scan();
  return scanner.duplicates;
}

/**
 * Offset of the syntax error JSON.parse reported: its "at position N" when the message has one
 * (not all of Node 20's messages do), else where a strict scan of the text stops.
 */
export function syntaxErrorOffset(text: string, error: SyntaxError): number {
  const match = /at position (\d+)/.exec(error.message);
  if (match) return Number(match[1]);
  try {
    new Scanner(text).scan();
  } catch (scanError) {
    if (scanError instanceof JsonScanError) return scanError.offset;
    throw scanError;
  }
  return text.length;
}

/** JSON.parse's reason without the position and the echoed text: `Unexpected token '}'`. */
export function syntaxErrorReason(error: SyntaxError): string {
  return error.message.replace(/ in JSON at position \d+.*$/s, '').replace(/, (?:\.\.\.)?".*is not valid JSON$/s, '');
}
