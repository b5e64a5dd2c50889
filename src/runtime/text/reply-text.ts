import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { IncrementalDetokenizer } from './incremental-detokenizer.js';
import { StopSequenceMatcher, type StopScan } from './stop-sequence-matcher.js';

/**
 * The text of one reply as it streams: each generated token goes through the detokenizer, then the
 * stop matcher (which holds back what could start a stop sequence). Keeps the text delivered so far
 * and the stop sequence that ended it, if any.
 */
export class ReplyText {
  /** Everything returned by `push` and `finish` so far. */
  text = '';
  /** The stop sequence the text completed, or null. */
  stopSequence: string | null = null;
  private stopTail = 0;
  private readonly detok: IncrementalDetokenizer;
  private readonly stops: StopSequenceMatcher;

  constructor(tokenizer: Tokenizer, stopSequences: readonly string[]) {
    this.detok = new IncrementalDetokenizer(tokenizer);
    this.stops = new StopSequenceMatcher(stopSequences);
  }

  /** Adds a delivered token; returns the text that may be emitted now ('' while held back). */
  push(token: number): string {
    return this.note(this.stops.push(this.detok.push(token)));
  }

  /**
   * Ends a reply that no stop sequence ended: returns the held-back text. That text can still
   * complete a stop sequence (then `stopSequence` is set and the stop is not returned).
   */
  finish(): string {
    const piece = this.note(this.stops.push(this.detok.flush()));
    if (this.stopSequence !== null) return piece;
    const held = this.stops.flush();
    this.text += held;
    return piece + held;
  }

  /** With a stop sequence: the trailing tokens that spelled it (removed whole, as if never generated). */
  stopTokens(): number {
    return this.detok.tokensCoveringLast(this.stopTail);
  }

  private note(scan: StopScan): string {
    this.text += scan.text;
    this.stopSequence = scan.stop;
    this.stopTail = scan.stopTail;
    return scan.text;
  }
}
