import type { Encoding } from '../tensor/dtype.js';
import type { GraphInfo } from './classify.js';
import { ModelLayoutError } from './errors.js';
import { kvPartnerName } from './names.js';
import type { TensorSpec } from './spec.js';

/**
 * Same-named tensors share one buffer, and a KV `_in`/`_out` pair shares one region and is copied
 * code for code, so Genie requires them to agree on dtype and scale/offset in every graph (it
 * normalises `_in` to `_out` before comparing).
 * @throws ModelLayoutError naming both graphs, both tensors and both encodings.
 */
export function checkQuantConsistency(graphs: readonly GraphInfo[]): void {
  const seen = new Map<string, { graph: string; spec: TensorSpec }>();
  for (const info of graphs) {
    for (const { spec, role } of [...info.inputs, ...info.outputs]) {
      const key = role.kind === 'kv' && role.direction === 'in' ? kvPartnerName(role) : spec.name;
      const first = seen.get(key);
      if (first === undefined) {
        seen.set(key, { graph: info.graph.name, spec });
      } else if (first.spec.dtype !== spec.dtype || !sameEncoding(first.spec.encoding, spec.encoding)) {
        throw new ModelLayoutError(
          `tensor "${first.spec.name}" of graph "${first.graph}" (${describe(first.spec)}) and tensor "${spec.name}" ` +
            `of graph "${info.graph.name}" (${describe(spec)}) must have the same dtype and quantization: ` +
            (first.spec.name === spec.name ? 'same-named tensors share one buffer' : 'a KV _in/_out pair shares one region'),
        );
      }
    }
  }
}

function sameEncoding(a: Encoding | undefined, b: Encoding | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.scale === b.scale && a.offset === b.offset;
}

function describe(spec: TensorSpec): string {
  const e = spec.encoding;
  return e === undefined ? `${spec.dtype}, no encoding` : `${spec.dtype}, scale=${e.scale} offset=${e.offset}`;
}
