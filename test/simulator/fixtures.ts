/**
 * A tiny reference ctx-bin (one part, graphs AR-1 and AR-4 at CL 16) and an open session on a
 * simulated provider: backend, device, one context, metadata, and native IO buffers per graph.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { splitQwen2Checkpoint, writeReferenceCtxBin, type ReferenceCtxBinPart } from '../../src/backends/reference/index.js';
import type { SimulatedQnn } from '../../src/simulator/index.js';
import { byteSize, dataTypeName } from '../../src/tensor/dtype.js';
import { tempDir } from '../backends/reference/fixtures.js';
import { randomWeights, tinyConfig } from '../backends/reference/qwen2-oracle.js';
import { readBinaryInfo, type ReadGraph, type ReadTensor } from './binary-info-reader.js';
import { CORE, encodeTensors, NULL, Proto, RawQnn, SYSTEM, type Block, type Ptr, type WireTensorSpec } from './raw-client.js';

export const dir = tempDir('qnn-sim');
export const config = tinyConfig({ numHiddenLayers: 2, vocabSize: 100 });
export const weights = randomWeights(config, 'qnn-sim');

export function tinyPart(): ReferenceCtxBinPart {
  return splitQwen2Checkpoint({ config, weights, arSet: [1, 4], cl: 16, splits: 1, inputKind: 'ids' })[0];
}

/** Writes `part` and returns its path and bytes. */
export async function ctxBin(name: string, part: ReferenceCtxBinPart = tinyPart()): Promise<{ path: string; bytes: Uint8Array }> {
  const path = join(dir, `${name}.safetensors`);
  await writeReferenceCtxBin(path, part);
  return { path, bytes: new Uint8Array(await readFile(path)) };
}

export const tensorBytes = (t: ReadTensor): number =>
  t.dims.reduce((a, b) => a * b, 1) * byteSize(dataTypeName(t.dataType));

/** One graph's metadata, handle and native IO buffers (a fresh block per tensor). */
export interface OpenGraph {
  readonly meta: ReadGraph;
  readonly handle: Ptr;
  readonly buffers: Map<string, Block>;
}

export class Session {
  readonly qnn: RawQnn;
  backend: Ptr = NULL;
  device: Ptr = NULL;
  context: Ptr = NULL;
  binary!: Block;
  graphs = new Map<string, OpenGraph>();

  constructor(readonly sim: SimulatedQnn) {
    this.qnn = new RawQnn(sim);
  }

  /** Opens backend (and device) with `log` (NULL: none), a context, and every graph. */
  static async open(sim: SimulatedQnn, bytes: Uint8Array, log: Ptr = NULL): Promise<Session> {
    const s = new Session(sim);
    const { qnn } = s;
    s.backend = qnn.create(CORE.backendCreate, Proto.ptr3, log, NULL);
    s.device = qnn.create(CORE.deviceCreate, Proto.ptr3, log, NULL);
    s.binary = qnn.heap.copy(bytes);
    const sys = s.systemContext();
    const info = s.metaData(sys);
    qnn.ok(qnn.callSystem(SYSTEM.free, Proto.ptr, sys));
    s.context = s.createContext(NULL);
    for (const meta of info) {
      const handle = qnn.create(CORE.graphRetrieve, Proto.ptr3, s.context, qnn.heap.cstr(meta.name));
      const buffers = new Map<string, Block>();
      for (const t of [...meta.inputs, ...meta.outputs]) buffers.set(t.name, qnn.heap.alloc(tensorBytes(t)));
      s.graphs.set(meta.name, { meta, handle, buffers });
    }
    return s;
  }

  systemContext(): Ptr {
    const out = this.qnn.heap.alloc(8);
    this.qnn.ok(this.qnn.callSystem(SYSTEM.create, Proto.ptr, out.ptr));
    return out.view.getBigUint64(0, true);
  }

  metaData(sys: Ptr, stride = 88): ReadGraph[] {
    const out = this.qnn.heap.alloc(8);
    const { ptr, bytes } = this.binary;
    this.qnn.ok(this.qnn.callSystem(SYSTEM.getMetaData, Proto.getMetaData, sys, ptr, bytes.length, out.ptr));
    return readBinaryInfo(out.view.getBigUint64(0, true), stride).graphs;
  }

  /** contextCreateFromBinary with `configs` (NULL or a config list); returns the raw rc via `rc` when failing. */
  createContextRc(configs: Ptr, binary: Block = this.binary, profile: Ptr = NULL): { rc: number; handle: Ptr } {
    const out = this.qnn.heap.alloc(8);
    const rc = this.qnn.call(
      CORE.contextCreateFromBinary,
      Proto.createFromBinary,
      this.backend,
      this.device,
      configs,
      binary.ptr,
      binary.bytes.length,
      out.ptr,
      profile,
    );
    return { rc, handle: out.view.getBigUint64(0, true) };
  }

  createContext(configs: Ptr, binary?: Block, profile?: Ptr): Ptr {
    const { rc, handle } = this.createContextRc(configs, binary, profile);
    this.qnn.ok(rc);
    return handle;
  }

  graph(name: string): OpenGraph {
    return this.graphs.get(name)!;
  }

  /** Graph names, AR-1 first. */
  get names(): string[] {
    return [...this.graphs.keys()].sort((a, b) => a.localeCompare(b));
  }

  /** The correct wire tensors of a graph side, pointing at its buffers. */
  wire(graph: string, side: 'inputs' | 'outputs'): WireTensorSpec[] {
    const open = this.graph(graph);
    return open.meta[side].map((t) => {
      const block = open.buffers.get(t.name)!;
      return {
        id: t.id,
        name: t.name,
        type: t.type,
        dataType: t.dataType,
        quant: t.quant,
        dims: t.dims,
        data: block.ptr,
        dataSize: block.bytes.length,
      };
    });
  }

  /** graphExecute with encoded arrays; returns the raw rc. */
  execute(
    graph: string,
    inputs: readonly WireTensorSpec[] = this.wire(graph, 'inputs'),
    outputs: readonly WireTensorSpec[] = this.wire(graph, 'outputs'),
    options: { numInputs?: number; numOutputs?: number; profile?: Ptr; signal?: Ptr; handle?: Ptr } = {},
  ): number {
    const ins = encodeTensors(this.qnn.heap, inputs);
    const outs = encodeTensors(this.qnn.heap, outputs);
    return this.executeEncoded(graph, ins.ptr, outs.ptr, options);
  }

  executeEncoded(
    graph: string,
    inputs: Ptr,
    outputs: Ptr,
    options: { numInputs?: number; numOutputs?: number; profile?: Ptr; signal?: Ptr; handle?: Ptr } = {},
  ): number {
    const open = this.graph(graph);
    return this.qnn.call(
      CORE.graphExecute,
      Proto.execute,
      options.handle ?? open.handle,
      inputs,
      options.numInputs ?? open.meta.inputs.length,
      outputs,
      options.numOutputs ?? open.meta.outputs.length,
      options.profile ?? NULL,
      options.signal ?? NULL,
    );
  }

  /** Fills `input_ids` of `graph` with `ids`. */
  setIds(graph: string, ids: readonly number[]): void {
    const block = this.graph(graph).buffers.get('input_ids')!;
    ids.forEach((id, i) => block.view.setInt32(i * 4, id, true));
  }

  close(): void {
    const { qnn } = this;
    if (this.context !== NULL) qnn.ok(qnn.call(CORE.contextFree, Proto.ptr2, this.context, NULL));
    qnn.ok(qnn.call(CORE.deviceFree, Proto.ptr, this.device));
    qnn.ok(qnn.call(CORE.backendFree, Proto.ptr, this.backend));
    qnn.dispose();
  }
}
