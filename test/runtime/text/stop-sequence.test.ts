import seedrandom from 'seedrandom';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/errors.js';
import { IncrementalDetokenizer, StopSequenceMatcher, StreamStateError, type StopScan } from '../../../src/runtime/text/index.js';
import { Tokenizer, demoTokenizerPath, loadTokenizer } from '../../../src/runtime/tokenizer/index.js';
import { gpt2ByteToChar } from '../tokenizer/fixtures.js';

/** Feeds pieces until a stop; returns everything emitted, the stop, and the stop tail. */
function run(matcher: StopSequenceMatcher, pieces: readonly string[]): { text: string; stop: string | null; stopTail: number } {
  let text = '';
  for (const piece of pieces) {
    const scan = matcher.push(piece);
    text += scan.text;
    if (scan.stop !== null) return { text, stop: scan.stop, stopTail: scan.stopTail };
  }
  return { text: text + matcher.flush(), stop: null, stopTail: 0 };
}

/** Naive oracle: the first end position where any stop ends; among those the longest stop. */
function oracle(text: string, stops: readonly string[]): { text: string; stop: string | null } {
  for (let end = 1; end <= text.length; end++) {
    const ending = stops.filter((s) => s.length <= end && text.slice(end - s.length, end) === s);
    if (ending.length > 0) {
      const stop = ending.reduce((a, b) => (b.length > a.length ? b : a));
      return { text: text.slice(0, end - stop.length), stop };
    }
  }
  return { text, stop: null };
}

function randomSplit(text: string, rng: () => number): string[] {
  const pieces: string[] = [];
  let at = 0;
  while (at < text.length) {
    const n = Math.floor(rng() * 4);
    pieces.push(text.slice(at, at + n));
    at += n;
  }
  return pieces;
}

describe('StopSequenceMatcher', () => {
  it('holds back a tail that could start a stop and releases it when it cannot', () => {
    const m = new StopSequenceMatcher(['<end>']);
    expect(m.push('abc<e')).toEqual({ text: 'abc', stop: null, stopTail: 0 });
    expect(m.push('x')).toEqual({ text: '<ex', stop: null, stopTail: 0 });
    expect(m.push('<')).toEqual({ text: '', stop: null, stopTail: 0 });
    expect(m.push('<en')).toEqual({ text: '<', stop: null, stopTail: 0 });
    expect(m.flush()).toBe('<en');
    expect(m.stopped).toBeNull();
  });

  it('matches a stop spread over several pieces and drops what follows it', () => {
    const m = new StopSequenceMatcher(['Observation:']);
    const scans: StopScan[] = ['The answer', ' is 4', '2.\nObs', 'erv', 'ation', ': done'].map((p) => m.push(p));
    expect(scans.map((s) => s.text).join('')).toBe('The answer is 42.\n');
    expect(scans.slice(0, 5).every((s) => s.stop === null)).toBe(true);
    expect(scans[5]).toEqual({ text: '', stop: 'Observation:', stopTail: 'Observation: done'.length });
    expect(m.stopped).toBe('Observation:');
    expect(m.flush()).toBe('');
  });

  it('matches a stop at the very start of the stream', () => {
    const m = new StopSequenceMatcher(['</s>']);
    expect(m.push('</s>tail')).toEqual({ text: '', stop: '</s>', stopTail: 8 });
    m.reset();
    expect(m.push('<')).toEqual({ text: '', stop: null, stopTail: 0 });
    expect(m.push('/s')).toEqual({ text: '', stop: null, stopTail: 0 });
    expect(m.push('>')).toEqual({ text: '', stop: '</s>', stopTail: 4 });
  });

  it('with overlapping stops "ab" and "abc", "ab" fires first', () => {
    const m = new StopSequenceMatcher(['abc', 'ab']);
    expect(m.push('xa')).toEqual({ text: 'x', stop: null, stopTail: 0 });
    expect(m.push('bc')).toEqual({ text: '', stop: 'ab', stopTail: 3 });
    m.reset();
    expect(m.push('xabc')).toEqual({ text: 'x', stop: 'ab', stopTail: 3 });
  });

  it('with two stops, the one completed first wins; a tie goes to the one starting earlier', () => {
    const m = new StopSequenceMatcher(['world', 'lo w']);
    expect(m.push('hello world')).toEqual({ text: 'hel', stop: 'lo w', stopTail: 8 });
    const n = new StopSequenceMatcher(['bc', 'abc']);
    expect(n.push('zabcd')).toEqual({ text: 'z', stop: 'abc', stopTail: 4 });
    const o = new StopSequenceMatcher(['END', 'STOP']);
    expect(run(o, ['a STO', 'P b END'])).toEqual({ text: 'a ', stop: 'STOP', stopTail: 10 });
  });

  it('does not depend on how the text is split (random texts, stops and splits vs a naive scan)', () => {
    const rng = seedrandom('stops');
    const alphabet = 'abcx😀';
    const pick = (n: number) => Array.from({ length: n }, () => [...alphabet][Math.floor(rng() * 5)]).join('');
    for (let round = 0; round < 2000; round++) {
      const stops = Array.from({ length: 1 + Math.floor(rng() * 3) }, () => pick(1 + Math.floor(rng() * 3)));
      const text = pick(Math.floor(rng() * 14));
      const expected = oracle(text, stops);
      const m = new StopSequenceMatcher(stops);
      const got = run(m, randomSplit(text, rng));
      expect({ text: got.text, stop: got.stop }).toEqual(expected);
      if (got.stop !== null) {
        // The stop tail reaches back exactly to where the stop starts.
        const pushed = text.slice(0, expected.text.length + got.stopTail);
        expect(pushed.slice(expected.text.length).startsWith(got.stop)).toBe(true);
      }
    }
  });

  it('holds back no more than the longest stop prefix (checked against a naive scan at every push)', () => {
    const rng = seedrandom('hold');
    for (let round = 0; round < 500; round++) {
      const stops = ['abc', 'bcd', 'x'];
      const m = new StopSequenceMatcher(stops);
      let pushed = '';
      let emitted = '';
      for (const piece of randomSplit(Array.from({ length: 12 }, () => 'abcd'[Math.floor(rng() * 4)]).join(''), rng)) {
        pushed += piece;
        emitted += m.push(piece).text;
        if (m.stopped) break;
        let held = 0;
        for (const s of stops) for (let l = 1; l < s.length; l++) if (pushed.endsWith(s.slice(0, l))) held = Math.max(held, l);
        expect(emitted).toBe(pushed.slice(0, pushed.length - held));
      }
    }
  });

  it('passes everything through with no stops, and ignores duplicates', () => {
    const m = new StopSequenceMatcher([]);
    expect(m.push('anything')).toEqual({ text: 'anything', stop: null, stopTail: 0 });
    expect(new StopSequenceMatcher(['a', 'a', 'b']).stopSequences).toEqual(['a', 'b']);
  });

  it('rejects bad stop sequences and pieces, naming the offending value, and stays usable', () => {
    const bad = (stops: unknown) => () => new StopSequenceMatcher(stops as string[]);
    expect(bad(['ok', ''])).toThrow(InvalidArgumentError);
    expect(bad(['ok', ''])).toThrow(/stopSequences\[1\] is an empty string/);
    expect(bad(['ok', 7])).toThrow(/stopSequences\[1\] = 7 is not a string/);
    expect(bad(['\ud800x'])).toThrow(/stopSequences\[0\] = "\\ud800x" contains a lone UTF-16 surrogate/);
    expect(bad(['x\udc00'])).toThrow(/stopSequences\[0\] = "x\\udc00" contains a lone UTF-16 surrogate/);
    expect(bad('STOP')).toThrow(/stopSequences must be an array of strings, got string/);

    const m = new StopSequenceMatcher(['STOP']);
    expect(m.push('ab ST').text).toBe('ab ');
    expect(() => m.push(5 as unknown as string)).toThrow(InvalidArgumentError);
    expect(() => m.push(5 as unknown as string)).toThrow(/piece must be a string, got number/);
    expect(m.push('OP')).toEqual({ text: '', stop: 'STOP', stopTail: 4 });
    expect(() => m.push('more')).toThrow(StreamStateError);
    expect(() => m.push('more')).toThrow(/push after stop sequence "STOP" matched; call reset\(\) first/);
    m.reset();
    expect(m.push('again STOP')).toEqual({ text: 'again ', stop: 'STOP', stopTail: 4 });
  });
});

describe('stop sequences over real tokens (Qwen3)', () => {
  let qwen: Tokenizer;
  beforeAll(async () => {
    qwen = await loadTokenizer(demoTokenizerPath());
  });

  /** Streams `ids` as the dialog would; returns what was emitted and how many tokens the stop removes. */
  function stream(ids: ArrayLike<number>, stops: string[]) {
    const detok = new IncrementalDetokenizer(qwen);
    const matcher = new StopSequenceMatcher(stops);
    let emitted = '';
    for (let i = 0; i < ids.length; i++) {
      const scan = matcher.push(detok.push(ids[i]));
      emitted += scan.text;
      if (scan.stop !== null) {
        const removed = detok.tokensCoveringLast(scan.stopTail);
        detok.truncate(detok.tokenCount - removed);
        return { emitted, stop: scan.stop, fed: i + 1, removed, detok };
      }
    }
    const scan = matcher.push(detok.flush());
    return { emitted: emitted + scan.text + matcher.flush(), stop: scan.stop, fed: ids.length, removed: 0, detok };
  }

  const cases: Array<[string, string[]]> = [
    ['The answer is 42.\nObservation: the tool said so', ['Observation:']],
    ['The answer is 42.\nObservation: the tool said so', ['bservation']],
    ['Thought: 你好世界，今天天气很好。', ['天气']],
    ['emoji party 😀👩‍👩‍👧 then more text', ['👩‍👩']],
    ['STOP right at the start', ['STOP']],
    ['chat turn<|im_end|>\n<|im_start|>user', ['<|im_end|>']],
    ['a long stop: "stop here please" and after', ['"stop here please"', 'stop here']],
    ['no stop in this one at all', ['zzz']],
  ];

  it('removes exactly the tokens that reach into the stop; text before the stop is emitted', () => {
    for (const [text, stops] of cases) {
      const ids = [...qwen.encode(text)];
      const expected = oracle(text, stops);
      const got = stream(ids, stops);
      expect(got.emitted).toBe(expected.text);
      expect(got.stop).toBe(expected.stop);
      // Oracle: the fewest trailing tokens to drop so that what stays decodes to a prefix of the emitted text.
      const fedIds = ids.slice(0, got.fed);
      let fewest = 0;
      if (got.stop !== null) while (!expected.text.startsWith(qwen.decode(fedIds.slice(0, fedIds.length - fewest)))) fewest++;
      expect(got.removed).toBe(fewest);
      expect(got.detok.tokenCount).toBe(got.fed - got.removed);
      const kept = qwen.decode(fedIds.slice(0, got.detok.tokenCount));
      expect(got.detok.textLength).toBe(kept.length);
      if (got.stop !== null) expect(kept).not.toContain(got.stop);
    }
  });

  it('a stop starting inside a token removes that whole token but still emits its text before the stop', () => {
    const text = 'The answer is 42.\nObservation: the tool said so';
    const ids = [...qwen.encode(text)];
    const got = stream(ids, ['bservation']);
    expect(got.emitted).toBe('The answer is 42.\nO');
    const kept = qwen.decode(ids.slice(0, got.detok.tokenCount));
    expect(kept.length).toBeLessThan(got.emitted.length);
    expect(got.emitted.startsWith(kept)).toBe(true);
  });

  it('a stop whose first character is split over byte tokens removes every byte of it', () => {
    const byteChars = gpt2ByteToChar();
    const byteTokens = (text: string) => [...new TextEncoder().encode(text)].map((b) => qwen.tokenToId(byteChars[b])!);
    const ids = [...qwen.encode('before '), ...byteTokens('天'), ...qwen.encode('气 after')];
    expect(qwen.decode(ids)).toBe('before 天气 after');
    const got = stream(ids, ['天气']);
    expect(got.emitted).toBe('before ');
    expect(qwen.decode(ids.slice(0, got.detok.tokenCount))).toBe('before ');
    expect(got.removed).toBe(got.fed - qwen.encode('before ').length);
  });
});
