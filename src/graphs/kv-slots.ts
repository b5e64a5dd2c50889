import type { KvQuad } from './classify.js';
import { ModelLayoutError } from './errors.js';
import type { KvSlotSpec, KvTensorSpec } from './layout.js';
import { dimFromEnd, leadingHeads } from './sizes.js';
import type { VariantGroup } from './variants.js';

interface SlotOrigin {
  readonly slot: KvSlotSpec;
  readonly variant: string;
  readonly graph: string;
}

/**
 * The KV slots of the model: every variant must hold the same slots, each in the same part and with
 * the same heads and head_dim (only the past dim changes with AR/CL).
 * @throws ModelLayoutError naming the variants, graphs and tensors that disagree.
 */
export function collectKvSlots(groups: readonly VariantGroup[], cacheGroups: readonly string[]): KvSlotSpec[] {
  const origins = new Map<string, SlotOrigin>();
  for (const group of groups) {
    for (const [part, info] of group.parts.entries()) {
      for (const quad of info.kv) {
        const slot = slotOf(quad, part);
        const first = origins.get(slot.key.region);
        if (first === undefined) {
          origins.set(slot.key.region, { slot, variant: group.id, graph: info.graph.name });
          continue;
        }
        const where = (o: { variant: string; graph: string }, p: number): string =>
          `part ${p + 1} ("${o.graph}") of variant ${o.variant}`;
        if (first.slot.part !== part) {
          throw new ModelLayoutError(
            `KV "${slot.key.region}" is in ${where(first, first.slot.part)} but in ${where({ variant: group.id, graph: info.graph.name }, part)}`,
          );
        }
        for (const t of ['key', 'value'] as const) {
          const [a, b] = [first.slot[t], slot[t]];
          if (a.heads !== b.heads || a.headDim !== b.headDim) {
            throw new ModelLayoutError(
              `KV "${a.region}" has ${a.heads} head(s) x head_dim ${a.headDim} in graph "${first.graph}" but ` +
                `${b.heads} head(s) x head_dim ${b.headDim} in graph "${info.graph.name}"`,
            );
          }
        }
      }
    }
  }
  checkEveryVariantHasEverySlot(groups, origins);
  const groupRank = (g: string): number => cacheGroups.indexOf(g);
  return [...origins.values()]
    .map((o) => o.slot)
    .sort((a, b) => groupRank(a.group) - groupRank(b.group) || a.layer - b.layer || (a.head ?? -1) - (b.head ?? -1));
}

function slotOf(quad: KvQuad, part: number): KvSlotSpec {
  const key: KvTensorSpec = {
    in: quad.keyIn.name,
    out: quad.keyOut.name,
    region: quad.role.region,
    dtype: quad.keyIn.dtype,
    ...(quad.keyIn.encoding && { encoding: quad.keyIn.encoding }),
    heads: leadingHeads(quad.keyIn.shape),
    headDim: dimFromEnd(quad.keyIn.shape, 2),
  };
  const value: KvTensorSpec = {
    in: quad.valueIn.name,
    out: quad.valueOut.name,
    region: quad.valueRegion,
    dtype: quad.valueIn.dtype,
    ...(quad.valueIn.encoding && { encoding: quad.valueIn.encoding }),
    heads: leadingHeads(quad.valueIn.shape),
    headDim: dimFromEnd(quad.valueIn.shape, 1),
  };
  return { group: quad.role.group, layer: quad.role.layer, head: quad.role.head, part, key, value };
}

function checkEveryVariantHasEverySlot(groups: readonly VariantGroup[], origins: ReadonlyMap<string, SlotOrigin>): void {
  for (const group of groups) {
    const present = new Set(group.parts.flatMap((p) => p.kv.map((q) => q.role.region)));
    for (const [region, origin] of origins) {
      if (!present.has(region)) {
        throw new ModelLayoutError(
          `variant ${group.id} has no KV tensors "${origin.slot.key.in}"/"${origin.slot.key.out}", which graph ` +
            `"${origin.graph}" of variant ${origin.variant} has`,
        );
      }
    }
  }
}
