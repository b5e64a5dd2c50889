/**
 * Inputs for the fuzz properties: random bytes and text, and mutations of valid inputs (bit flips,
 * byte overwrites, truncations, cut, repeated and inserted ranges, 32- and 64-bit fields set to
 * edge values), for bytes, text and parsed JSON values.
 */
import fc from 'fast-check';

/** Byte values that mean something to the formats: NUL, 0xff, sign bits, JSON punctuation, digits, space. */
const SPECIAL_BYTES = [0x00, 0xff, 0x7f, 0x80, 0x20, 0x22, 0x2c, 0x3a, 0x5b, 0x5d, 0x7b, 0x7d, 0x30, 0x39, 0x2d, 0x0a];
/** Length- and count-field values at the edges: zero, one, signed and unsigned limits. */
const U32_EDGES = [0, 1, 2, 7, 8, 255, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
const U64_EDGES = [0n, 1n, 8n, 0xffffffffn, 1n << 32n, (1n << 53n) - 1n, 1n << 53n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n];

/** One edit of a byte string; positions are taken modulo its length. */
export type ByteEdit =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'set'; readonly at: number; readonly value: number }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'cut'; readonly at: number; readonly length: number }
  | { readonly kind: 'repeat'; readonly at: number; readonly length: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'u32'; readonly at: number; readonly value: number }
  | { readonly kind: 'u64'; readonly at: number; readonly value: bigint };

const position = fc.nat({ max: 1 << 20 });

export const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), at: position, bit: fc.integer({ min: 0, max: 7 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('set' as const),
      at: position,
      value: fc.oneof(fc.constantFrom(...SPECIAL_BYTES), fc.integer({ min: 0, max: 255 })),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: position }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cut' as const), at: position, length: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('repeat' as const), at: position, length: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('insert' as const), at: position, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('u32' as const), at: position, value: fc.oneof(fc.constantFrom(...U32_EDGES), fc.nat()) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('u64' as const), at: position, value: fc.constantFrom(...U64_EDGES) }) },
);

/** `bytes` with `edit` applied (a new array). */
export function applyByteEdit(bytes: Uint8Array, edit: ByteEdit): Uint8Array {
  const n = bytes.length;
  const at = n === 0 ? 0 : edit.at % n;
  const out = (): Uint8Array => bytes.slice();
  switch (edit.kind) {
    case 'flip': {
      if (n === 0) return bytes;
      const copy = out();
      copy[at] ^= 1 << edit.bit;
      return copy;
    }
    case 'set': {
      if (n === 0) return bytes;
      const copy = out();
      copy[at] = edit.value;
      return copy;
    }
    case 'truncate':
      return bytes.slice(0, at);
    case 'cut':
      return concat(bytes.subarray(0, at), bytes.subarray(Math.min(n, at + edit.length)));
    case 'repeat':
      return concat(bytes.subarray(0, Math.min(n, at + edit.length)), bytes.subarray(at));
    case 'insert':
      return concat(bytes.subarray(0, at), edit.bytes, bytes.subarray(at));
    case 'u32': {
      if (n < 4) return bytes;
      const copy = out();
      new DataView(copy.buffer).setUint32(Math.min(at, n - 4), edit.value >>> 0, true);
      return copy;
    }
    case 'u64': {
      if (n < 8) return bytes;
      const copy = out();
      new DataView(copy.buffer).setBigUint64(Math.min(at, n - 8), edit.value, true);
      return copy;
    }
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** One to `maxEdits` edits of one of `seeds`. */
export function mutatedBytes(seeds: readonly Uint8Array[], maxEdits = 4): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.nat({ max: seeds.length - 1 }), fc.array(byteEdit, { minLength: 1, maxLength: maxEdits }))
    .map(([seed, edits]) => edits.reduce(applyByteEdit, seeds[seed]));
}

/** Random bytes, mutations of `seeds` (most often), and seeds cut at a random point. */
export function untrustedBytes(seeds: readonly Uint8Array[], maxRandomLength = 512): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: maxRandomLength }) },
    { weight: 6, arbitrary: mutatedBytes(seeds) },
  );
}

// ---- text ----

/** Number literals that break assumptions: huge, tiny, negative, fractional, beyond 2^53, beyond float. */
const NUMBER_EDGES = [
  '0', '-0', '1', '-1', '2', '1.5', '-1.5', '0.0', '1e308', '1e309', '-1e309', '1e-320', '4294967295', '4294967296',
  '2147483647', '2147483648', '9007199254740991', '9007199254740993', '18446744073709551616', '1e21', '123456789012345678901234567890',
];
/** Strings for string-valued keys: empty, paths (missing, directory, device), odd characters. */
const STRING_EDGES = ['', ' ', '0xe0', '0x', '0xzz', '/dev/zero', '/', '.', '..', '\u0000', '\ud800', 'x'.repeat(300), 'QnnHtp', 'Reference', 'basic', 'lut', 'float32', 'ufixed16', 'rope', 'binary'];

/** One edit of a JSON text. */
export type TextEdit =
  | { readonly kind: 'number'; readonly nth: number; readonly value: string }
  | { readonly kind: 'string'; readonly nth: number; readonly value: string }
  | { readonly kind: 'char'; readonly at: number; readonly value: string }
  | { readonly kind: 'delete'; readonly at: number; readonly length: number }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'duplicate-member'; readonly nth: number }
  | { readonly kind: 'nest'; readonly nth: number; readonly depth: number; readonly open: string };

export const textEdit: fc.Arbitrary<TextEdit> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('number' as const), nth: fc.nat(), value: fc.oneof(fc.constantFrom(...NUMBER_EDGES), fc.double().map(String), fc.integer().map(String)) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('string' as const), nth: fc.nat(), value: fc.oneof(fc.constantFrom(...STRING_EDGES), fc.string({ maxLength: 12 })) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('char' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom('{', '}', '[', ']', '"', ',', ':', '\\', '\n', 'e', '-', '0'), fc.string({ maxLength: 2 })) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate-member' as const), nth: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('nest' as const), nth: fc.nat(), depth: fc.oneof(fc.integer({ min: 1, max: 50 }), fc.constantFrom(5_000, 20_000)), open: fc.constantFrom('[', '{"a":') }) },
);

const NUMBER_TOKEN = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;
const STRING_TOKEN = /"(?:[^"\\]|\\.)*"/g;
/** A member's value (string, number or literal) after its colon. */
const MEMBER_VALUE = /(?<=:\s*)(?:"(?:[^"\\]|\\.)*"|-?\d[\d.eE+-]*|true|false|null)/g;
const MEMBER = /"(?:[^"\\]|\\.)*"\s*:\s*(?:-?\d[\d.eE+-]*|"(?:[^"\\]|\\.)*"|true|false|null)/g;

function replaceNth(text: string, pattern: RegExp, nth: number, replace: (match: string) => string): string {
  const matches = [...text.matchAll(pattern)];
  if (matches.length === 0) return text;
  const match = matches[nth % matches.length];
  return text.slice(0, match.index) + replace(match[0]) + text.slice(match.index! + match[0].length);
}

/** `text` with `edit` applied. */
export function applyTextEdit(text: string, edit: TextEdit): string {
  const at = (value: number): number => (text.length === 0 ? 0 : value % text.length);
  switch (edit.kind) {
    case 'number':
      return replaceNth(text, NUMBER_TOKEN, edit.nth, () => edit.value);
    case 'string':
      return replaceNth(text, STRING_TOKEN, edit.nth, () => JSON.stringify(edit.value));
    case 'char':
      return text.slice(0, at(edit.at)) + edit.value + text.slice(at(edit.at) + 1);
    case 'delete':
      return text.slice(0, at(edit.at)) + text.slice(at(edit.at) + edit.length);
    case 'truncate':
      return text.slice(0, at(edit.at));
    case 'duplicate-member':
      return replaceNth(text, MEMBER, edit.nth, (member) => `${member}, ${member}`);
    case 'nest': {
      const close = edit.open === '[' ? ']' : '}';
      return replaceNth(text, MEMBER_VALUE, edit.nth, (v) => edit.open.repeat(edit.depth) + v + close.repeat(edit.depth));
    }
  }
}

/** One to `maxEdits` edits of one of `seeds`. */
export function mutatedText(seeds: readonly string[], maxEdits = 3): fc.Arbitrary<string> {
  return fc
    .tuple(fc.nat({ max: seeds.length - 1 }), fc.array(textEdit, { minLength: 1, maxLength: maxEdits }))
    .map(([seed, edits]) => edits.reduce(applyTextEdit, seeds[seed]));
}

// ---- parsed JSON values ----

/** One edit of a parsed JSON value at the `nth` node (in a depth-first walk). */
export type ValueEdit =
  | { readonly kind: 'replace'; readonly nth: number; readonly value: unknown }
  | { readonly kind: 'delete'; readonly nth: number }
  | { readonly kind: 'add'; readonly nth: number; readonly key: string; readonly value: unknown };

const edgeValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(0, -1, 1, 2, 0.5, -0.5, 1e9, 2 ** 31, 2 ** 32, 2 ** 53, 1e308, Number.MAX_SAFE_INTEGER + 2, '', 'x', true, false, null, [], {}, [0], [-1]),
  fc.constantFrom(...NUMBER_EDGES.map(Number)),
  fc.constantFrom(...STRING_EDGES),
  fc.jsonValue({ maxDepth: 2 }),
);

export const valueEdit: fc.Arbitrary<ValueEdit> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('replace' as const), nth: fc.nat(), value: edgeValue }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), nth: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('add' as const), nth: fc.nat(), key: fc.oneof(fc.constantFrom('version', 'type', 'size', '__proto__', 'constructor'), fc.string({ maxLength: 8 })), value: edgeValue }) },
);

type Slot = { parent: Record<string, unknown> | unknown[]; key: string | number };

function slots(value: unknown, out: Slot[] = []): Slot[] {
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      out.push({ parent: value, key: i });
      slots(item, out);
    });
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      out.push({ parent: value as Record<string, unknown>, key });
      slots(item, out);
    }
  }
  return out;
}

/** A deep copy of `value` with `edit` applied. */
export function applyValueEdit(value: unknown, edit: ValueEdit): unknown {
  const copy = structuredClone(value);
  const all = slots(copy);
  if (all.length === 0) return edit.kind === 'replace' ? edit.value : copy;
  const { parent, key } = all[edit.nth % all.length];
  const target = parent as Record<string | number, unknown>;
  if (edit.kind === 'replace') target[key] = structuredClone(edit.value);
  else if (edit.kind === 'delete') {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete target[key];
  } else {
    const inner = target[key];
    if (typeof inner === 'object' && inner !== null && !Array.isArray(inner)) {
      Object.defineProperty(inner, edit.key, { value: structuredClone(edit.value), enumerable: true, writable: true, configurable: true });
    } else target[key] = structuredClone(edit.value);
  }
  return copy;
}

/** One to `maxEdits` edits of one of `seeds` (JSON values). */
export function mutatedValue(seeds: readonly unknown[], maxEdits = 3): fc.Arbitrary<unknown> {
  return fc
    .tuple(fc.nat({ max: seeds.length - 1 }), fc.array(valueEdit, { minLength: 1, maxLength: maxEdits }))
    .map(([seed, edits]) => edits.reduce(applyValueEdit, seeds[seed]));
}
