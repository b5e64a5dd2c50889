/**
 * graphExecute of one retrieved graph: decodes the caller's `Qnn_Tensor_t` arrays by offset,
 * validates every tensor against the binary metadata (version, id, name, type, format, data type,
 * quantization, rank, dims, memType, buffer size and alignment, mem handle), then runs the graph
 * with the reference executor on views of the caller's memory.
 *
 * The decoded result is cached: when the caller passes the same arrays with byte-identical
 * structs (the binding encodes them once), execution skips straight to running. Names and dims
 * are re-read whenever any struct byte changes; the contents behind unchanged name/dims pointers
 * are assumed unchanged.
 */
import type { ReferenceCtxBinProgram, RunnableGraph } from '../backends/reference/from-bytes.js';
import { byteSize } from '../tensor/dtype.js';
import { QnnDefinition, QnnLogLevel, QnnProfileEventType, QnnQuantizationEncoding, QnnTensorMemType, QnnTensorVersion } from '../qnn/enums.js';
import { Code, fail } from './failure.js';
import type { GraphLayout, TensorLayout } from './graph-layout.js';
import { tensorStride } from './layout.js';
import type { SimMemory } from './memory.js';
import { hex, nativeBytes, NULL, readCString, type Address } from './native.js';
import type { SimProfiles } from './profiles.js';
import type { Simulator } from './simulator.js';
import { readTensor, type WireTensor } from './tensors.js';

type Side = 'inputs' | 'outputs';

const dtypeLabel = (value: number): string => `0x${value.toString(16).padStart(4, '0')}`;

export class GraphExecution {
  private readonly stride: number;
  private readonly ids: Record<Side, ReadonlyMap<number, TensorLayout>>;
  private valid = false;
  private inputsAt: Address = NULL;
  private outputsAt: Address = NULL;
  private memGeneration = -1;
  /** The caller's struct arrays (aliasing native memory) and copies of their bytes at the last decode. */
  private live: Record<Side, Buffer> = { inputs: Buffer.alloc(0), outputs: Buffer.alloc(0) };
  private snapshot: Record<Side, Buffer> = { inputs: Buffer.alloc(0), outputs: Buffer.alloc(0) };
  private runner: RunnableGraph | null = null;

  constructor(
    private readonly sim: Simulator,
    private readonly memory: SimMemory,
    private readonly profiles: SimProfiles,
    /** The context holding the graph. */
    readonly context: Address,
    private readonly layout: GraphLayout,
    private readonly program: ReferenceCtxBinProgram,
  ) {
    this.stride = tensorStride(sim.options.coreApiVersion.minor);
    const byId = (tensors: readonly TensorLayout[]) => new Map(tensors.map((t) => [t.id, t]));
    this.ids = { inputs: byId(layout.inputs), outputs: byId(layout.outputs) };
  }

  execute(inputs: Address, numInputs: number, outputs: Address, numOutputs: number, profile: Address, signal: Address): void {
    const start = performance.now();
    this.accept(inputs, numInputs, outputs, numOutputs, profile, signal);
    this.run(profile, start);
  }

  /**
   * What graphExecute and graphExecuteAsync check before running: the profile and signal handles
   * and every tensor (decoded again only when the arrays changed).
   */
  accept(inputs: Address, numInputs: number, outputs: Address, numOutputs: number, profile: Address, signal: Address): void {
    this.profiles.requireOptional(profile, Code.GRAPH_SET_PROFILE);
    if (signal !== NULL) {
      fail(Code.GRAPH_INVALID_ARGUMENT, `signal ${hex(signal)} is not a signal handle (the simulated provider issues none)`);
    }
    this.checkCount('inputs', inputs, numInputs);
    this.checkCount('outputs', outputs, numOutputs);
    if (!this.isCached(inputs, outputs)) this.decode(inputs, outputs);
  }

  /** Runs the accepted graph on the caller's buffers (`start`: when the call began, for the profile). */
  run(profile: Address, start: number): void {
    const { name } = this.layout;
    const failExecute = this.sim.failExecute;
    if (failExecute !== undefined && failExecute.graph === name) {
      fail(failExecute.code, `graph "${name}" fails with ${failExecute.code} (failExecute test hook)`);
    }
    const runStart = performance.now();
    if (this.runner !== null) {
      try {
        this.runner.run();
      } catch (error) {
        fail(Code.COMMON_GENERAL, `graph "${name}" failed while executing: ${(error as Error).message}`);
      }
    }
    const end = performance.now();
    if (profile !== NULL) this.recordProfile(profile, start, runStart, end);
    if (this.sim.logs.admits(QnnLogLevel.DEBUG)) {
      this.sim.logs.emit(QnnLogLevel.DEBUG, `graph "${name}" executed in ${Math.round((end - start) * 1000)} us`);
    }
  }

  /** EXECUTE (whole call) with the host-RPC (whole call) and accelerator (graph run) times. */
  private recordProfile(profile: Address, start: number, runStart: number, end: number): void {
    const { name } = this.layout;
    const micros = (from: number): number => (end - from) * 1000;
    this.profiles.record(profile, [
      {
        type: QnnProfileEventType.EXECUTE,
        microseconds: micros(start),
        identifier: name,
        subEvents: [
          { type: QnnProfileEventType.HTP_GRAPH_EXECUTE_HOST_RPC_TIME_MICROSEC, microseconds: micros(start), identifier: name },
          { type: QnnProfileEventType.HTP_GRAPH_EXECUTE_ACCEL_TIME_MICROSEC, microseconds: micros(runStart), identifier: name },
        ],
      },
    ]);
  }

  private checkCount(side: Side, array: Address, count: number): void {
    const expected = this.layout[side].length;
    if (count !== expected) {
      fail(Code.GRAPH_INVALID_ARGUMENT, `num${side === 'inputs' ? 'Inputs' : 'Outputs'} ${count}: graph "${this.layout.name}" has ${expected} ${side}`);
    }
    if (count > 0 && array === NULL) fail(Code.GRAPH_INVALID_ARGUMENT, `${side} is NULL with ${count} tensors`);
  }

  private isCached(inputs: Address, outputs: Address): boolean {
    return (
      this.valid &&
      inputs === this.inputsAt &&
      outputs === this.outputsAt &&
      this.memGeneration === this.memory.generation &&
      this.live.inputs.equals(this.snapshot.inputs) &&
      this.live.outputs.equals(this.snapshot.outputs)
    );
  }

  private decode(inputs: Address, outputs: Address): void {
    this.valid = false;
    const live = { inputs: this.structs(inputs, 'inputs'), outputs: this.structs(outputs, 'outputs') };
    const buffers = new Map<string, Uint8Array>();
    this.decodeSide('inputs', live.inputs, buffers);
    this.decodeSide('outputs', live.outputs, buffers);
    this.runner = this.sim.options.validateOnly ? null : this.program.bind(this.layout.name, buffers);
    this.live = live;
    this.snapshot = { inputs: Buffer.from(live.inputs), outputs: Buffer.from(live.outputs) };
    this.inputsAt = inputs;
    this.outputsAt = outputs;
    this.memGeneration = this.memory.generation;
    this.valid = true;
  }

  private structs(array: Address, side: Side): Buffer {
    const length = this.layout[side].length * this.stride;
    if (length === 0) return Buffer.alloc(0);
    const bytes = nativeBytes(array, length);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private decodeSide(side: Side, structs: Buffer, buffers: Map<string, Uint8Array>): void {
    const view = new DataView(structs.buffer, structs.byteOffset, structs.byteLength);
    const seen = new Set<number>();
    for (let i = 0; i < this.layout[side].length; i++) {
      const wire = readTensor(view, i * this.stride);
      const where = `${side}[${i}]`;
      if (wire.version !== QnnTensorVersion.V1 && wire.version !== QnnTensorVersion.V2) {
        fail(Code.GRAPH_INVALID_TENSOR, `${where}.version ${wire.version} is not QNN_TENSOR_VERSION_1 (1) or _2 (2)`);
      }
      if (wire.version === QnnTensorVersion.V2 && this.stride < 144) {
        fail(Code.GRAPH_INVALID_TENSOR, `${where}.version 2: core API 2.${this.sim.options.coreApiVersion.minor} has no Qnn_TensorV2_t`);
      }
      const tensor = this.ids[side].get(wire.id);
      if (tensor === undefined) {
        const other = side === 'inputs' ? 'outputs' : 'inputs';
        const note = this.ids[other].has(wire.id) ? ` (it is one of its ${other})` : '';
        fail(Code.GRAPH_INVALID_TENSOR, `${where}.id ${wire.id} is not one of the ${side} of graph "${this.layout.name}"${note}`);
      }
      if (seen.has(wire.id)) fail(Code.GRAPH_INVALID_TENSOR, `${where}.id ${wire.id} appears twice in ${side}`);
      seen.add(wire.id);
      if (wire.name === NULL) fail(Code.GRAPH_INVALID_TENSOR, `${where} (id ${wire.id}).name is NULL`);
      const name = readCString(wire.name);
      if (name !== tensor.spec.name) {
        fail(Code.GRAPH_INVALID_TENSOR, `${where} (id ${wire.id}).name "${name}" is not "${tensor.spec.name}"`);
      }
      const at = `${where} ("${name}")`;
      this.checkTensor(wire, tensor, at);
      buffers.set(name, this.buffer(wire, tensor, at));
    }
  }

  /** Checks everything but id and name (already matched) against the metadata. */
  private checkTensor(wire: WireTensor, tensor: TensorLayout, at: string): void {
    const { spec } = tensor;
    if (wire.type !== tensor.type) fail(Code.GRAPH_INVALID_TENSOR, `${at}.type ${wire.type} is not ${tensor.type}`);
    if (wire.dataFormat !== 0) fail(Code.GRAPH_INVALID_TENSOR, `${at}.dataFormat ${wire.dataFormat} is not DENSE (0)`);
    if (wire.dataType !== tensor.dataType) {
      fail(Code.GRAPH_INVALID_TENSOR, `${at}.dataType ${dtypeLabel(wire.dataType)} is not ${dtypeLabel(tensor.dataType)} (${spec.dtype})`);
    }
    const encoding = spec.encoding;
    if (
      encoding !== undefined &&
      (wire.quantEncodingDefinition !== QnnDefinition.DEFINED ||
        wire.quantEncoding !== QnnQuantizationEncoding.SCALE_OFFSET ||
        wire.quantScale !== Math.fround(encoding.scale) ||
        wire.quantOffset !== encoding.offset)
    ) {
      fail(
        Code.GRAPH_INVALID_TENSOR,
        `${at}.quantizeParams {definition ${wire.quantEncodingDefinition}, encoding ${wire.quantEncoding}, ` +
          `scale ${wire.quantScale}, offset ${wire.quantOffset}} are not DEFINED SCALE_OFFSET ` +
          `{scale ${encoding.scale}, offset ${encoding.offset}}`,
      );
    }
    const rank = spec.shape.length;
    if (wire.rank !== rank) fail(Code.GRAPH_INVALID_TENSOR, `${at}.rank ${wire.rank} is not ${rank}`);
    if (wire.dimensions === NULL) fail(Code.GRAPH_INVALID_TENSOR, `${at}.dimensions is NULL`);
    const dimsView = new DataView(nativeBytes(wire.dimensions, rank * 4).slice().buffer);
    const dims = Array.from({ length: rank }, (_, i) => dimsView.getUint32(i * 4, true));
    if (dims.some((d, i) => d !== spec.shape[i])) {
      fail(Code.GRAPH_INVALID_TENSOR, `${at}.dimensions [${dims}] are not [${spec.shape}]`);
    }
    if (wire.isDynamicDimensions !== NULL) {
      const dynamic = nativeBytes(wire.isDynamicDimensions, rank).findIndex((flag) => flag !== 0);
      if (dynamic >= 0) {
        fail(Code.GRAPH_INVALID_TENSOR, `${at}.isDynamicDimensions marks dimension ${dynamic} dynamic; the graph's shapes are static`);
      }
    }
  }

  /** The caller's memory for the tensor: its client buffer or its registered shared buffer. */
  private buffer(wire: WireTensor, tensor: TensorLayout, at: string): Uint8Array {
    const { spec, bytes } = tensor;
    const align = byteSize(spec.dtype);
    if (wire.memType === QnnTensorMemType.RAW) {
      if (wire.buffer === NULL) fail(Code.GRAPH_INVALID_TENSOR, `${at}.clientBuf.data is NULL`);
      if (wire.dataSize < bytes) {
        fail(
          Code.GRAPH_INVALID_TENSOR,
          `${at}.clientBuf.dataSize ${wire.dataSize} is smaller than the ${bytes} bytes of ${spec.dtype} [${spec.shape}]`,
        );
      }
      if (wire.buffer % BigInt(align) !== 0n) {
        fail(Code.GRAPH_INVALID_TENSOR, `${at}.clientBuf.data ${hex(wire.buffer)} is not aligned to ${align} bytes`);
      }
      return nativeBytes(wire.buffer, bytes);
    }
    if (wire.memType === QnnTensorMemType.MEMHANDLE) {
      const mem = this.sim.memHandles.get(wire.buffer);
      if (mem === undefined) fail(Code.GRAPH_INVALID_TENSOR, `${at}.memHandle ${hex(wire.buffer)} is not a registered mem handle`);
      if (mem.context !== this.context) {
        fail(Code.GRAPH_INVALID_TENSOR, `${at}.memHandle ${hex(wire.buffer)} is registered with another context`);
      }
      if (mem.dataType !== spec.dtype || mem.dims.length !== spec.shape.length || mem.dims.some((d, i) => d !== spec.shape[i])) {
        fail(
          Code.GRAPH_INVALID_TENSOR,
          `${at}.memHandle ${hex(wire.buffer)} was registered for ${mem.dataType} [${mem.dims}], not ${spec.dtype} [${spec.shape}]`,
        );
      }
      if (mem.address % BigInt(align) !== 0n) {
        fail(Code.GRAPH_INVALID_TENSOR, `${at}.memHandle ${hex(wire.buffer)} memory is not aligned to ${align} bytes`);
      }
      return nativeBytes(mem.address, bytes);
    }
    return fail(Code.GRAPH_INVALID_TENSOR, `${at}.memType ${wire.memType} is not RAW (0) or MEMHANDLE (1)`);
  }
}
