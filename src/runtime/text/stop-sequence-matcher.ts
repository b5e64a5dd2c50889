import { InvalidArgumentError } from '../../errors.js';
import { isWellFormed } from '../../formats/json-text.js';
import { StreamStateError } from './errors.js';

/** What `StopSequenceMatcher.push` found. */
export interface StopScan {
  /** Text that is safe to emit now (never part of a stop sequence). */
  readonly text: string;
  /** The stop sequence that was completed, or null. */
  readonly stop: string | null;
  /**
   * With a stop: the number of characters pushed from the start of the stop sequence to the end of
   * the pushed text (the stop itself plus anything after it in the same piece), which is what
   * `IncrementalDetokenizer.tokensCoveringLast` takes. 0 without a stop.
   */
  readonly stopTail: number;
}

function checkStopSequences(stops: readonly string[]): string[] {
  if (!Array.isArray(stops)) {
    throw new InvalidArgumentError(`stopSequences must be an array of strings, got ${typeof stops}`);
  }
  stops.forEach((stop: unknown, i) => {
    if (typeof stop !== 'string') {
      throw new InvalidArgumentError(`stopSequences[${i}] = ${String(stop)} is not a string`);
    }
    if (stop.length === 0) {
      throw new InvalidArgumentError(`stopSequences[${i}] is an empty string (an empty stop would match before any text)`);
    }
    if (!isWellFormed(stop)) {
      throw new InvalidArgumentError(`stopSequences[${i}] = ${JSON.stringify(stop)} contains a lone UTF-16 surrogate`);
    }
  });
  return [...new Set(stops)];
}

/**
 * Finds stop sequences in streamed text, the way Genie matches them on decoded text. Feed it every
 * piece the detokenizer returns. It returns at once the text that cannot be the start of a stop and
 * holds back the longest tail that could be (at most the longest stop minus one character).
 *
 * The result does not depend on how the text is split into pieces: a stop fires at the first
 * character that completes any stop sequence; when several complete there, the one starting
 * earliest (the longest) wins. With "ab" and "abc", "ab" fires first, so "abc" can never match.
 * Text before the stop is emitted, the stop and anything after it are not. After a stop, only
 * `flush` and `reset` are allowed.
 */
export class StopSequenceMatcher {
  readonly stopSequences: readonly string[];
  private held = '';
  private matched: string | null = null;

  /** @param stopSequences non-empty, well-formed strings; duplicates are ignored; [] matches nothing. */
  constructor(stopSequences: readonly string[]) {
    this.stopSequences = checkStopSequences(stopSequences);
  }

  /** The stop sequence that ended the stream, or null. */
  get stopped(): string | null {
    return this.matched;
  }

  push(piece: string): StopScan {
    if (typeof piece !== 'string') {
      throw new InvalidArgumentError(`piece must be a string, got ${typeof piece}`);
    }
    if (this.matched !== null) {
      throw new StreamStateError(`push after stop sequence ${JSON.stringify(this.matched)} matched; call reset() first`);
    }
    const text = this.held + piece;
    let stop: string | null = null;
    let start = 0;
    let end = Infinity;
    for (const candidate of this.stopSequences) {
      const at = text.indexOf(candidate);
      if (at < 0) continue;
      const candidateEnd = at + candidate.length;
      if (candidateEnd < end || (candidateEnd === end && at < start)) {
        stop = candidate;
        start = at;
        end = candidateEnd;
      }
    }
    if (stop !== null) {
      this.matched = stop;
      this.held = '';
      return { text: text.slice(0, start), stop, stopTail: text.length - start };
    }
    const keep = this.longestStopPrefixSuffix(text);
    this.held = text.slice(text.length - keep);
    return { text: text.slice(0, text.length - keep), stop: null, stopTail: 0 };
  }

  /** Ends the stream without a stop: returns the held-back text ('' after a stop). */
  flush(): string {
    const rest = this.held;
    this.held = '';
    return rest;
  }

  reset(): void {
    this.held = '';
    this.matched = null;
  }

  /** Length of the longest suffix of `text` that is a proper prefix of some stop sequence. */
  private longestStopPrefixSuffix(text: string): number {
    let best = 0;
    for (const stop of this.stopSequences) {
      for (let length = Math.min(stop.length - 1, text.length); length > best; length--) {
        if (endsWithPrefix(text, stop, length)) {
          best = length;
          break;
        }
      }
    }
    return best;
  }
}

/** True when `text` ends with the first `length` characters of `stop`. */
function endsWithPrefix(text: string, stop: string, length: number): boolean {
  const offset = text.length - length;
  for (let i = 0; i < length; i++) {
    if (text.charCodeAt(offset + i) !== stop.charCodeAt(i)) return false;
  }
  return true;
}
