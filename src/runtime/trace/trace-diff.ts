/**
 * Two traces of the same prompt compared step by step and tensor by tensor (`genie-ts trace diff`):
 * A is the reference (e.g. the float twin), B the run under test (a `--quant htp` bundle, QnnHtp,
 * a device). Tensors are compared whole and dequantised; attention masks as attend/masked patterns
 * (their encodings differ by design); integer tensors (ids, positions, cache index) exactly; logits
 * on the step's valid rows (not the padding's) and by the argmax of the row the sampler reads.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { GenieError } from '../../errors.js';
import { readStepTensors, type StepTensorValues, type Trace, type TracedStep } from './trace-reader.js';

/** The two traces cannot be compared step by step: different prompts, models or variants. The message says why. */
export class TraceAlignError extends GenieError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TRACE_ALIGN', message, options);
  }
}

/** The numbers comparing one tensor of B with the same tensor of A (the reference). */
export interface TensorMetrics {
  /** `10 log10(sum a^2 / sum (a - b)^2)`: +Infinity when equal, -Infinity when A is all zeros and B is not. */
  readonly sqnrDb: number;
  readonly maxAbsError: number;
  /** `a.b / (|a| |b|)`: 1 when both are all zeros, 0 when only one is. */
  readonly cosine: number;
}

/** SQNR, max abs error and cosine of `b` against the reference `a` (same length), in float64. */
export function tensorMetrics(a: Float32Array, b: Float32Array): TensorMetrics {
  let signal = 0;
  let noise = 0;
  let dot = 0;
  let normB = 0;
  let maxAbsError = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    const d = x - y;
    signal += x * x;
    noise += d * d;
    dot += x * y;
    normB += y * y;
    const e = Math.abs(d);
    if (e > maxAbsError || Number.isNaN(e)) maxAbsError = e;
  }
  const sqnrDb = noise === 0 ? Number.POSITIVE_INFINITY : signal === 0 ? Number.NEGATIVE_INFINITY : 10 * Math.log10(signal / noise);
  const cosine = signal === 0 || normB === 0 ? (signal === normB ? 1 : 0) : dot / Math.sqrt(signal * normB);
  return { sqnrDb, maxAbsError, cosine };
}

/**
 * An attention mask's pattern: element i attends when its value is above half the tensor's most
 * negative value (masked elements are the encoding's floor, -50 for AI Hub's uint16 masks or the
 * float mask's bias, -1000 by default; attending ones dequantise to about 0). A mask with no element
 * below -1 attends everywhere.
 */
export function maskPattern(values: Float32Array): Uint8Array {
  let min = -1;
  for (let i = 0; i < values.length; i++) if (values[i] < min) min = values[i];
  const threshold = min / 2;
  const pattern = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) pattern[i] = values[i] > threshold ? 1 : 0;
  return pattern;
}

/** Index of the largest value of `values[from .. from + length)`, the first on ties. */
export function argmax(values: Float32Array, from: number, length: number): number {
  let best = 0;
  for (let i = 1; i < length; i++) if (values[from + i] > values[from + best]) best = i;
  return best;
}

/** How a tensor was compared. */
export type Comparison = 'values' | 'mask' | 'exact';

export interface TensorDiff extends TensorMetrics {
  readonly name: string;
  readonly role: string;
  readonly direction: 'input' | 'output';
  /** The graph (split) of A that lists it first. */
  readonly graph: string;
  readonly comparison: Comparison;
  readonly elements: number;
  /** Elements that differ (masks: attend/masked disagreements; exact tensors: unequal values). */
  readonly mismatches: number;
  /** Logits (compared on the step's valid rows): the argmax of the row the sampler reads, in A and in B. */
  readonly argmax?: { readonly a: number; readonly b: number };
  /** Why the runs part here, or null. */
  readonly parts: string | null;
}

export interface StepDiff {
  readonly index: number;
  readonly kind: TracedStep['kind'];
  readonly variant: string;
  readonly positions: TracedStep['positions'];
  readonly tokens: readonly number[];
  readonly tensors: readonly TensorDiff[];
}

export interface TraceDiff {
  readonly a: string;
  readonly b: string;
  /** The SQNR (dB) below which a value tensor counts as parted. */
  readonly minSqnrDb: number;
  readonly steps: readonly StepDiff[];
  /** The first step and tensor where B parts from A (in step order, then graph order), or null. */
  readonly firstParting: { readonly step: number; readonly tensor: string; readonly why: string } | null;
  /** What was not compared and why (steps without tensors, tensors in one trace only, incomplete traces). */
  readonly notes: readonly string[];
}

export interface DiffOptions {
  /** Value tensors with a lower SQNR part (default 10 dB). */
  readonly minSqnrDb?: number;
}

const EXACT_ROLES = new Set(['input_ids', 'position_ids', 'cache_index']);

/**
 * Compares every step both traces hold. Throws `TraceAlignError` when they do not describe the same
 * computation: a different number of prefill steps, different fed tokens (other prompts), different
 * variants, or a tensor of another shape (another model). Decode steps past a token the two runs
 * sampled differently are not compared (a note says so; `--force-tokens` keeps runs aligned).
 */
export async function diffTraces(a: Trace, b: Trace, options: DiffOptions = {}): Promise<TraceDiff> {
  const minSqnrDb = options.minSqnrDb ?? 10;
  const notes: string[] = [];
  for (const [label, trace] of [['A', a], ['B', b]] as const) {
    if (!trace.complete) notes.push(`trace ${label} (${trace.dir}) is incomplete: its run stopped after ${trace.steps.length} indexed steps`);
    if (trace.leftOut !== null) notes.push(`trace ${label} left out ${trace.leftOut}`);
  }
  const count = alignedSteps(a, b, notes);
  const steps: StepDiff[] = [];
  let firstParting: TraceDiff['firstParting'] = null;
  const onlyIn = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const stepA = a.steps[i];
    const stepB = b.steps[i];
    const [tensorsA, tensorsB] = await Promise.all([readStepTensors(a, stepA), readStepTensors(b, stepB)]);
    if (stepA.file === null || stepB.file === null) {
      notes.push(`step ${i}: no tensors in trace ${stepA.file === null ? 'A' : 'B'}`);
    }
    const tensors: TensorDiff[] = [];
    for (const [name, ta] of tensorsA) {
      const tb = tensorsB.get(name);
      if (tb === undefined) {
        if (stepB.file !== null) onlyIn.set(name, 'A');
        continue;
      }
      const diff = tensorDiff(ta, tb, stepA, i, minSqnrDb);
      tensors.push(diff);
      if (firstParting === null && diff.parts !== null) firstParting = { step: i, tensor: name, why: diff.parts };
      await yieldToEventLoop();
    }
    if (stepA.file !== null) for (const name of tensorsB.keys()) if (!tensorsA.has(name)) onlyIn.set(name, 'B');
    steps.push({ index: i, kind: stepA.kind, variant: stepA.variant.id, positions: stepA.positions, tokens: stepA.tokens, tensors });
  }
  for (const [name, label] of onlyIn) notes.push(`tensor "${name}" is stored only in trace ${label} (not compared)`);
  return { a: a.dir, b: b.dir, minSqnrDb, steps, firstParting, notes };
}

/** The number of leading steps that describe the same computation in both traces. */
function alignedSteps(a: Trace, b: Trace, notes: string[]): number {
  const count = Math.min(a.steps.length, b.steps.length);
  if (count === 0) throw new TraceAlignError(`nothing to compare: trace ${a.steps.length === 0 ? 'A' : 'B'} has no steps`);
  for (let i = 0; i < count; i++) {
    const sa = a.steps[i];
    const sb = b.steps[i];
    const where = `step ${i}`;
    if (sa.kind !== sb.kind) {
      throw new TraceAlignError(`the traces cannot be aligned: ${where} is a ${sa.kind} step in A and a ${sb.kind} step in B (different prompts?)`);
    }
    if (sa.variant.id !== sb.variant.id) {
      throw new TraceAlignError(
        `the traces cannot be aligned: ${where} runs variant ${sa.variant.id} in A and ${sb.variant.id} in B (models with other AR/CL variants)`,
      );
    }
    if (sa.nValid !== sb.nValid || sa.nNew !== sb.nNew || sa.embeddingRows !== sb.embeddingRows) {
      throw new TraceAlignError(
        `the traces cannot be aligned: ${where} processes entries ${sa.nValid}..${sa.nValid + sa.nNew - 1} in A and ` +
          `${sb.nValid}..${sb.nValid + sb.nNew - 1} in B (different prompts?)`,
      );
    }
    const tokenAt = sa.tokens.findIndex((t, k) => t !== sb.tokens[k]);
    if (tokenAt !== -1 || sa.tokens.length !== sb.tokens.length) {
      const k = tokenAt === -1 ? Math.min(sa.tokens.length, sb.tokens.length) : tokenAt;
      if (sa.kind === 'prefill') {
        throw new TraceAlignError(
          `the traces cannot be aligned: different prompts: ${where} feeds token ${sa.tokens[k] ?? 'none'} in A and ` +
            `${sb.tokens[k] ?? 'none'} in B at position ${sa.positions.first + k}`,
        );
      }
      notes.push(
        `the runs sampled different tokens: ${where} feeds ${sa.tokens[k]} in A and ${sb.tokens[k]} in B; ` +
          `steps ${i} and later are not compared (run both with --force-tokens to keep them aligned)`,
      );
      return i;
    }
  }
  if (a.steps.length !== b.steps.length) {
    notes.push(`trace ${a.steps.length > b.steps.length ? 'A' : 'B'} has ${Math.abs(a.steps.length - b.steps.length)} more steps (not compared)`);
  }
  return count;
}

function tensorDiff(ta: StepTensorValues, tb: StepTensorValues, step: TracedStep, index: number, minSqnrDb: number): TensorDiff {
  const { tensor } = ta;
  if (tensor.shape.join() !== tb.tensor.shape.join()) {
    throw new TraceAlignError(
      `the traces cannot be aligned: at step ${index}, tensor "${tensor.name}" is [${tensor.shape.join(', ')}] in A and ` +
        `[${tb.tensor.shape.join(', ')}] in B (different models)`,
    );
  }
  const a = ta.values;
  const b = tb.values;
  const base = { name: tensor.name, role: tensor.role, direction: tensor.direction, graph: ta.graph, elements: a.length };
  if (tensor.role === 'attention_mask') {
    const pa = maskPattern(a);
    const pb = maskPattern(b);
    let mismatches = 0;
    for (let i = 0; i < pa.length; i++) if (pa[i] !== pb[i]) mismatches++;
    const metrics = tensorMetrics(Float32Array.from(pa), Float32Array.from(pb));
    return { ...base, ...metrics, comparison: 'mask', mismatches, parts: mismatches === 0 ? null : `${mismatches} mask elements attend in one run and are masked in the other` };
  }
  if (EXACT_ROLES.has(tensor.role)) {
    const mismatches = countUnequal(a, b);
    return { ...base, ...tensorMetrics(a, b), comparison: 'exact', mismatches, parts: mismatches === 0 ? null : `${mismatches} of ${a.length} values differ` };
  }
  if (tensor.role !== 'logits') {
    const metrics = tensorMetrics(a, b);
    const parts = metrics.sqnrDb < minSqnrDb ? `SQNR ${formatDb(metrics.sqnrDb)} dB < ${minSqnrDb} dB` : null;
    return { ...base, ...metrics, comparison: 'values', mismatches: countUnequal(a, b), parts };
  }
  // Logits: the step's valid rows only (rows past nNew belong to padding entries, which nothing reads).
  const vocab = tensor.shape[tensor.shape.length - 1];
  const rows = a.length / vocab;
  const valid = rows === 1 ? 1 : step.nNew;
  const [va, vb] = [a.subarray(0, valid * vocab), b.subarray(0, valid * vocab)];
  const metrics = tensorMetrics(va, vb);
  const row = valid - 1;
  const argmaxes = { a: argmax(a, row * vocab, vocab), b: argmax(b, row * vocab, vocab) };
  let parts = metrics.sqnrDb < minSqnrDb ? `SQNR ${formatDb(metrics.sqnrDb)} dB < ${minSqnrDb} dB` : null;
  if (argmaxes.a !== argmaxes.b) parts = `the logits' argmax is ${argmaxes.a} in A and ${argmaxes.b} in B${parts === null ? '' : `; ${parts}`}`;
  return { ...base, elements: va.length, ...metrics, comparison: 'values', mismatches: countUnequal(va, vb), argmax: argmaxes, parts };
}

function countUnequal(a: Float32Array, b: Float32Array): number {
  let count = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) count++;
  return count;
}

/** `31.42`, `inf`, `-inf`. */
export function formatDb(db: number): string {
  if (db === Number.POSITIVE_INFINITY) return 'inf';
  if (db === Number.NEGATIVE_INFINITY) return '-inf';
  return db.toFixed(2);
}
