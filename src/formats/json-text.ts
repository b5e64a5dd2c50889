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
  /** How deep the key is: 1 for a key of the top-level object. */
  readonly depth: number;
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

/** line:column of many offsets of one text, each in O(log lines). */
class LineIndex {
  private starts: number[] | undefined;
  constructor(private readonly text: string) {}

  at(offset: number): { line: number; column: number } {
    const starts = (this.starts ??= lineStarts(this.text));
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (starts[mid] <= offset) low = mid;
      else high = mid - 1;
    }
    return { line: low + 1, column: offset - starts[low] + 1 };
  }
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** An object or array being scanned: its keys so far (objects), its next index (arrays). */
interface Container {
  readonly close: '}' | ']';
  readonly keys: Map<string, number> | null;
  index: number;
  /** No member read yet. */
  empty: boolean;
}

/**
 * A strict JSON grammar walk that records duplicate object keys with their positions, and the
 * offset of the first syntax error. It builds no values (JSON.parse does that) and keeps its own
 * stack of open containers, so any nesting depth JSON.parse accepts scans in linear time without
 * recursion.
 */
class Scanner {
  private pos = 0;
  readonly duplicates: DuplicateKey[] = [];
  private readonly lines: LineIndex;
  constructor(private readonly text: string) {
    this.lines = new LineIndex(text);
  }

  scan(): void {
    const open: Container[] = [];
    /** The key or index of the current member of each open container that has one (all but an empty innermost). */
    const path: PathSegment[] = [];
    this.value(open);
    while (open.length > 0) {
      const container = open[open.length - 1];
      this.skipWhitespace();
      if (container.empty) {
        if (this.text[this.pos] === container.close) {
          this.pos++;
          this.closed(open, path);
          continue;
        }
        container.empty = false;
      } else {
        const c = this.text[this.pos];
        this.pos++;
        if (c === container.close) {
          this.closed(open, path);
          continue;
        }
        if (c !== ',') throw new JsonScanError(this.pos - 1);
        path.pop();
      }
      path.push(container.keys === null ? container.index++ : this.key(container.keys, path));
      this.value(open);
    }
    this.skipWhitespace();
    if (this.pos !== this.text.length) throw new JsonScanError(this.pos);
  }

  /** The innermost container has closed: drop it, and the key of its last member if it had one. */
  private closed(open: Container[], path: PathSegment[]): void {
    if (!open.pop()!.empty) path.pop();
  }

  /** An object member's key and its colon; records the key when it repeats one of `keys`. */
  private key(keys: Map<string, number>, path: PathSegment[]): string {
    this.skipWhitespace();
    if (this.text[this.pos] !== '"') throw new JsonScanError(this.pos);
    const keyOffset = this.pos;
    const key = this.string();
    const first = keys.get(key);
    if (first === undefined) keys.set(key, keyOffset);
    else this.recordDuplicate([...path, key], keyOffset, first);
    this.skipWhitespace();
    if (this.text[this.pos] !== ':') throw new JsonScanError(this.pos);
    this.pos++;
    return key;
  }

  private skipWhitespace(): void {
    WHITESPACE.lastIndex = this.pos;
    WHITESPACE.exec(this.text);
    this.pos = WHITESPACE.lastIndex;
  }

  /** A scalar, or the opening bracket of a container (pushed on `open`). */
  private value(open: Container[]): void {
    this.skipWhitespace();
    const c = this.text[this.pos];
    if (c === '{' || c === '[') {
      this.pos++;
      open.push({ close: c === '{' ? '}' : ']', keys: c === '{' ? new Map() : null, index: 0, empty: true });
    } else if (c === '"') this.string();
    else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) this.number();
    else this.literal();
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
    const at = this.lines.at(offset);
    const first = this.lines.at(firstOffset);
    this.duplicates.push({
      path: formatPath(path), depth: path.length, line: at.line, column: at.column, firstLine: first.line, firstColumn: first.column,
    });
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

/**
 * Whether `text` is well-formed UTF-16 (no lone surrogate), so that it has a UTF-8 form. JSON
 * strings can hold lone surrogates through `\u` escapes. (`String.prototype.isWellFormed` is newer
 * than this project's TypeScript library target.)
 */
export function isWellFormed(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return false;
    }
  }
  return true;
}
