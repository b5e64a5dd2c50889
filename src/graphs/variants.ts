/**
 * Groups classified decoder graphs into (AR, CL) variants and orders each variant's parts by the
 * numbers in `_i_of_N` (Genie sorts names as strings, which puts `_10_of_12` before `_2_of_12`).
 */
import type { DecoderGraphInfo } from './classify.js';
import { ModelLayoutError } from './errors.js';

export interface VariantGroup {
  readonly id: string;
  readonly ar: number;
  readonly cl: number;
  /** In split order. */
  readonly parts: readonly DecoderGraphInfo[];
}

export function variantId(ar: number, cl: number): string {
  return `ar${ar}_cl${cl}`;
}

/**
 * A graph whose CL neither shapes nor name reveal (an embedding or LM-head part) joins every CL that
 * has graphs of its AR, as Genie replicates it. Result sorted by CL, then AR.
 * @throws ModelLayoutError for an undeterminable CL, unorderable or duplicate splits, or variants whose
 *   split counts differ.
 */
export function groupVariants(graphs: readonly DecoderGraphInfo[]): VariantGroup[] {
  const members = new Map<string, { ar: number; cl: number; parts: DecoderGraphInfo[] }>();
  for (const info of graphs) {
    if (info.cl === undefined) continue;
    const id = variantId(info.ar, info.cl);
    const group = members.get(id) ?? { ar: info.ar, cl: info.cl, parts: [] };
    group.parts.push(info);
    members.set(id, group);
  }
  for (const info of graphs) {
    if (info.cl !== undefined) continue;
    const targets = [...members.values()].filter((g) => g.ar === info.ar);
    if (targets.length === 0) {
      throw new ModelLayoutError(
        `cannot determine the context length (CL) of graph "${info.graph.name}" (AR=${info.ar}): it has no ` +
          `attention_mask or KV tensors to measure and no "cl<N>" in its name, and no other graph with AR=${info.ar} has a CL`,
      );
    }
    for (const g of targets) g.parts.push(info);
  }
  const groups = [...members.entries()]
    .map(([id, g]) => ({ id, ar: g.ar, cl: g.cl, parts: orderSplits(id, g.parts) }))
    .sort((a, b) => a.cl - b.cl || a.ar - b.ar);
  checkSameSplits(groups);
  return groups;
}

function orderSplits(id: string, parts: readonly DecoderGraphInfo[]): DecoderGraphInfo[] {
  if (parts.length === 1) return [...parts];
  const unsplit = parts.find((p) => p.split === undefined);
  if (unsplit !== undefined) {
    const other = parts.find((p) => p !== unsplit)!;
    throw new ModelLayoutError(
      `graphs "${unsplit.graph.name}" and "${other.graph.name}" both belong to variant ${id}, but ` +
        `"${unsplit.graph.name}" has no "_<i>_of_<N>" in its name to order it among the splits`,
    );
  }
  const ordered = [...parts].sort((a, b) => a.split!.index - b.split!.index);
  for (let i = 1; i < ordered.length; i++) {
    const [a, b] = [ordered[i - 1], ordered[i]];
    if (a.split!.count !== b.split!.count) {
      throw new ModelLayoutError(
        `variant ${id}: graph "${a.graph.name}" is split ${a.split!.index} of ${a.split!.count} but graph ` +
          `"${b.graph.name}" is split ${b.split!.index} of ${b.split!.count}`,
      );
    }
    if (a.split!.index === b.split!.index) {
      throw new ModelLayoutError(
        `variant ${id}: graphs "${a.graph.name}" and "${b.graph.name}" are both split ${a.split!.index} of ${a.split!.count}`,
      );
    }
  }
  return ordered;
}

function checkSameSplits(groups: readonly VariantGroup[]): void {
  const [first] = groups;
  const describe = (g: VariantGroup): string =>
    `${g.parts.length} part(s) (${g.parts.map((p) => `"${p.graph.name}"`).join(', ')})`;
  const indices = (g: VariantGroup): string => g.parts.map((p) => p.split?.index ?? 1).join(',');
  for (const g of groups) {
    if (g.parts.length !== first.parts.length || indices(g) !== indices(first)) {
      throw new ModelLayoutError(
        `inconsistent split counts across variants: ${first.id} has ${describe(first)} but ${g.id} has ${describe(g)}`,
      );
    }
  }
}
