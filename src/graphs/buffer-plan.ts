/**
 * One allocation plan for all graphs (docs/genie-behaviour.md#buffer-plan-and-shared-memory): every
 * tensor name gets one buffer shared by the graphs that use it, sized to the largest of them; every
 * KV tensor pair gets one region `[in | out]` whose in/out boundary moves with the variant (past
 * dim = CL - AR or CL).
 *
 * One exception, for a backend that executes off the JS thread (`firstPartCopies`): a step-position
 * input (attention mask, cos/sin, position_ids, cache_index: values that follow from where a step's
 * entries go, never from its tokens) read both by the variants' first parts and by later parts gets
 * a second buffer, `firstPartBuffer(name)`, for the first parts. The first part of a step ends while
 * the later ones still run: from then on its copy can be written for the next step (see `Engine`'s
 * filling ahead), so that only what depends on the sampled token is written between the NPU's end
 * and the next submission. A backend executing on the JS thread gets no copies: nothing could write
 * them beside a graph, and each step would write both.
 */
import type { ModelLayout } from './layout.js';
import { tensorByteLength } from './sizes.js';
import type { TensorSpec } from './spec.js';

export type PlannedBuffer =
  | { readonly kind: 'tensor'; readonly name: string; readonly byteLength: number }
  | {
    readonly kind: 'kv-region';
    /** The KV tensor name without `_in`/`_out`, e.g. `past_key_3`. */
    readonly name: string;
    /** Largest `in + out` over the graphs. */
    readonly byteLength: number;
    /** Index into `ModelLayout.kv`. */
    readonly slot: number;
    readonly tensor: 'key' | 'value';
    readonly in: string;
    readonly out: string;
    /** Byte offset of the `_out` tensor (= byte size of `_in`) by `Variant.id`; `_in` is at 0. */
    readonly outOffsets: ReadonlyMap<string, number>;
  };

/** Where one IO tensor of one graph lives. */
export interface TensorPlacement {
  readonly buffer: string;
  readonly byteOffset: number;
  readonly byteLength: number;
}

/** Which buffers the graphs of a step-position input read (null: no such graph). */
export interface StepInputBuffers {
  /** The buffer the variants' first parts read. */
  readonly first: string | null;
  /** The buffer the later parts read when it is not `first` (with `firstPartCopies`, or when no first part reads it). */
  readonly rest: string | null;
}

export interface BufferPlan {
  /** Plain tensor buffers (first-seen order over the graphs), then KV regions in `ModelLayout.kv` order. */
  readonly buffers: readonly PlannedBuffer[];
  readonly totalBytes: number;
  /** Graph name -> tensor name -> placement, for every IO tensor of every graph (for `GraphBackend.bind`). */
  readonly placements: ReadonlyMap<string, ReadonlyMap<string, TensorPlacement>>;
  /** Per step-position input of the layout (by tensor name), the buffers its readers use. */
  readonly stepInputs: ReadonlyMap<string, StepInputBuffers>;
}

/** The name of the buffer a step-position input's first-part copy lives in (the `@` suffix keeps it apart from tensor names). */
export function firstPartBuffer(tensor: string): string {
  return `${tensor}@first-part`;
}

/** The layout's step-position inputs: their values follow from the step's variant, slots and positions only. */
function stepPositionInputs(layout: ModelLayout): Set<string> {
  const tensors = [layout.attentionMask, layout.positionCos, layout.positionSin, layout.positionIds, layout.cacheIndex];
  return new Set(tensors.flatMap((t) => (t === undefined ? [] : [t.name])));
}

export interface BufferPlanOptions {
  /** Give the first parts their own copy of the step-position inputs later parts read too (default false). */
  readonly firstPartCopies?: boolean;
}

export function planBuffers(layout: ModelLayout, options: BufferPlanOptions = {}): BufferPlan {
  const regionOf = new Map<string, { slot: number; tensor: 'key' | 'value'; direction: 'in' | 'out' }>();
  layout.kv.forEach((s, slot) => {
    for (const tensor of ['key', 'value'] as const) {
      regionOf.set(s[tensor].in, { slot, tensor, direction: 'in' });
      regionOf.set(s[tensor].out, { slot, tensor, direction: 'out' });
    }
  });

  const tensorSizes = new Map<string, number>();
  const regionSizes = new Map<string, number>();
  const outOffsets = new Map<string, Map<string, number>>();
  const placements = new Map<string, Map<string, TensorPlacement>>();
  const graphVariant = new Map<string, string>();
  for (const v of layout.variants) for (const g of v.parts) graphVariant.set(g.name, v.id);
  const firstParts = new Set(layout.variants.map((v) => v.parts[0].name));
  const positional = stepPositionInputs(layout);
  const readers = new Map([...positional].map((name) => [name, { first: false, rest: false }]));
  for (const info of layout.graphs.values()) {
    for (const input of info.graph.inputs) {
      const reader = readers.get(input.name);
      if (reader !== undefined && graphVariant.has(info.graph.name)) reader[firstParts.has(info.graph.name) ? 'first' : 'rest'] = true;
    }
  }
  const stepInputs = new Map<string, StepInputBuffers>();
  for (const [name, { first, rest }] of readers) {
    if (!first) stepInputs.set(name, { first: null, rest: rest ? name : null });
    else if (rest && options.firstPartCopies === true) stepInputs.set(name, { first: firstPartBuffer(name), rest: name });
    else stepInputs.set(name, { first: name, rest: null });
  }

  for (const info of layout.graphs.values()) {
    const graph = info.graph;
    const byName = new Map<string, TensorSpec>([...graph.inputs, ...graph.outputs].map((t) => [t.name, t]));
    const placed = new Map<string, TensorPlacement>();
    for (const spec of byName.values()) {
      const kv = regionOf.get(spec.name);
      const byteLength = tensorByteLength(spec);
      if (kv === undefined) {
        const buffer = firstParts.has(graph.name) ? (stepInputs.get(spec.name)?.first ?? spec.name) : spec.name;
        tensorSizes.set(buffer, Math.max(tensorSizes.get(buffer) ?? 0, byteLength));
        placed.set(spec.name, { buffer, byteOffset: 0, byteLength });
        continue;
      }
      const s = layout.kv[kv.slot][kv.tensor];
      const inBytes = tensorByteLength(byName.get(s.in)!);
      const region = s.region;
      regionSizes.set(region, Math.max(regionSizes.get(region) ?? 0, inBytes + tensorByteLength(byName.get(s.out)!)));
      if (kv.direction === 'out') {
        const offsets = outOffsets.get(region) ?? new Map<string, number>();
        offsets.set(graphVariant.get(graph.name)!, inBytes);
        outOffsets.set(region, offsets);
      }
      placed.set(spec.name, { buffer: region, byteOffset: kv.direction === 'in' ? 0 : inBytes, byteLength });
    }
    placements.set(graph.name, placed);
  }

  const buffers: PlannedBuffer[] = [...tensorSizes].map(([name, byteLength]) => ({ kind: 'tensor', name, byteLength }));
  layout.kv.forEach((s, slot) => {
    for (const tensor of ['key', 'value'] as const) {
      const t = s[tensor];
      buffers.push({
        kind: 'kv-region', name: t.region, byteLength: regionSizes.get(t.region)!, slot, tensor, in: t.in, out: t.out,
        outOffsets: outOffsets.get(t.region)!,
      });
    }
  });
  return { buffers, totalBytes: buffers.reduce((sum, b) => sum + b.byteLength, 0), placements, stepInputs };
}
