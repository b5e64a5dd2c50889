/**
 * A minimal GraphBackend over the simulated provider, written with the tests' raw-offset client:
 * metadata from systemContextGetMetaData, one context per ctx-bin, tensor arrays encoded once per
 * graph with RAW client buffers pointing at native memory from `allocate`. It lets the reference
 * tests' KV-loop driver run through the simulated C interface.
 */
import { readFile } from 'node:fs/promises';
import type { GraphBackend } from '../../src/backends/backend.js';
import type { GraphSpec, TensorSpec } from '../../src/graphs/spec.js';
import type { SimulatedQnn } from '../../src/simulator/index.js';
import { dataTypeName } from '../../src/tensor/dtype.js';
import { readBinaryInfo, type ReadTensor } from './binary-info-reader.js';
import { CORE, encodeTensors, NULL, Proto, RawQnn, SYSTEM, type Block, type Ptr } from './raw-client.js';

interface OpenGraph {
  readonly spec: GraphSpec;
  readonly handle: Ptr;
  readonly inputs: ReadTensor[];
  readonly outputs: ReadTensor[];
  encoded?: { inputs: Block; outputs: Block };
}

const toSpec = (t: ReadTensor): TensorSpec => ({ name: t.name, dtype: dataTypeName(t.dataType), shape: t.dims });

export class SimGraphBackend implements GraphBackend {
  readonly type = 'QnnHtp (simulated)';
  readonly graphs: GraphSpec[] = [];
  private readonly open = new Map<string, OpenGraph>();
  private readonly addresses = new Map<ArrayBufferLike, Ptr>();
  private readonly contexts: Ptr[] = [];
  private backend: Ptr = NULL;
  private device: Ptr = NULL;

  private constructor(
    readonly qnn: RawQnn,
    private readonly useAsync: boolean,
  ) {}

  static async open(sim: SimulatedQnn, paths: readonly string[], useAsync: boolean): Promise<SimGraphBackend> {
    const self = new SimGraphBackend(new RawQnn(sim), useAsync);
    const { qnn } = self;
    self.backend = qnn.create(CORE.backendCreate, Proto.ptr3, NULL, NULL);
    self.device = qnn.create(CORE.deviceCreate, Proto.ptr3, NULL, NULL);
    for (const [ctxBin, path] of paths.entries()) {
      const binary = qnn.heap.copy(new Uint8Array(await readFile(path)));
      const sysOut = qnn.heap.alloc(8);
      qnn.ok(qnn.callSystem(SYSTEM.create, Proto.ptr, sysOut.ptr));
      const sys = sysOut.view.getBigUint64(0, true);
      const infoOut = qnn.heap.alloc(8);
      qnn.ok(qnn.callSystem(SYSTEM.getMetaData, Proto.getMetaData, sys, binary.ptr, binary.bytes.length, infoOut.ptr));
      const info = readBinaryInfo(infoOut.view.getBigUint64(0, true), 88);
      qnn.ok(qnn.callSystem(SYSTEM.free, Proto.ptr, sys));
      const contextOut = qnn.heap.alloc(8);
      const args = [self.backend, self.device, NULL, binary.ptr, binary.bytes.length, contextOut.ptr, NULL];
      qnn.ok(qnn.call(CORE.contextCreateFromBinary, Proto.createFromBinary, ...args));
      const context = contextOut.view.getBigUint64(0, true);
      self.contexts.push(context);
      for (const graph of info.graphs) {
        const handle = qnn.create(CORE.graphRetrieve, Proto.ptr3, context, qnn.heap.cstr(graph.name));
        const spec = { name: graph.name, ctxBin, inputs: graph.inputs.map(toSpec), outputs: graph.outputs.map(toSpec) };
        self.graphs.push(spec);
        self.open.set(graph.name, { spec, handle, inputs: graph.inputs, outputs: graph.outputs });
      }
    }
    return self;
  }

  allocate(byteLength: number): Uint8Array {
    const block = this.qnn.heap.alloc(byteLength);
    this.addresses.set(block.bytes.buffer, block.ptr - BigInt(block.bytes.byteOffset));
    return block.bytes;
  }

  bind(graph: string, buffers: ReadonlyMap<string, Uint8Array>): void {
    const open = this.open.get(graph)!;
    const encode = (tensors: ReadTensor[]) =>
      encodeTensors(
        this.qnn.heap,
        tensors.map((t) => {
          const bytes = buffers.get(t.name)!;
          return {
            id: t.id,
            name: t.name,
            type: t.type,
            dataType: t.dataType,
            quant: t.quant,
            dims: t.dims,
            data: this.addresses.get(bytes.buffer)! + BigInt(bytes.byteOffset),
            dataSize: bytes.byteLength,
          };
        }),
      );
    open.encoded = { inputs: encode(open.inputs), outputs: encode(open.outputs) };
  }

  async execute(graph: string): Promise<void> {
    const open = this.open.get(graph)!;
    const { inputs, outputs } = open.encoded!;
    const args = [open.handle, inputs.ptr, open.inputs.length, outputs.ptr, open.outputs.length, NULL, NULL];
    const rc = this.useAsync
      ? await this.qnn.callAsync(CORE.graphExecute, Proto.execute, ...args)
      : this.qnn.call(CORE.graphExecute, Proto.execute, ...args);
    this.qnn.ok(rc);
  }

  async dispose(): Promise<void> {
    const { qnn } = this;
    for (const context of this.contexts.reverse()) qnn.ok(qnn.call(CORE.contextFree, Proto.ptr2, context, NULL));
    qnn.ok(qnn.call(CORE.deviceFree, Proto.ptr, this.device));
    qnn.ok(qnn.call(CORE.backendFree, Proto.ptr, this.backend));
    qnn.dispose();
  }
}
