/** The `reference` GraphBackend: executes the graphs of reference ctx-bins (decoder or vision) in TypeScript. */
import { InvalidArgumentError } from '../../errors.js';
import { SafetensorsReader } from '../../formats/safetensors.js';
import type { GraphSpec } from '../../graphs/spec.js';
import { detachArrayBuffer } from '../../tensor/views.js';
import type { GraphBackend } from '../backend.js';
import { BackendDisposedError, CtxBinError, GraphNotBoundError } from './errors.js';
import { parseCtxBinMetadata } from './metadata.js';
import { planCtxBin, type PlannedGraph, type RunnableGraph } from './program.js';
import { LinearPool, referenceThreads } from './thread-pool.js';
import { loadWeights } from './weights.js';

interface LoadedGraph {
  readonly graph: PlannedGraph;
  bound?: RunnableGraph;
}

/** Reads one ctx-bin: metadata, graph plans and the weights those graphs use (shared with `pool`'s workers). */
async function loadCtxBin(path: string, ctxBin: number, pool: LinearPool): Promise<LoadedGraph[]> {
  const reader = await SafetensorsReader.open(path);
  try {
    const plan = planCtxBin(parseCtxBinMetadata(reader.metadata, path), ctxBin, path, pool);
    const weights = await loadWeights(reader, plan.weightReads((name) => reader.tensors.has(name)), (data) => pool.share(data));
    return plan.graphs(weights).map((graph) => ({ graph }));
  } finally {
    await reader.close();
  }
}

class ReferenceBackend implements GraphBackend {
  readonly type = 'reference';
  readonly graphs: readonly GraphSpec[];
  private readonly loaded: Map<string, LoadedGraph>;
  /** Every block `allocate` handed out, detached by `dispose`. */
  private readonly blocks: ArrayBuffer[] = [];
  private disposed = false;

  constructor(
    graphs: readonly LoadedGraph[],
    private readonly pool: LinearPool,
  ) {
    this.graphs = graphs.map((g) => g.graph.spec);
    this.loaded = new Map(graphs.map((g) => [g.graph.spec.name, g]));
  }

  allocate(byteLength: number): Uint8Array {
    this.assertOpen('allocate');
    if (!Number.isSafeInteger(byteLength) || byteLength < 0) {
      throw new InvalidArgumentError(`allocate: byteLength ${byteLength} is not a non-negative integer`);
    }
    const block = new ArrayBuffer(byteLength);
    this.blocks.push(block);
    return new Uint8Array(block);
  }

  bind(graph: string, buffers: ReadonlyMap<string, Uint8Array>): void {
    this.assertOpen('bind');
    const loaded = this.graph(graph);
    loaded.bound = loaded.graph.bind(buffers);
  }

  async execute(graph: string): Promise<void> {
    this.assertOpen('execute');
    const loaded = this.graph(graph);
    if (loaded.bound === undefined) throw new GraphNotBoundError(`execute "${graph}": the graph's IO was never bound`);
    loaded.bound.run();
  }

  /** Forgets the graphs and detaches every allocated block (its views become empty), as QnnHtp does. */
  async dispose(): Promise<void> {
    this.disposed = true;
    this.loaded.clear();
    await this.pool.terminate();
    for (const block of this.blocks.splice(0)) detachArrayBuffer(block);
  }

  private graph(name: string): LoadedGraph {
    const loaded = this.loaded.get(name);
    if (loaded === undefined) {
      throw new InvalidArgumentError(`unknown graph "${name}" (graphs: ${[...this.loaded.keys()].join(', ')})`);
    }
    return loaded;
  }

  private assertOpen(call: string): void {
    if (this.disposed) throw new BackendDisposedError(`${call}: the reference backend has been disposed`);
  }
}

/**
 * Opens reference ctx-bins (graph `ctxBin` = index in `ctxBinPaths`) and loads their weights. The
 * decoder graphs' matrix products run on `referenceThreads()` threads (thread-pool.ts).
 * @throws InvalidArgumentError for no paths or a bad GENIE_TS_REFERENCE_THREADS; CtxBinError for a bad file
 */
export async function openReferenceBackend(ctxBinPaths: readonly string[]): Promise<GraphBackend> {
  if (ctxBinPaths.length === 0) throw new InvalidArgumentError('openReferenceBackend: ctxBinPaths is empty');
  const pool = new LinearPool(referenceThreads());
  try {
    const graphs: LoadedGraph[] = [];
    const fileOf = new Map<string, string>();
    for (const [ctxBin, path] of ctxBinPaths.entries()) {
      for (const graph of await loadCtxBin(path, ctxBin, pool)) {
        const name = graph.graph.spec.name;
        const other = fileOf.get(name);
        if (other !== undefined) {
          throw new CtxBinError(`reference ctx-bin "${path}": graph "${name}" is also defined in "${other}"`);
        }
        fileOf.set(name, path);
        graphs.push(graph);
      }
    }
    return new ReferenceBackend(graphs, pool);
  } catch (error) {
    await pool.terminate();
    throw error;
  }
}
