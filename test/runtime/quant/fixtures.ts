/**
 * Helpers for the quantized-IO tests: independent quantization formulas (QNN convention, written
 * here from the definition), a backend wrapper that snapshots graph IO at every execute, and
 * Engines opened from demo bundles.
 */
import type { GraphBackend } from '../../../src/backends/backend.js';
import type { GraphSpec, TensorSpec } from '../../../src/graphs/spec.js';
import { deriveDialog, loadConfigFile, type DerivedDialog } from '../../../src/runtime/config/index.js';
import type { DemoBundle } from '../../../src/demo/index.js';
import { openReferenceBackend } from '../../../src/backends/reference/index.js';
import { loadConfigEmbeddings } from '../../../src/runtime/embeddings/index.js';
import { Engine, openEngine } from '../../../src/runtime/engine/index.js';
import type { Encoding } from '../../../src/tensor/dtype.js';

export { tempDir } from '../../demo/fixtures.js';

/** Small demo options (vocabulary 151936, hidden 8) that still run two AR variants and two parts. */
export const TINY = { layers: 2, hidden: 8, heads: 2, kvHeads: 1, ar: [1, 4], cl: 16, seed: 7 } as const;

/** `round(x / scale - offset)` half away from zero, clamped to [0, 2^bits - 1]. */
export function oracleQuantize(x: number, e: Encoding, bits: number): number {
  const y = x / e.scale - e.offset;
  const r = Math.sign(y) * Math.round(Math.abs(y));
  return Math.min(2 ** bits - 1, Math.max(0, r));
}

export const oracleDequantize = (q: number, e: Encoding): number => (q + e.offset) * e.scale;

export const elements = (spec: Pick<TensorSpec, 'shape'>): number => spec.shape.reduce((a, b) => a * b, 1);

/** A copy of one tensor's elements, as numbers, read from its bound bytes in its dtype. */
export function readTensor(spec: TensorSpec, bytes: Uint8Array): number[] {
  const n = elements(spec);
  const at = (Ctor: { new (b: ArrayBufferLike, o: number, n: number): ArrayLike<number> }) =>
    Array.from(new Ctor(bytes.buffer, bytes.byteOffset, n));
  switch (spec.dtype) {
    case 'FLOAT_32':
      return at(Float32Array);
    case 'FLOAT_16':
    case 'UFIXED_POINT_16':
      return at(Uint16Array);
    case 'UFIXED_POINT_8':
      return at(Uint8Array);
    case 'INT_32':
      return at(Int32Array);
    default:
      throw new Error(`readTensor: ${spec.dtype}`);
  }
}

export interface Execution {
  readonly graph: GraphSpec;
  /** Tensor name -> elements, inputs as the graph read them and outputs as it wrote them. */
  readonly tensors: Map<string, number[]>;
}

/** Forwards to `inner` and records every execution's IO. */
export class SpyBackend implements GraphBackend {
  readonly type: string;
  readonly graphs: readonly GraphSpec[];
  readonly executions: Execution[] = [];
  private readonly bound = new Map<string, ReadonlyMap<string, Uint8Array>>();

  constructor(private readonly inner: GraphBackend) {
    this.type = inner.type;
    this.graphs = inner.graphs;
  }

  allocate(byteLength: number): Uint8Array {
    return this.inner.allocate(byteLength);
  }

  bind(graph: string, buffers: ReadonlyMap<string, Uint8Array>): void {
    this.inner.bind(graph, buffers);
    this.bound.set(graph, buffers);
  }

  async execute(graph: string): Promise<void> {
    const spec = this.graphs.find((g) => g.name === graph)!;
    const buffers = this.bound.get(graph)!;
    const tensors = new Map<string, number[]>();
    for (const t of spec.inputs) tensors.set(t.name, readTensor(t, buffers.get(t.name)!));
    await this.inner.execute(graph);
    for (const t of spec.outputs) tensors.set(t.name, readTensor(t, buffers.get(t.name)!));
    this.executions.push({ graph: spec, tensors });
  }

  dispose(): Promise<void> {
    return this.inner.dispose();
  }
}

export async function derivedConfig(bundle: DemoBundle): Promise<DerivedDialog> {
  return deriveDialog((await loadConfigFile(bundle.configPath)).config);
}

export async function bundleEngine(bundle: DemoBundle): Promise<Engine> {
  return openEngine(await derivedConfig(bundle));
}

/** An Engine of the bundle over a `SpyBackend`. */
export async function spiedEngine(bundle: DemoBundle): Promise<{ engine: Engine; spy: SpyBackend; config: DerivedDialog }> {
  const config = await derivedConfig(bundle);
  const spy = new SpyBackend(await openReferenceBackend(config.ctxBins));
  const engine = Engine.create(spy, {
    contextSize: config.contextSize,
    padToken: config.padToken,
    eosToken: config.primaryEos,
    rope: config.positionalEncoding,
    embeddings: loadConfigEmbeddings(config),
  });
  return { engine, spy, config };
}

/** Every IO tensor spec of `graphs` by name (the first one seen). */
export function specsByName(graphs: readonly GraphSpec[]): Map<string, TensorSpec> {
  const specs = new Map<string, TensorSpec>();
  for (const g of graphs) for (const t of [...g.inputs, ...g.outputs]) if (!specs.has(t.name)) specs.set(t.name, t);
  return specs;
}
