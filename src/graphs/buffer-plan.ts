/**
 * One allocation plan for all graphs (docs/genie-behaviour.md#buffer-plan-and-shared-memory): every
 * tensor name gets one buffer shared by the graphs that use it, sized to the largest of them; every
 * KV tensor pair gets one region `[in | out]` whose in/out boundary moves with the variant (past
 * dim = CL - AR or CL).
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

export interface BufferPlan {
  /** Plain tensor buffers (first-seen order over the graphs), then KV regions in `ModelLayout.kv` order. */
  readonly buffers: readonly PlannedBuffer[];
  readonly totalBytes: number;
  /** Graph name -> tensor name -> placement, for every IO tensor of every graph (for `GraphBackend.bind`). */
  readonly placements: ReadonlyMap<string, ReadonlyMap<string, TensorPlacement>>;
}

export function planBuffers(layout: ModelLayout): BufferPlan {
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

  for (const info of layout.graphs.values()) {
    const graph = info.graph;
    const byName = new Map<string, TensorSpec>([...graph.inputs, ...graph.outputs].map((t) => [t.name, t]));
    const placed = new Map<string, TensorPlacement>();
    for (const spec of byName.values()) {
      const kv = regionOf.get(spec.name);
      const byteLength = tensorByteLength(spec);
      if (kv === undefined) {
        tensorSizes.set(spec.name, Math.max(tensorSizes.get(spec.name) ?? 0, byteLength));
        placed.set(spec.name, { buffer: spec.name, byteOffset: 0, byteLength });
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
  return { buffers, totalBytes: buffers.reduce((sum, b) => sum + b.byteLength, 0), placements };
}
