import type { ImageTimings, SpliceReport } from './spliced-prompt.js';

/**
 * Genie's profiling KPIs (docs/genie-behaviour.md#profiling-kpis) under Genie's names. Times are in
 * microseconds, rates in tokens per second.
 */
export interface Kpis {
  readonly 'init-time': number;
  readonly 'time-to-first-token': number;
  readonly 'prompt-processing-rate': number;
  readonly 'token-generation-time': number;
  readonly 'token-generation-rate': number;
  readonly 'num-prompt-tokens': number;
  readonly 'num-generated-tokens': number;
  /**
   * genie-ts extensions, present when the query fed images (`query(prompt, { images })`): their
   * count, and microseconds spent reading, decoding and preprocessing them, in the image-encoder and
   * separate projector graphs, and requantising and splicing every fed row into the accumulator.
   * Included in `time-to-first-token`.
   */
  readonly 'num-images'?: number;
  readonly 'image-preprocess-time'?: number;
  readonly 'image-encoder-time'?: number;
  readonly 'image-projector-time'?: number;
  readonly 'splice-time'?: number;
}

/** Wall-clock stopwatch for one query, in microseconds. */
export class QueryClock {
  private readonly start = process.hrtime.bigint();
  private firstToken: bigint | undefined;
  private end: bigint | undefined;

  markFirstToken(): void {
    this.firstToken ??= process.hrtime.bigint();
  }

  stop(): void {
    this.end ??= process.hrtime.bigint();
  }

  kpis(initTimeUs: number, promptTokens: number, generatedTokens: number, splice?: SpliceReport): Kpis {
    const end = this.end ?? process.hrtime.bigint();
    const first = this.firstToken ?? end;
    const ttft = Number(first - this.start) / 1e3;
    const generation = Number(end - first) / 1e3;
    // The first generated token comes out of the prompt step; the rest come from decode steps.
    const decoded = Math.max(0, generatedTokens - 1);
    return {
      'init-time': initTimeUs,
      'time-to-first-token': ttft,
      'prompt-processing-rate': ttft > 0 ? (promptTokens * 1e6) / ttft : 0,
      'token-generation-time': generation,
      'token-generation-rate': generation > 0 ? (decoded * 1e6) / generation : 0,
      'num-prompt-tokens': promptTokens,
      'num-generated-tokens': generatedTokens,
      ...(splice === undefined ? {} : spliceKpis(splice)),
    };
  }
}

function spliceKpis({ images, spliceUs }: SpliceReport): Partial<Kpis> {
  const sum = (key: keyof ImageTimings): number => images.reduce((total, t) => total + t[key], 0);
  return {
    'num-images': images.length,
    'image-preprocess-time': sum('preprocessUs'),
    'image-encoder-time': sum('encoderUs'),
    'image-projector-time': sum('projectorUs'),
    'splice-time': spliceUs,
  };
}
