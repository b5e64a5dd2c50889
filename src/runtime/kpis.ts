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

  kpis(initTimeUs: number, promptTokens: number, generatedTokens: number): Kpis {
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
    };
  }
}
