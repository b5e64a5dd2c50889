import { describe, expect, it } from 'vitest';
import { discoverModelLayout, planBuffers, type GraphSpec } from '../../src/graphs/index.js';
import { bundle, type BundleOptions } from './fixtures.js';

const BYTES: Record<string, number> = { INT_32: 4, UFIXED_POINT_8: 1, UFIXED_POINT_16: 2, FLOAT_32: 4 };
const bytesOf = (t: { dtype: string; shape: readonly number[] }): number => t.shape.reduce((a, b) => a * b, 1) * BYTES[t.dtype];
/** The inputs whose values follow from a step's slots and positions alone. */
const STEP_POSITION = new Set(['attention_mask', 'position_ids_cos', 'position_ids_sin', 'position_ids', 'cache_index']);

describe('planBuffers', () => {
  const cases: [string, BundleOptions][] = [
    ['AI Hub concat, embedding part, 2 CLs', { embeddingPart: true, cls: [2048, 4096], ars: [1, 128], layers: 3 }],
    ['scatter', { mode: 'scatter', ars: [1, 64] }],
    ['per-head KV', { perHead: true, kvHeads: 2, layers: 2 }],
  ];

  for (const [[label, opts], copies] of cases.flatMap((c) => [[c, false], [c, true]] as const)) {
    it(`${label}: one buffer per tensor name at the max size (${copies ? "the first parts' own for a step-position input later parts read too" : 'no first-part copies'}), one [in | out] region per KV tensor`, () => {
      const { graphs, options: o } = bundle(opts);
      const layout = discoverModelLayout(graphs);
      const plan = planBuffers(layout, { firstPartCopies: copies });
      const isKv = (name: string): boolean => name.startsWith('past_');
      const firstParts = new Set(layout.variants.map((v) => v.parts[0].name));
      const readByLater = new Set(graphs.filter((g) => !firstParts.has(g.name)).flatMap((g) => g.inputs.map((t) => t.name)));
      const bufferOf = (graph: string, tensor: string): string =>
        copies && STEP_POSITION.has(tensor) && firstParts.has(graph) && readByLater.has(tensor) ? `${tensor}@first-part` : tensor;

      // Plain tensors: the largest size over every graph that places the name in that buffer.
      const expected = new Map<string, number>();
      for (const g of graphs) {
        for (const t of [...g.inputs, ...g.outputs]) {
          const buffer = bufferOf(g.name, t.name);
          if (!isKv(t.name)) expected.set(buffer, Math.max(expected.get(buffer) ?? 0, bytesOf(t)));
        }
      }
      const tensors = plan.buffers.filter((b) => b.kind === 'tensor');
      expect(new Map(tensors.map((b) => [b.name, b.byteLength]))).toEqual(expected);

      // The step-position inputs' readers: the first parts' buffer and the later parts' one.
      const positional = [layout.attentionMask, layout.positionCos, layout.positionSin, layout.positionIds, layout.cacheIndex].flatMap((t) => (t ? [t.name] : []));
      const readByFirst = new Set(graphs.filter((g) => firstParts.has(g.name)).flatMap((g) => g.inputs.map((t) => t.name)));
      const firstBuffer = (name: string): string | null => (readByFirst.has(name) ? bufferOf([...firstParts][0], name) : null);
      expect(new Map(plan.stepInputs)).toEqual(
        new Map(positional.map((name) => [name, { first: firstBuffer(name), rest: readByLater.has(name) && firstBuffer(name) !== name ? name : null }])),
      );

      // KV regions: heads * head_dim * (past + AR) bytes, largest over the variants; out at past bytes.
      const heads = o.perHead ? 1 : o.kvHeads;
      const rowBytes = heads * o.headDim; // uint8
      const regions = plan.buffers.filter((b) => b.kind === 'kv-region');
      expect(regions).toHaveLength(layout.kv.length * 2);
      const regionSize = Math.max(...layout.variants.map((v) => rowBytes * (v.pastDim + v.ar)));
      for (const r of regions) {
        if (r.kind !== 'kv-region') continue;
        expect(r.byteLength).toBe(regionSize);
        expect(r.in).toBe(`${r.name}_in`);
        expect(r.out).toBe(`${r.name}_out`);
        expect(layout.kv[r.slot][r.tensor].region).toBe(r.name);
        expect(new Map(r.outOffsets)).toEqual(new Map(layout.variants.map((v) => [v.id, rowBytes * (o.mode === 'concat' ? v.cl - v.ar : v.cl)])));
      }
      expect(plan.totalBytes).toBe([...expected.values()].reduce((a, b) => a + b, 0) + regions.length * regionSize);

      // Placements: every IO tensor of every graph, inside its buffer.
      const sizeOf = new Map(plan.buffers.map((b) => [b.name, b.byteLength]));
      const variantOf = new Map(layout.variants.flatMap((v) => v.parts.map((p) => [p.name, v] as const)));
      for (const g of graphs) {
        const placed = plan.placements.get(g.name)!;
        expect([...placed.keys()].sort()).toEqual([...g.inputs, ...g.outputs].map((t) => t.name).sort());
        for (const t of [...g.inputs, ...g.outputs]) {
          const p = placed.get(t.name)!;
          expect(p.byteLength).toBe(bytesOf(t));
          expect(p.byteOffset + p.byteLength).toBeLessThanOrEqual(sizeOf.get(p.buffer)!);
          if (!isKv(t.name)) {
            expect(p).toEqual({ buffer: bufferOf(g.name, t.name), byteOffset: 0, byteLength: bytesOf(t) });
          } else {
            const region = t.name.replace(/_(in|out)$/, '');
            const v = variantOf.get(g.name)!;
            expect(p.buffer).toBe(region);
            expect(p.byteOffset).toBe(t.name.endsWith('_in') ? 0 : rowBytes * v.pastDim);
          }
        }
      }
    });
  }

  it('gives the first parts their own copy of the mask and cos/sin exactly when asked to and later parts read them too', () => {
    const layout = discoverModelLayout(bundle({ ars: [1, 128], layers: 3 }).graphs);
    const split = planBuffers(layout, { firstPartCopies: true });
    expect(split.stepInputs.get('attention_mask')).toEqual({ first: 'attention_mask@first-part', rest: 'attention_mask' });
    expect(split.stepInputs.get('position_ids_cos')).toEqual({ first: 'position_ids_cos@first-part', rest: 'position_ids_cos' });
    expect(planBuffers(layout).stepInputs.get('attention_mask')).toEqual({ first: 'attention_mask', rest: null });
    // An embedding first part reads none of them: one buffer, read by the later parts.
    const embedding = planBuffers(discoverModelLayout(bundle({ embeddingPart: true, ars: [1, 128], layers: 3 }).graphs), { firstPartCopies: true });
    expect(embedding.stepInputs.get('attention_mask')).toEqual({ first: null, rest: 'attention_mask' });
    expect(embedding.buffers.some((b) => b.name.endsWith('@first-part'))).toBe(false);
  });

  it('places vision graphs too, sharing same-named tensors', () => {
    const { graphs } = bundle();
    const encoder: GraphSpec = {
      name: 'vision_encoder', ctxBin: 2,
      inputs: [{ name: 'pixel_values', dtype: 'FLOAT_32', shape: [1, 3, 8, 8] }],
      outputs: [{ name: 'image_features', dtype: 'FLOAT_32', shape: [1, 4, 16] }],
    };
    const plan = planBuffers(discoverModelLayout([...graphs, encoder]));
    expect(plan.placements.get('vision_encoder')!.get('image_features')).toEqual({ buffer: 'image_features', byteOffset: 0, byteLength: 256 });
    expect(plan.buffers.find((b) => b.name === 'pixel_values')!.byteLength).toBe(768);
  });
});
