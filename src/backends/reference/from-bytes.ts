/**
 * Reference ctx-bins read from their bytes instead of a path: what a simulated QNN provider gets
 * in `contextCreateFromBinary` / `systemContextGetBinaryInfo`. Synchronous, because a provider
 * answers from inside a native call. The container is the same safetensors layout the file reader
 * handles (parsed by the same code); weights must be F32, F16 or BF16.
 */
import { InvalidArgumentError } from '../../errors.js';
import { SafetensorsError } from '../../formats/errors.js';
import {
  isFloatDType,
  parseSafetensorsBytes,
  tensorToFloat32,
  type SafetensorsFloatDType,
  type SafetensorsLayout,
  type SafetensorsTensorInfo,
} from '../../formats/safetensors.js';
import type { GraphSpec } from '../../graphs/spec.js';
import { CtxBinError } from './errors.js';
import { BoundGraph, checkBuffers } from './executor.js';
import { parseCtxBinMetadata } from './metadata.js';
import type { ReferenceModel } from './model.js';
import { planGraph, type GraphPlan } from './plan.js';
import { readPartWeights, weightNeedsOf, type PartWeights, type WeightSource } from './weights.js';

interface WeightInfo extends SafetensorsTensorInfo {
  readonly dtype: SafetensorsFloatDType;
}

/** A safetensors image in memory whose tensors are all float weights, read as float32. */
class SafetensorsImage implements WeightSource<Float32Array> {
  constructor(
    private readonly bytes: Uint8Array,
    readonly path: string,
    private readonly dataStart: number,
    readonly metadata: Readonly<Record<string, string>>,
    readonly tensors: ReadonlyMap<string, WeightInfo>,
  ) {}

  /** A view of `bytes` for aligned F32 tensors, a new array otherwise. */
  readFloat32(name: string): Float32Array {
    const { dtype, begin, end } = this.tensors.get(name)!;
    return tensorToFloat32(dtype, this.bytes.subarray(this.dataStart + begin, this.dataStart + end));
  }
}

/**
 * Parses the safetensors container in `bytes` and checks every tensor is a float weight; throws
 * `CtxBinError` naming `label` and the problem (a `SafetensorsError` is kept as the `cause`).
 */
function parseSafetensorsImage(bytes: Uint8Array, label: string): SafetensorsImage {
  let layout: SafetensorsLayout;
  try {
    layout = parseSafetensorsBytes(bytes, label);
  } catch (error) {
    if (!(error instanceof SafetensorsError)) throw error;
    throw new CtxBinError(`reference ctx-bin "${label}": ${error.message}`, { cause: error });
  }
  const weights = new Map<string, WeightInfo>();
  for (const [name, info] of layout.tensors) {
    const { dtype } = info;
    if (!isFloatDType(dtype)) {
      throw new CtxBinError(
        `reference ctx-bin "${label}": tensor "${name}": dtype ${dtype} is not a float weight dtype (F32, F16, BF16)`,
      );
    }
    weights.set(name, { ...info, dtype });
  }
  return new SafetensorsImage(bytes, label, layout.dataStart, layout.metadata, weights);
}

interface ParsedCtxBin {
  readonly image: SafetensorsImage;
  readonly model: ReferenceModel;
  readonly plans: readonly GraphPlan[];
}

function parseCtxBin(bytes: Uint8Array, label: string): ParsedCtxBin {
  const image = parseSafetensorsImage(bytes, label);
  const { model, graphs } = parseCtxBinMetadata(image.metadata, label);
  return { image, model, plans: graphs.map((graph, i) => planGraph(graph, i, 0, model, label)) };
}

/**
 * The graphs of the reference ctx-bin in `bytes`, validated as on load (container, metadata, each
 * graph's IO); weights are not read. Throws `CtxBinError` naming `label` and the key.
 */
export function readCtxBinGraphs(bytes: Uint8Array, label: string): readonly GraphSpec[] {
  return parseCtxBin(bytes, label).plans.map((plan) => plan.spec);
}

/** One graph bound to byte views of its IO; `run` reads the inputs and writes the outputs. */
export interface RunnableGraph {
  run(): void;
}

/** A reference ctx-bin loaded from memory: its graphs, runnable on caller-provided IO bytes. */
export class ReferenceCtxBinProgram {
  readonly graphs: readonly GraphSpec[];
  private readonly plans: ReadonlyMap<string, GraphPlan>;

  constructor(
    plans: readonly GraphPlan[],
    private readonly model: ReferenceModel,
    private readonly weights: PartWeights,
  ) {
    this.graphs = plans.map((plan) => plan.spec);
    this.plans = new Map(plans.map((plan) => [plan.spec.name, plan]));
  }

  /**
   * Binds graph `graph` to `buffers` (tensor name -> bytes, each at least the tensor's size and
   * element-aligned); throws `InvalidArgumentError` naming the graph and tensor otherwise.
   */
  bind(graph: string, buffers: ReadonlyMap<string, Uint8Array>): RunnableGraph {
    const plan = this.plans.get(graph);
    if (plan === undefined) {
      throw new InvalidArgumentError(`bind: unknown graph "${graph}" (graphs: ${[...this.plans.keys()].join(', ')})`);
    }
    checkBuffers(plan, buffers);
    return new BoundGraph(plan, this.model, this.weights, buffers);
  }
}

/**
 * Loads the reference ctx-bin in `bytes` (graphs and the weights they use). F32 weights are views
 * of `bytes` when aligned, so `bytes` must stay unchanged while the program is used. Throws
 * `CtxBinError` naming `label` and the key.
 */
export function loadCtxBinProgram(bytes: Uint8Array, label: string): ReferenceCtxBinProgram {
  const { image, model, plans } = parseCtxBin(bytes, label);
  return new ReferenceCtxBinProgram(plans, model, readPartWeights(image, model, weightNeedsOf(plans)));
}
