import seedrandom from 'seedrandom';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/errors.js';
import { IncrementalDetokenizer } from '../../../src/runtime/text/index.js';
import { Utf8Tail } from '../../../src/runtime/text/utf8-tail.js';
import { Tokenizer, demoTokenizerPath, loadTokenizer } from '../../../src/runtime/tokenizer/index.js';
import { SAMPLE_TEXTS, addedTokensOf, gpt2ByteToChar, sentencePieceTokenizerJson } from '../tokenizer/fixtures.js';

const FFFD = '\uFFFD';
let qwen: Tokenizer;
let addedIds: number[];
let byteTokenIds: number[];

beforeAll(async () => {
  qwen = await loadTokenizer(demoTokenizerPath());
  addedIds = addedTokensOf(demoTokenizerPath()).map((t) => t.id);
  byteTokenIds = gpt2ByteToChar().map((c) => qwen.tokenToId(c)!);
});

function pushAll(detok: IncrementalDetokenizer, ids: ArrayLike<number>): string[] {
  const pieces: string[] = [];
  for (let i = 0; i < ids.length; i++) pieces.push(detok.push(ids[i]));
  return pieces;
}

/** One single-byte token per UTF-8 byte of `text`. */
function byteTokens(text: string): number[] {
  return [...new TextEncoder().encode(text)].map((b) => byteTokenIds[b]);
}

/** Valid text as a random mix of whole tokens and single-byte tokens. */
function mixedGranularity(text: string, rng: () => number): number[] {
  const ids: number[] = [];
  for (const ch of text) {
    if (rng() < 0.5) ids.push(...qwen.encode(ch));
    else ids.push(...byteTokens(ch));
  }
  return ids;
}

/** Random ids: vocabulary, single bytes (leads and continuations), added tokens, ids beyond the vocabulary. */
function randomIds(rng: () => number, n: number): number[] {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = rng();
    if (r < 0.3) ids.push(Math.floor(rng() * 151643));
    else if (r < 0.55) ids.push(byteTokenIds[0x80 + Math.floor(rng() * 0x40)]);
    else if (r < 0.75) ids.push(byteTokenIds[0xc0 + Math.floor(rng() * 0x40)]);
    else if (r < 0.85) ids.push(byteTokenIds[Math.floor(rng() * 0x80)]);
    else if (r < 0.93) ids.push(addedIds[Math.floor(rng() * addedIds.length)]);
    else ids.push(151669 + Math.floor(rng() * 267));
  }
  return ids;
}

describe('IncrementalDetokenizer (byte-level, Qwen3)', () => {
  it('streams every sample text: the pieces add up to decode(all), with no U+FFFD', () => {
    const detok = new IncrementalDetokenizer(qwen);
    for (const text of SAMPLE_TEXTS) {
      detok.reset();
      const ids = qwen.encode(text);
      const pieces = pushAll(detok, ids);
      const rest = detok.flush();
      expect(pieces.join('') + rest).toBe(qwen.decode(ids));
      expect(rest).toBe('');
      for (const piece of pieces) expect(piece).not.toContain(FFFD);
      expect(detok.tokenCount).toBe(ids.length);
      expect(detok.textLength).toBe(qwen.decode(ids).length);
    }
  });

  it('emits a character split over byte tokens exactly when its last byte arrives', () => {
    const detok = new IncrementalDetokenizer(qwen);
    for (const text of SAMPLE_TEXTS) {
      detok.reset();
      const expected: string[] = [];
      for (const ch of text) {
        const n = new TextEncoder().encode(ch).length;
        for (let i = 1; i < n; i++) expected.push('');
        expected.push(ch);
      }
      expect(pushAll(detok, byteTokens(text))).toEqual(expected);
    }
  });

  it('streams random mixes of whole tokens and byte tokens', () => {
    const rng = seedrandom('mixed');
    const detok = new IncrementalDetokenizer(qwen);
    for (const text of SAMPLE_TEXTS) {
      for (let round = 0; round < 5; round++) {
        detok.reset();
        const ids = mixedGranularity(text, rng);
        const pieces = pushAll(detok, ids);
        expect(pieces.join('')).toBe(text);
        expect(detok.flush()).toBe('');
        for (const piece of pieces) expect(piece).not.toContain(FFFD);
      }
    }
  });

  it('on random ids (invalid UTF-8 included) never emits text it would have to take back', () => {
    const rng = seedrandom('random-ids');
    for (let round = 0; round < 40; round++) {
      const ids = randomIds(rng, 40);
      const full = qwen.decode(ids);
      const detok = new IncrementalDetokenizer(qwen);
      let emitted = '';
      for (let i = 0; i < ids.length; i++) {
        emitted += detok.push(ids[i]);
        // What has been emitted is final: a prefix of the text of every longer sequence...
        expect(full.startsWith(emitted)).toBe(true);
        // ...and holding back only an incomplete character: flushing now gives decode(prefix).
        const probe = new IncrementalDetokenizer(qwen);
        const prefixText = pushAll(probe, ids.slice(0, i + 1)).join('') + probe.flush();
        expect(prefixText).toBe(qwen.decode(ids.slice(0, i + 1)));
        expect(prefixText.startsWith(emitted)).toBe(true);
      }
      expect(emitted + detok.flush()).toBe(full);
    }
  });

  it('a token seen again (its text cached) streams as one UTF-8 decoder over every token\'s bytes does, in any state', () => {
    const table = qwen.byteTable()!;
    const rng = seedrandom('seen-again');
    const detok = new IncrementalDetokenizer(qwen);
    // The same ids over and over: from the second round on, whole tokens come from the cache,
    // arriving after complete and after incomplete characters alike.
    const ids = randomIds(rng, 60);
    for (let round = 0; round < 4; round++) {
      detok.reset();
      const reference = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
      for (const id of ids) {
        const bytes = table.bytes(id);
        const expected = table.isAdded(id) ? reference.decode() + reference.decode(bytes) : reference.decode(bytes, { stream: true });
        expect(detok.push(id), `round ${round}, id ${id}`).toBe(expected);
      }
      expect(detok.flush()).toBe(reference.decode());
    }
  });

  it('emits U+FFFD for invalid bytes without waiting, and for an incomplete character only on flush', () => {
    const detok = new IncrementalDetokenizer(qwen);
    expect(detok.push(byteTokenIds[0xe4])).toBe('');
    expect(detok.push(byteTokenIds[0xb8])).toBe('');
    expect(detok.push(byteTokenIds[0x41])).toBe(`${FFFD}A`);
    expect(detok.push(byteTokenIds[0x80])).toBe(FFFD);
    expect(detok.push(byteTokenIds[0xf0])).toBe('');
    expect(detok.flush()).toBe(FFFD);
    expect(detok.push(qwen.tokenToId('<|im_end|>')!)).toBe('<|im_end|>');
    detok.reset();
    expect(detok.push(byteTokenIds[0xe4])).toBe('');
    // An added token ends the byte run, as in decode().
    expect(detok.push(qwen.tokenToId('<think>')!)).toBe(`${FFFD}<think>`);
  });

  it('truncate leaves the state of having pushed only the kept tokens (flushes included)', () => {
    const rng = seedrandom('truncate');
    for (let round = 0; round < 60; round++) {
      const ids = round % 2 === 0 ? randomIds(rng, 30) : mixedGranularity(SAMPLE_TEXTS[round % SAMPLE_TEXTS.length], rng);
      const more = randomIds(rng, 10);
      const keep = Math.floor(rng() * (ids.length + 1));
      const flushAt = rng() < 0.5 ? Math.floor(rng() * (ids.length + 1)) : -1;
      const detok = new IncrementalDetokenizer(qwen);
      const fresh = new IncrementalDetokenizer(qwen);
      for (let i = 0; i <= ids.length; i++) {
        if (i === flushAt) detok.flush();
        if (i === flushAt && i <= keep) fresh.flush();
        if (i < ids.length) detok.push(ids[i]);
        if (i < keep) fresh.push(ids[i]);
      }
      detok.truncate(keep);
      expect(detok.tokenCount).toBe(keep);
      expect(detok.textLength).toBe(fresh.textLength);
      expect(pushAll(detok, more)).toEqual(pushAll(fresh, more));
      expect(detok.flush()).toBe(fresh.flush());
    }
  });

  it('tokensCoveringLast is the fewest trailing tokens whose removal leaves text ending before the point', () => {
    const rng = seedrandom('covering');
    for (const text of SAMPLE_TEXTS) {
      const ids = mixedGranularity(text, rng);
      const detok = new IncrementalDetokenizer(qwen);
      const emitted = pushAll(detok, ids).join('');
      for (let charCount = 0; charCount <= emitted.length; charCount++) {
        const before = emitted.slice(0, emitted.length - charCount);
        let oracle = 0;
        while (!before.startsWith(qwen.decode(ids.slice(0, ids.length - oracle)))) oracle++;
        expect(detok.tokensCoveringLast(charCount)).toBe(oracle);
      }
      const k = detok.tokensCoveringLast(2);
      detok.truncate(ids.length - k);
      expect(detok.textLength).toBeLessThanOrEqual(emitted.length - 2);
      expect(emitted.startsWith(qwen.decode(ids.slice(0, ids.length - k)))).toBe(true);
    }
  });

  it('counts held-back tokens as covering the end', () => {
    const detok = new IncrementalDetokenizer(qwen);
    expect(pushAll(detok, [qwen.tokenToId('ok')!, byteTokenIds[0xe4], byteTokenIds[0xb8]])).toEqual(['ok', '', '']);
    expect(detok.tokensCoveringLast(0)).toBe(2);
    expect(detok.tokensCoveringLast(1)).toBe(3);
    expect(detok.tokensCoveringLast(2)).toBe(3);
  });

  it('rejects bad arguments with the offending value and stays usable', () => {
    const detok = new IncrementalDetokenizer(qwen);
    pushAll(detok, qwen.encode('Hello world'));
    expect(() => detok.push(-1)).toThrow(InvalidArgumentError);
    expect(() => detok.push(-1)).toThrow(/id = -1 is not a token id/);
    expect(() => detok.push(1.5)).toThrow(/id = 1\.5 is not a token id/);
    expect(() => detok.push(NaN)).toThrow(/id = NaN is not a token id/);
    expect(() => detok.truncate(3)).toThrow(InvalidArgumentError);
    expect(() => detok.truncate(3)).toThrow(/tokenCount = 3 is out of range \[0, 2\]/);
    expect(() => detok.truncate(-1)).toThrow(/tokenCount = -1 is out of range \[0, 2\]/);
    expect(() => detok.truncate(0.5)).toThrow(/tokenCount = 0\.5 is out of range/);
    expect(() => detok.tokensCoveringLast(12)).toThrow(InvalidArgumentError);
    expect(() => detok.tokensCoveringLast(12)).toThrow(/charCount = 12 is out of range \[0, 11\]/);
    expect(() => detok.tokensCoveringLast(-1)).toThrow(/charCount = -1 is out of range/);
    expect(detok.tokenCount).toBe(2);
    expect(detok.textLength).toBe(11);
    expect(detok.push(qwen.encode('!')[0])).toBe('!');
  });
});

describe('IncrementalDetokenizer (SentencePiece-style decoder, sliding window)', () => {
  const sp = new Tokenizer(sentencePieceTokenizerJson());
  const texts = ['hello world', 'hello 中文 world é', 'abc😀d hello', 'world hello 👩‍👩‍👧 ok', 'a b  c   d'];

  it('streams text whose pieces depend on their neighbours (leading-space strip, byte fallback)', () => {
    const detok = new IncrementalDetokenizer(sp);
    expect(pushAll(detok, sp.encode('hello world'))).toEqual(['hello', ' world']);
    for (const text of texts) {
      detok.reset();
      const ids = sp.encode(text);
      const pieces = pushAll(detok, ids);
      expect(pieces.join('') + detok.flush()).toBe(sp.decode(ids));
      for (const piece of pieces) expect(piece).not.toContain(FFFD);
    }
  });

  it('on random ids adds up to decode(all) and never takes text back', () => {
    const rng = seedrandom('sp-random');
    for (let round = 0; round < 40; round++) {
      const ids = Array.from({ length: 30 }, () => Math.floor(rng() * sp.vocabSize));
      const full = sp.decode(ids);
      const detok = new IncrementalDetokenizer(sp);
      let emitted = '';
      for (const id of ids) {
        emitted += detok.push(id);
        expect(full.startsWith(emitted)).toBe(true);
      }
      expect(emitted + detok.flush()).toBe(full);
    }
  });

  it('truncate and tokensCoveringLast work the same way', () => {
    const rng = seedrandom('sp-truncate');
    for (const text of texts) {
      const ids = [...sp.encode(text)];
      const detok = new IncrementalDetokenizer(sp);
      const emitted = pushAll(detok, ids).join('');
      for (let charCount = 0; charCount <= emitted.length; charCount++) {
        const before = emitted.slice(0, emitted.length - charCount);
        let oracle = 0;
        while (!before.startsWith(sp.decode(ids.slice(0, ids.length - oracle)))) oracle++;
        expect(detok.tokensCoveringLast(charCount)).toBe(oracle);
      }
      const keep = Math.floor(rng() * (ids.length + 1));
      const more = Array.from({ length: 6 }, () => Math.floor(rng() * sp.vocabSize));
      detok.truncate(keep);
      const fresh = new IncrementalDetokenizer(sp);
      pushAll(fresh, ids.slice(0, keep));
      expect(detok.textLength).toBe(fresh.textLength);
      expect(pushAll(detok, more)).toEqual(pushAll(fresh, more));
      expect(detok.flush()).toBe(fresh.flush());
    }
  });
});

describe('Utf8Tail', () => {
  it('says a stream ends inside a character exactly when TextDecoder would still hold bytes', () => {
    const rng = seedrandom('utf8-tail');
    const interesting = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xff];
    for (let round = 0; round < 3000; round++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(rng() * 6) }, () => interesting[Math.floor(rng() * interesting.length)]);
      const tail = new Utf8Tail();
      const decoder = new TextDecoder('utf-8', { fatal: false });
      for (let i = 0; i < bytes.length; i++) {
        tail.feed(bytes.subarray(i, i + 1));
        decoder.decode(bytes.subarray(i, i + 1), { stream: true });
      }
      expect(tail.pending).toBe(decoder.decode().length > 0);
    }
  });
});
