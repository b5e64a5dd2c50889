import { CallbackError } from '../callbacks.js';
import type { GraphKind } from '../../graphs/classify.js';
import type { Variant } from '../../graphs/layout.js';
import { tensorRole, type TensorRole } from '../../graphs/names.js';
import type { TensorSpec } from '../../graphs/spec.js';
import type { LogitsView } from '../../sampler/logits-view.js';
import { bfloat16ArrayToFloat32 } from '../../tensor/bf16.js';
import { isFixedPoint } from '../../tensor/dtype.js';
import { float16ArrayToFloat32 } from '../../tensor/fp16.js';
import { dequantizeArray } from '../../tensor/quant.js';
import { typedView, type TypedView } from '../../tensor/views.js';
import type { CodeArray } from '../../tensor/dtype.js';

/**
 * A step listener threw (`Engine.setStepListener`, `QueryOptions.onStep`): a `CallbackError` whose
 * `callback` names the listener (`onStep` for a query's), `cause` what it threw. The step it was
 * called for is undone (no KV update); the query it belongs to rejects with this error and releases
 * the dialog, which stays usable.
 */
export class StepListenerError extends CallbackError {
  constructor(listener: string, step: string, cause: unknown) {
    super(listener, cause);
    this.message = `the ${listener} callback threw at ${step}: ${cause instanceof Error ? cause.message : String(cause)}; ` +
      'the step was cancelled before its KV update';
  }
}

/** `prefill`: a chunk of the fed sequence (token ids, or embedding rows such as an image's); `decode`: one generated token. */
export type StepKind = 'prefill' | 'decode';

/**
 * One tensor bound to a graph of the step, read in place. Every accessor throws `DisposedError`
 * once the listener has returned: the buffers are rewritten by the next step.
 */
export interface StepTensor {
  readonly name: string;
  /** `input` or `output` of the split's graph. */
  readonly direction: 'input' | 'output';
  /** What the tensor is to the runtime (`kv`, `attention_mask`, `logits`, ...; `other` for a hidden-state handoff). */
  readonly role: TensorRole['kind'];
  /** As the backend reports it: dtype, shape, encoding (fixed-point: `float = (q + offset) * scale`). */
  readonly spec: TensorSpec;
  /** The raw bytes the graph read (input) or wrote (output): a view of the engine's buffer, no copy. */
  bytes(): Uint8Array;
  /** The same memory as elements of the dtype (FLOAT_16 / BFLOAT_16 as raw uint16 bits), no copy. */
  view(): TypedView;
  /** A float32 copy: fixed-point codes dequantised, float16 / bfloat16 converted, integers as numbers. */
  toFloat32(): Float32Array;
}

/** One split (graph part) of the step's variant. */
export interface StepSplit {
  readonly graph: string;
  readonly kind: GraphKind;
  /** False for an LM-head part skipped on a prefill chunk that is not the query's last. */
  readonly executed: boolean;
  /** Wall time of the backend's `execute` (0 when not executed). */
  readonly executeUs: number;
  /** Every input, then every output, of the graph (built on the first call). */
  tensors(): readonly StepTensor[];
  tensor(name: string): StepTensor | undefined;
}

/**
 * One graph step (one planned chunk through every split of one AR/CL variant), reported to a step
 * listener after its graphs ran and before the KV commit: every bound tensor is what the graphs read
 * and wrote (KV-in does not hold this step's entries yet). The event, its tensors and the logits view
 * are valid only during the listener call: copy what you keep (`toFloat32()`, `bytes().slice()`).
 * The listener runs synchronously inside the step: engine methods called from it throw
 * `EngineBusyError`.
 */
export interface StepEvent {
  /** Steps reported to this listener before this one (within the query for `QueryOptions.onStep`). */
  readonly index: number;
  readonly kind: StepKind;
  /** The variant's id (`ar<AR>_cl<CL>`), AR and CL. */
  readonly variant: { readonly id: string; readonly ar: number; readonly cl: number };
  /** The input parts filled for the step (`Engine.inputs` names), in fill order. */
  readonly inputs: readonly string[];
  /** KV entries cached before the step; its entries go to slots nValid .. nValid + nNew - 1. */
  readonly nValid: number;
  /** Entries the step processes (the other AR - nNew rows are padding). */
  readonly nNew: number;
  /** Positions of the step's entries: first .. end - 1. */
  readonly positions: { readonly first: number; readonly end: number };
  /** Token ids among the step's entries (fed as ids or through the LUT), in order. */
  readonly tokens: readonly number[];
  /** Entries fed as caller embedding rows (image rows, an embedding query's rows, T2E rows). */
  readonly embeddingRows: number;
  /** The query's last step: the logits row is selected. */
  readonly final: boolean;
  /** Wall time the input parts took to fill the step's tensors. */
  readonly fillUs: number;
  readonly splits: readonly StepSplit[];
  /** The logits of the step's last entry (final steps; null when the LM head did not run). */
  readonly logits: LogitsView | null;
}

/** A step listener; called synchronously, its return value is ignored. */
export type StepListener = (event: StepEvent) => void;

/** Throws once the listener call the accessors belong to has ended. */
type StaleCheck = () => void;

/** A float32 copy of a tensor's elements, by its dtype (formulas in src/tensor). */
export function tensorToFloat32(bytes: Uint8Array, spec: TensorSpec): Float32Array {
  const view = typedView(bytes, spec.dtype);
  const out = new Float32Array(view.length);
  if (isFixedPoint(spec.dtype) && spec.encoding !== undefined) return dequantizeArray(view as CodeArray, out, spec.encoding);
  if (spec.dtype === 'FLOAT_16') return float16ArrayToFloat32(view as Uint16Array, out);
  if (spec.dtype === 'BFLOAT_16') return bfloat16ArrayToFloat32(view as Uint16Array, out);
  const elements = view as ArrayLike<number | bigint>;
  for (let i = 0; i < elements.length; i++) out[i] = Number(elements[i]);
  return out;
}

function stepTensor(spec: TensorSpec, direction: 'input' | 'output', bytes: Uint8Array, check: StaleCheck, groups: readonly string[]): StepTensor {
  return {
    name: spec.name,
    direction,
    role: tensorRole(spec.name, groups).kind,
    spec,
    bytes: () => (check(), bytes),
    view: () => (check(), typedView(bytes, spec.dtype)),
    toFloat32: () => (check(), tensorToFloat32(bytes, spec)),
  };
}

/** The split report of `variant.parts[p]`; tensors are looked up in `bound` (the graph's bound views) on demand. */
export function stepSplit(
  variant: Variant,
  p: number,
  executed: boolean,
  executeUs: number,
  bound: ReadonlyMap<string, Uint8Array>,
  check: StaleCheck,
  cacheGroups: readonly string[],
): StepSplit {
  const graph = variant.parts[p];
  let tensors: StepTensor[] | null = null;
  const all = (): StepTensor[] => {
    check();
    tensors ??= [
      ...graph.inputs.map((spec) => stepTensor(spec, 'input', bound.get(spec.name)!, check, cacheGroups)),
      ...graph.outputs.map((spec) => stepTensor(spec, 'output', bound.get(spec.name)!, check, cacheGroups)),
    ];
    return tensors;
  };
  return {
    graph: graph.name,
    kind: variant.kinds[p],
    executed,
    executeUs,
    tensors: all,
    tensor: (name) => all().find((t) => t.name === name),
  };
}
