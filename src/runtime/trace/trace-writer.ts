import { closeSync, existsSync, mkdirSync, openSync, readdirSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { GenieError, systemErrorReason } from '../../errors.js';
import { safetensorsPieces, type RawTensor, type SafetensorsDType } from '../../formats/safetensors.js';
import type { DataTypeName } from '../../tensor/dtype.js';
import type { StepEvent, StepListener, StepTensor } from '../engine/step-event.js';

/** The trace folder cannot be used (not empty, not creatable); writes that fail reach the query as `StepListenerError`. */
export class TraceError extends GenieError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TRACE', message, options);
  }
}

/** The index file of a trace folder. */
export const TRACE_INDEX = 'trace.json';

/** Safetensors dtype of each QNN dtype: the tensor's codes as they are (encodings go in the index). */
const SAFETENSORS_DTYPE: Readonly<Record<DataTypeName, SafetensorsDType>> = {
  INT_8: 'I8', INT_16: 'I16', INT_32: 'I32', INT_64: 'I64',
  UINT_8: 'U8', UINT_16: 'U16', UINT_32: 'U32', UINT_64: 'U64',
  FLOAT_16: 'F16', BFLOAT_16: 'BF16', FLOAT_32: 'F32',
  SFIXED_POINT_8: 'I8', SFIXED_POINT_16: 'I16', SFIXED_POINT_32: 'I32',
  UFIXED_POINT_8: 'U8', UFIXED_POINT_16: 'U16', UFIXED_POINT_32: 'U32',
  BOOL_8: 'BOOL',
};

/** Tensor classes a trace can keep: KV cache tensors, logits, the other inputs, the other outputs. */
export const TRACE_TENSOR_CLASSES = ['inputs', 'outputs', 'kv', 'logits'] as const;
export type TraceTensorClass = (typeof TRACE_TENSOR_CLASSES)[number];

export interface TraceOptions {
  /** Most tensor bytes written (default 512 MiB); steps past it are indexed without their tensors. */
  readonly maxBytes?: number;
  /** The tensor classes written (default all); the index lists every tensor. */
  readonly tensors?: readonly TraceTensorClass[];
  /** The step indices whose tensors are written, inclusive (default all); every step is indexed. */
  readonly steps?: { readonly first: number; readonly last: number };
}

/** A tensor's trace class: by its role (KV, logits), else by its direction. */
export function traceTensorClass(t: Pick<StepTensor, 'role' | 'direction'>): TraceTensorClass {
  if (t.role === 'kv') return 'kv';
  if (t.role === 'logits') return 'logits';
  return t.direction === 'input' ? 'inputs' : 'outputs';
}

/** One tensor of a traced step in the index. */
interface IndexedTensor {
  readonly name: string;
  readonly direction: 'input' | 'output';
  readonly role: StepTensor['role'];
  /** QNN dtype; the safetensors file holds its codes (`safetensorsDtype`). */
  readonly dtype: DataTypeName;
  readonly safetensorsDtype: SafetensorsDType;
  readonly shape: readonly number[];
  /** Fixed-point: `float = (q + offset) * scale`. */
  readonly encoding?: { readonly scale: number; readonly offset: number };
  /** In the trace's tensor classes (written in the step's file when the step is). */
  readonly kept: boolean;
}

/** What a finished trace holds. */
export interface TraceSummary {
  readonly dir: string;
  readonly steps: number;
  /** Steps whose tensors were written. */
  readonly stepsWithTensors: number;
  readonly tensorBytes: number;
  /** The first step left without tensors by the size cap, or null. */
  readonly cappedAtStep: number | null;
}

/** Format name and version of `trace.json` (the reader checks both). */
export const TRACE_FORMAT = 'genie-ts trace';
export const TRACE_VERSION = 1;

/**
 * Writes a trace of every graph step into `dir` as the query runs: one safetensors file per step
 * (`step-00000.safetensors`, each bound tensor once, keyed by tensor name, in its own dtype) and
 * `trace.json`: the steps (kind, variant, slots, positions, tokens, timings), each split's graph and
 * tensors (dtype, shape, encoding) and what the size cap left out. The index is rewritten as the run
 * goes (a temporary file renamed over it, so it is always whole): after every step until it holds
 * 32, then whenever the steps not yet in it reach 1/16 of those it holds (a run that dies loses at
 * most that many steps from the index, and the rewrites stay linear in the run's length). `complete` is
 * false until `finish()`. The folder is created; an existing one must be empty.
 */
export class TraceWriter {
  readonly dir: string;
  readonly maxBytes: number;
  readonly tensorClasses: ReadonlySet<TraceTensorClass>;
  readonly stepRange: { readonly first: number; readonly last: number };
  /** Pass as `QueryOptions.onStep` (or to `Engine.setStepListener`). */
  readonly listener: StepListener;
  private readonly steps: object[] = [];
  private tensorBytes = 0;
  private stepsWithTensors = 0;
  private cappedAtStep: number | null = null;
  /** Steps in the index on disk. */
  private indexedSteps = 0;

  constructor(dir: string, options: TraceOptions = {}) {
    this.dir = dir;
    this.maxBytes = options.maxBytes ?? 512 * 2 ** 20;
    this.tensorClasses = new Set(options.tensors ?? TRACE_TENSOR_CLASSES);
    this.stepRange = options.steps ?? { first: 0, last: Number.POSITIVE_INFINITY };
    try {
      if (existsSync(dir) && readdirSync(dir).length > 0) throw new TraceError(`trace folder "${dir}" is not empty (give a new or empty folder)`);
      mkdirSync(dir, { recursive: true });
    } catch (error) {
      if (error instanceof TraceError) throw error;
      throw new TraceError(`cannot create the trace folder "${dir}": ${(error as Error).message}`, { cause: error });
    }
    this.listener = (event) => this.record(event);
  }

  /** Writes the final index (`complete: true`); returns what the trace holds. */
  finish(): TraceSummary {
    this.writeIndex(true);
    return {
      dir: this.dir, steps: this.steps.length, stepsWithTensors: this.stepsWithTensors, tensorBytes: this.tensorBytes, cappedAtStep: this.cappedAtStep,
    };
  }

  private writeIndex(complete: boolean): void {
    const index = {
      format: TRACE_FORMAT,
      version: TRACE_VERSION,
      complete,
      maxBytes: this.maxBytes,
      tensorClasses: [...this.tensorClasses],
      stepRange: `${this.stepRange.first}..${Number.isFinite(this.stepRange.last) ? this.stepRange.last : ''}`,
      tensorBytes: this.tensorBytes,
      leftOut: this.cappedAtStep === null ? null : `tensors of steps ${this.cappedAtStep} and later (the size cap of ${this.maxBytes} bytes)`,
      steps: this.steps,
    };
    const path = join(this.dir, TRACE_INDEX);
    const staging = `${path}.tmp`;
    try {
      writeFileSync(staging, `${JSON.stringify(index, null, 1)}\n`);
      renameSync(staging, path);
    } catch (error) {
      throw new TraceError(`cannot write the trace index "${path}": ${systemErrorReason(error)}`, { cause: error });
    }
    this.indexedSteps = this.steps.length;
  }

  private record(event: StepEvent): void {
    const tensors = new Map<string, RawTensor>();
    const splits = event.splits.map((split) => {
      const listed: IndexedTensor[] = [];
      for (const t of split.tensors()) {
        const { dtype, shape, encoding } = t.spec;
        const kept = this.tensorClasses.has(traceTensorClass(t));
        listed.push({
          name: t.name, direction: t.direction, role: t.role, dtype, safetensorsDtype: SAFETENSORS_DTYPE[dtype], shape, ...(encoding && { encoding }), kept,
        });
        if (kept && split.executed && !tensors.has(t.name)) tensors.set(t.name, { dtype: SAFETENSORS_DTYPE[dtype], shape, data: t.bytes() });
      }
      return { graph: split.graph, kind: split.kind, executed: split.executed, executeUs: split.executeUs, tensors: listed };
    });
    let bytes = 0;
    for (const t of tensors.values()) bytes += t.data.byteLength;
    let file: string | null = null;
    // The trace's own count: a listener set on the engine for a dialog's life (dialog.debug) sees
    // event indices restart whenever another listener was set in between.
    const index = this.steps.length;
    const inRange = index >= this.stepRange.first && index <= this.stepRange.last;
    if (inRange && this.cappedAtStep === null && this.tensorBytes + bytes > this.maxBytes) this.cappedAtStep = index;
    if (inRange && this.cappedAtStep === null) {
      file = `step-${String(index).padStart(5, '0')}.safetensors`;
      writePieces(join(this.dir, file), safetensorsPieces(tensors, { step: String(index), kind: event.kind, variant: event.variant.id }));
      this.tensorBytes += bytes;
      this.stepsWithTensors++;
    }
    const { kind, variant, inputs, nValid, nNew, positions, tokens, embeddingRows, final, fillUs } = event;
    this.steps.push({ index, kind, variant, inputs, nValid, nNew, positions, tokens, embeddingRows, final, fillUs, file, splits });
    const pending = this.steps.length - this.indexedSteps;
    if (pending >= Math.max(1, Math.floor(this.indexedSteps / 16))) this.writeIndex(false);
  }
}

/** Writes a file in pieces; a file system error (a folder gone, a full disk) is a TraceError naming the file. */
function writePieces(path: string, pieces: readonly Uint8Array[]): void {
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (error) {
    throw new TraceError(`cannot write the trace file "${path}": ${systemErrorReason(error)}`, { cause: error });
  }
  try {
    for (const piece of pieces) {
      let done = 0;
      while (done < piece.byteLength) done += writeSync(fd, piece, done);
    }
  } catch (error) {
    throw new TraceError(`cannot write the trace file "${path}": ${systemErrorReason(error)}`, { cause: error });
  } finally {
    closeSync(fd);
  }
}
