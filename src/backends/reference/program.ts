/**
 * A reference ctx-bin's graphs, planned once per model kind (Qwen2 decoder or vision): their
 * specs, the weights they read, and how each binds to IO buffers. The file-backed backend and the
 * in-memory program (a simulated QNN provider's) share it.
 */
import { InvalidArgumentError } from '../../errors.js';
import { tensorByteLength } from '../../graphs/sizes.js';
import type { GraphSpec } from '../../graphs/spec.js';
import { byteSize } from '../../tensor/dtype.js';
import { BoundGraph } from './executor.js';
import type { ReferenceCtxBinMetadata } from './metadata.js';
import type { ReferenceModel } from './model.js';
import { planGraph } from './plan.js';
import type { LinearPool } from './thread-pool.js';
import { BoundVisionGraph } from './vision-executor.js';
import type { ReferenceVisionModel } from './vision-model.js';
import { planVisionGraph } from './vision-plan.js';
import { visionWeightReads, type VisionWeights } from './vision-weights.js';
import { partWeightReads, weightNeedsOf, type PartWeights, type WeightReads } from './weights.js';

/** One graph bound to byte views of its IO; `run` reads the inputs and writes the outputs. */
export interface RunnableGraph {
  run(): void;
}

/** A planned graph with its weights: binds to IO buffers. */
export interface PlannedGraph {
  readonly spec: GraphSpec;
  /**
   * Binds the graph to `buffers` (tensor name -> bytes, each at least the tensor's size and
   * element-aligned); throws `InvalidArgumentError` naming the graph and tensor otherwise.
   */
  bind(buffers: ReadonlyMap<string, Uint8Array>): RunnableGraph;
}

/** The graphs of one ctx-bin, planned, before their weights are read. */
export interface CtxBinPlan<W = unknown> {
  readonly specs: readonly GraphSpec[];
  /** The weights the graphs use; `has` tells whether the file holds a tensor. */
  weightReads(has: (name: string) => boolean): WeightReads<W>;
  /** The graphs, given the weights `weightReads` returned. */
  graphs(weights: W): PlannedGraph[];
}

/**
 * Checks that `buffers` covers every IO tensor of `spec` with enough, aligned bytes; throws
 * `InvalidArgumentError` naming graph, tensor and byte counts.
 */
export function checkBuffers(spec: GraphSpec, buffers: ReadonlyMap<string, Uint8Array>): void {
  const graph = spec.name;
  for (const tensor of [...spec.inputs, ...spec.outputs]) {
    const bytes = buffers.get(tensor.name);
    if (bytes === undefined) throw new InvalidArgumentError(`bind "${graph}": no buffer for tensor "${tensor.name}"`);
    const expected = tensorByteLength(tensor);
    if (bytes.byteLength < expected) {
      throw new InvalidArgumentError(
        `bind "${graph}": buffer for tensor "${tensor.name}" has ${bytes.byteLength} bytes, expected at least ${expected}`,
      );
    }
    const align = byteSize(tensor.dtype);
    if (bytes.byteOffset % align !== 0) {
      throw new InvalidArgumentError(
        `bind "${graph}": buffer for tensor "${tensor.name}" starts at byte offset ${bytes.byteOffset}, not aligned to ${align}`,
      );
    }
  }
}

function decoderPlan(metadata: ReferenceCtxBinMetadata<ReferenceModel>, ctxBin: number, file: string, pool?: LinearPool): CtxBinPlan<PartWeights> {
  const { model } = metadata;
  const plans = metadata.graphs.map((graph, i) => planGraph(graph, i, ctxBin, model, file));
  return {
    specs: plans.map((plan) => plan.spec),
    weightReads: (has) => partWeightReads(model, weightNeedsOf(plans), has),
    graphs: (weights) =>
      plans.map((plan) => ({
        spec: plan.spec,
        bind: (buffers) => {
          checkBuffers(plan.spec, buffers);
          return new BoundGraph(plan, model, weights, buffers, pool);
        },
      })),
  };
}

function visionPlan(metadata: ReferenceCtxBinMetadata<ReferenceVisionModel>, ctxBin: number, file: string): CtxBinPlan<VisionWeights> {
  const { model } = metadata;
  const plans = metadata.graphs.map((graph, i) => planVisionGraph(graph, i, ctxBin, model, file));
  return {
    specs: plans.map((plan) => plan.spec),
    weightReads: () => visionWeightReads(model, plans),
    graphs: (weights) =>
      plans.map((plan) => ({
        spec: plan.spec,
        bind: (buffers) => {
          checkBuffers(plan.spec, buffers);
          return new BoundVisionGraph(plan, model, weights, buffers);
        },
      })),
  };
}

/**
 * Plans every graph of a ctx-bin (graph `ctxBin` of the backend's list) for its model kind; throws
 * `CtxBinError` naming `file` and the key when a graph's IO does not fit its stages. Decoder graphs
 * run their matrix products on `pool` (its weights must come through `pool.share`).
 */
export function planCtxBin(metadata: ReferenceCtxBinMetadata, ctxBin: number, file: string, pool?: LinearPool): CtxBinPlan {
  return metadata.model.architecture === 'vision'
    ? visionPlan(metadata as ReferenceCtxBinMetadata<ReferenceVisionModel>, ctxBin, file)
    : decoderPlan(metadata as ReferenceCtxBinMetadata<ReferenceModel>, ctxBin, file, pool);
}
