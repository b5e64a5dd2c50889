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
import { parseCtxBinMetadata } from './metadata.js';
import { planCtxBin, type CtxBinPlan, type PlannedGraph, type RunnableGraph } from './program.js';
import { readWeights, type WeightSource } from './weights.js';

export type { RunnableGraph } from './program.js';

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
  readonly plan: CtxBinPlan;
}

function parseCtxBin(bytes: Uint8Array, label: string): ParsedCtxBin {
  const image = parseSafetensorsImage(bytes, label);
  return { image, plan: planCtxBin(parseCtxBinMetadata(image.metadata, label), 0, label) };
}

/**
 * The graphs of the reference ctx-bin in `bytes`, validated as on load (container, metadata, each
 * graph's IO); weights are not read. Throws `CtxBinError` naming `label` and the key.
 */
export function readCtxBinGraphs(bytes: Uint8Array, label: string): readonly GraphSpec[] {
  return parseCtxBin(bytes, label).plan.specs;
}

/** A reference ctx-bin loaded from memory: its graphs, runnable on caller-provided IO bytes. */
export class ReferenceCtxBinProgram {
  readonly graphs: readonly GraphSpec[];
  private readonly planned: ReadonlyMap<string, PlannedGraph>;

  constructor(graphs: readonly PlannedGraph[]) {
    this.graphs = graphs.map((graph) => graph.spec);
    this.planned = new Map(graphs.map((graph) => [graph.spec.name, graph]));
  }

  /**
   * Binds graph `graph` to `buffers` (tensor name -> bytes, each at least the tensor's size and
   * element-aligned); throws `InvalidArgumentError` naming the graph and tensor otherwise.
   */
  bind(graph: string, buffers: ReadonlyMap<string, Uint8Array>): RunnableGraph {
    const planned = this.planned.get(graph);
    if (planned === undefined) {
      throw new InvalidArgumentError(`bind: unknown graph "${graph}" (graphs: ${[...this.planned.keys()].join(', ')})`);
    }
    return planned.bind(buffers);
  }
}

/**
 * Loads the reference ctx-bin in `bytes` (graphs and the weights they use). F32 weights are views
 * of `bytes` when aligned, so `bytes` must stay unchanged while the program is used. Throws
 * `CtxBinError` naming `label` and the key.
 */
export function loadCtxBinProgram(bytes: Uint8Array, label: string): ReferenceCtxBinProgram {
  const { image, plan } = parseCtxBin(bytes, label);
  return new ReferenceCtxBinProgram(plan.graphs(readWeights(image, plan.weightReads((name) => image.tensors.has(name)))));
}
