/**
 * The fuzz property every reader of untrusted bytes must hold: on any input it returns, or throws a
 * typed error (a `GenieError`); never another exception, never a hang (each run is timed, and each
 * property has a time budget), never an allocation out of proportion to the input (a declared size
 * must be checked against the bytes actually there before anything is allocated for it).
 *
 * Fixed seed and run counts in CI. Environment:
 * - `GENIE_TS_FUZZ_SCALE=N` runs every property N times as often (e.g. 20 for a longer run);
 * - `GENIE_TS_FUZZ_SEED=S` another seed;
 * - `GENIE_TS_FUZZ_REPORT=FILE` appends one JSON line per property (runs, outcomes, time).
 */
import { appendFileSync } from 'node:fs';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { GenieError } from '../../../src/errors.js';

function envInt(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got "${text}"`);
  return value;
}

export const FUZZ_SEED = envInt('GENIE_TS_FUZZ_SEED', 0x14f022);
export const FUZZ_SCALE = envInt('GENIE_TS_FUZZ_SCALE', 1);
/** One run taking longer than this is a hang. */
export const RUN_LIMIT_MS = 2_000;
/** A run may grow ArrayBuffer memory by this much plus `ALLOCATION_PER_INPUT_BYTE` x its input. */
const ALLOCATION_ALLOWANCE = 64 * 1024 * 1024;
const ALLOCATION_PER_INPUT_BYTE = 64;

/** Counts of one property's runs. */
export interface FuzzStats {
  runs: number;
  /** The reader returned. */
  accepted: number;
  /** The reader threw a GenieError; by class name. */
  rejected: Record<string, number>;
  slowestMs: number;
}

export interface FuzzOptions<T> {
  /** Runs in CI (multiplied by GENIE_TS_FUZZ_SCALE). */
  readonly runs: number;
  /** The input's size in bytes, for the allocation bound (default: its length / byteLength). */
  readonly bytes?: (input: T) => number;
  /**
   * Extra checks on a GenieError (e.g. "a QnnError that is not the simulator's internal error"); a
   * returned string fails the run with that explanation.
   */
  readonly checkError?: (error: GenieError, input: T) => string | undefined;
  /** Pinned inputs run first, counted among the runs (counterexamples found earlier). */
  readonly examples?: readonly T[];
}

function sizeOf(input: unknown): number {
  if (typeof input === 'string') return input.length * 3;
  if (input instanceof Uint8Array) return input.byteLength;
  if (Array.isArray(input)) return input.reduce((sum: number, part) => sum + sizeOf(part), 0);
  if (typeof input === 'object' && input !== null) return Object.values(input).reduce((sum: number, part) => sum + sizeOf(part), 0);
  return 8;
}

/**
 * One vitest test: `read` on `options.runs` inputs of `arbitrary` (seeded), each returning or
 * throwing a GenieError, within RUN_LIMIT_MS and the allocation bound. Prints the counts.
 */
export function fuzz<T>(name: string, arbitrary: fc.Arbitrary<T>, read: (input: T) => unknown, options: FuzzOptions<T>): void {
  const numRuns = options.runs * FUZZ_SCALE;
  // The whole property's budget: generous, so that only a real slowdown trips it.
  const budgetMs = 20_000 * FUZZ_SCALE;
  it(`${name} (${numRuns} runs, seed ${FUZZ_SEED})`, { timeout: budgetMs + 30_000 }, async () => {
    const stats: FuzzStats = { runs: 0, accepted: 0, rejected: {}, slowestMs: 0 };
    const started = performance.now();
    const property = fc.asyncProperty(arbitrary, async (input) => {
      const before = process.memoryUsage().arrayBuffers;
      const start = performance.now();
      let outcome: string;
      try {
        await read(input);
        outcome = 'accepted';
      } catch (error) {
        if (!(error instanceof GenieError)) throw error;
        const problem = options.checkError?.(error, input);
        if (problem !== undefined) throw new Error(`${problem}: ${error.name}: ${error.message}`);
        outcome = error.name;
      }
      const ms = performance.now() - start;
      if (ms > RUN_LIMIT_MS) throw new Error(`one run took ${ms.toFixed(0)} ms (limit ${RUN_LIMIT_MS} ms)`);
      const grown = process.memoryUsage().arrayBuffers - before;
      const allowed = ALLOCATION_ALLOWANCE + ALLOCATION_PER_INPUT_BYTE * (options.bytes ?? sizeOf)(input);
      if (grown > allowed) throw new Error(`one run grew ArrayBuffer memory by ${grown} bytes (bound ${allowed})`);
      stats.runs++;
      stats.slowestMs = Math.max(stats.slowestMs, ms);
      if (outcome === 'accepted') stats.accepted++;
      else stats.rejected[outcome] = (stats.rejected[outcome] ?? 0) + 1;
    });
    await fc.assert(property, {
      seed: FUZZ_SEED,
      numRuns,
      timeout: RUN_LIMIT_MS,
      interruptAfterTimeLimit: budgetMs,
      markInterruptAsFailure: true,
      examples: (options.examples ?? []).map((example) => [example] as [T]),
    });
    const ms = performance.now() - started;
    const rejected = Object.entries(stats.rejected).map(([cls, count]) => `${cls} ${count}`).join(', ');
    const line = `fuzz ${name}: ${stats.runs} runs in ${ms.toFixed(0)} ms (slowest ${stats.slowestMs.toFixed(1)} ms): ${stats.accepted} accepted; rejected: ${rejected || 'none'}`;
    process.stdout.write(`${line}\n`);
    const report = process.env.GENIE_TS_FUZZ_REPORT;
    if (report) appendFileSync(report, `${JSON.stringify({ name, seed: FUZZ_SEED, scale: FUZZ_SCALE, ms: Math.round(ms), ...stats })}\n`);
    // fast-check counts the pinned examples among numRuns.
    expect(stats.runs).toBe(numRuns);
  });
}
