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

/** One row of `npm run bench -- --json FILE`. */
export interface JsonRow {
  /** The suite's key in bench/run.ts (e.g. `npu-idle`). */
  readonly suite: string;
  readonly suiteTitle: string;
  /** The row's name, stable across runs (a note with run-dependent text is kept apart). */
  readonly case: string;
  readonly note: string | null;
  readonly median: number;
  readonly unit: 'us';
  readonly ratio: number | null;
  readonly target: string | null;
  /**
   * Whether the row meets its target, when the target is machine-readable: `<= N us` / `<= N ms`
   * (median), `<= Nx` (ratio, also the leading `<= Nx` of a longer text); null otherwise.
   */
  readonly met: boolean | null;
  readonly heapDeltaBytes: number | null;
}

/** The target's verdict for a row, or null when the target cannot be read. */
export function targetMet(row: Measurement): boolean | null {
  const target = row.target?.trim();
  if (target === undefined) return null;
  const bound = /^<=\s*([0-9.]+)\s*(us|ms|x)(?:\s|$|\()/.exec(target);
  if (bound === null) return null;
  const limit = Number(bound[1]);
  if (!Number.isFinite(limit)) return null;
  if (bound[2] === 'x') return row.ratio === undefined ? null : row.ratio <= limit;
  // "<= 300 us over the sampler" compares something other than the median: not judged.
  if (!/^<=\s*[0-9.]+\s*(us|ms)\s*$/.test(target)) return null;
  return row.medianUs <= (bound[2] === 'ms' ? limit * 1000 : limit);
}

export function jsonRows(suite: string, suiteTitle: string, rows: readonly Measurement[]): JsonRow[] {
  return rows.map((r) => ({
    suite,
    suiteTitle,
    case: r.name,
    note: r.note ?? null,
    median: r.medianUs,
    unit: 'us',
    ratio: r.ratio ?? null,
    target: r.target ?? null,
    met: targetMet(r),
    heapDeltaBytes: r.heapDeltaBytes ?? null,
  }));
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
