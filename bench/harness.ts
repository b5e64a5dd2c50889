/**
 * Benchmark helpers: medians over repeated samples and a heap-delta probe. Figures are reported as
 * medians and as ratios to a floor measured in the same run, never asserted in unit tests.
 */
export interface Measurement {
  readonly name: string;
  readonly medianUs: number;
  readonly ratio?: number;
  readonly target?: string;
  readonly heapDeltaBytes?: number;
  /** Shown after the case name (e.g. the median as a share of a budget); not part of the case's identity. */
  readonly note?: string;
}

/** Median wall time of `fn` in microseconds: `samples` samples of `inner` calls each, after a warm-up. */
export function medianUs(fn: () => unknown, opts: { samples?: number; inner?: number; warmup?: number } = {}): number {
  const samples = opts.samples ?? 31;
  const inner = opts.inner ?? 10;
  const warmup = opts.warmup ?? 5;
  for (let i = 0; i < warmup * inner; i++) fn();
  const times = new Float64Array(samples);
  for (let s = 0; s < samples; s++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < inner; i++) fn();
    times[s] = Number(process.hrtime.bigint() - t0) / 1e3 / inner;
  }
  times.sort();
  return times[samples >> 1];
}

/** Median microseconds per awaited call: `samples` samples of `inner` sequential calls, after a warm-up. */
export async function medianAsyncUs(fn: () => Promise<unknown>, samples = 31, inner = 200): Promise<number> {
  for (let i = 0; i < inner * 3; i++) await fn();
  const times = new Float64Array(samples);
  for (let s = 0; s < samples; s++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < inner; i++) await fn();
    times[s] = Number(process.hrtime.bigint() - t0) / 1e3 / inner;
  }
  times.sort();
  return times[samples >> 1];
}

/**
 * Heap growth over `iterations` calls of `fn` after a warm-up, with GC before and after when
 * node runs with --expose-gc. A path that allocates per call shows a delta proportional to
 * `iterations`; an allocation-free path stays near zero.
 */
export function heapDeltaBytes(fn: () => unknown, iterations = 20_000): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 1000; i++) fn();
  gc?.();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < iterations; i++) fn();
  const after = process.memoryUsage().heapUsed;
  gc?.();
  return after - before;
}

export function printTable(title: string, rows: readonly Measurement[]): void {
  console.log(`\n## ${title}`);
  console.log('| case | median (us) | ratio to floor | target | heap delta (bytes) |');
  console.log('| --- | ---: | ---: | --- | ---: |');
  for (const r of rows) {
    const ratio = r.ratio === undefined ? '' : `${Math.abs(r.ratio) < 0.1 && r.ratio !== 0 ? r.ratio.toPrecision(3) : r.ratio.toFixed(2)}x`;
    const heap = r.heapDeltaBytes === undefined ? '' : String(r.heapDeltaBytes);
    const name = r.note === undefined ? r.name : `${r.name} (${r.note})`;
    console.log(`| ${name} | ${r.medianUs.toFixed(2)} | ${ratio} | ${r.target ?? ''} | ${heap} |`);
  }
}
