/**
 * One retrieved graph with its execute arguments: the input and output `Qnn_Tensor_t` arrays are
 * encoded once in native memory (ids, names, dims, quant params from the binary's metadata); `bind`
 * only points their client buffers (or mem handles) at the engine's buffers, so `execute` passes the
 * same arrays every step without copying anything.
 */
import koffi from 'koffi';
import { abi, TENSOR_STRIDE } from '../abi.js';
import { QnnQuantizationEncoding, QnnSparseLayout, QnnTensorMemType, QnnTensorVersion } from '../enums.js';
import { InvalidArgumentError } from '../../errors.js';
import { byteSize, dataTypeName } from '../../tensor/dtype.js';
import { elementCount } from '../../tensor/shape.js';
import { QnnContextBinaryError, QnnGraphNotBoundError } from './errors.js';
import type { QnnCoreApi } from './function-table.js';
import { TENSOR } from './layout.js';
import { newGraphExecutions, type ExecutionQueue, type GraphExecutions, type Submit } from './execution-queue.js';
import type { ContextMemHandles } from './mem-handles.js';
import type { NativeBufferPool } from './memory.js';
import type { QnnGraphInfo, QnnQuantization, QnnTensorInfo } from './metadata.js';
import { callAsync, writePointer, writeU32, type NativeArena, type NativeFunction, type NativePointer } from './native.js';
import type { QnnProfiler } from './profile.js';

/**
 * `async`: graphExecute on Koffi's worker pool (the event loop stays free); `sync`: on the JS
 * thread; `queued`: graphExecuteAsync from the JS thread, which only enqueues the execution (QNN
 * runs a context's executions in submission order) and notifies its end (./execution-queue.ts).
 */
export type QnnExecuteMode = 'async' | 'sync' | 'queued';
export const QNN_EXECUTE_MODES: readonly QnnExecuteMode[] = ['async', 'sync', 'queued'];

/** What a graph needs from the session that owns it. */
export interface GraphRuntime {
  readonly core: QnnCoreApi;
  readonly pool: NativeBufferPool;
  readonly profiler: QnnProfiler | null;
  readonly executeMode: QnnExecuteMode;
  /** The notify dispatcher, in `queued` mode (else null). */
  readonly executionQueue: ExecutionQueue | null;
  /** Throws `QnnDisposedError` after dispose. */
  assertOpen(call: string): void;
  /** Dispose has been called (`assertOpen` would throw). */
  readonly isDisposed: boolean;
  /** An execution starts / ends: dispose waits until every started one has ended. */
  executionStarted(): void;
  executionEnded(): void;
}

interface EncodedTensor {
  readonly info: QnnTensorInfo;
  /** Bytes the graph reads or writes (the client buffer's dataSize). */
  readonly byteLength: number;
  readonly elementBytes: number;
  readonly dimsPointer: NativePointer | null;
  /** This tensor's `Qnn_Tensor_t` in the graph's input or output array. */
  readonly struct: NativePointer;
}

function quantizeParams(q: QnnQuantization): object {
  const so = q.scaleOffset;
  if (so !== undefined && q.encoding === QnnQuantizationEncoding.BW_SCALE_OFFSET) {
    return {
      encodingDefinition: q.definition,
      quantizationEncoding: q.encoding,
      u: { bwScaleOffsetEncoding: { bitwidth: so.bitwidth ?? 0, scale: so.scale, offset: so.offset } },
    };
  }
  return {
    encodingDefinition: q.definition,
    quantizationEncoding: q.encoding,
    u: { scaleOffsetEncoding: { scale: so?.scale ?? 0, offset: so?.offset ?? 0 } },
  };
}

function tensorBytes(info: QnnTensorInfo, where: string): { byteLength: number; elementBytes: number } {
  let elementBytes: number;
  try {
    elementBytes = byteSize(dataTypeName(info.dataType));
  } catch (cause) {
    throw new QnnContextBinaryError(
      `${where}: tensor "${info.name}" has data type 0x${info.dataType.toString(16).padStart(4, '0')}, which this binding cannot size`,
      { cause },
    );
  }
  return { byteLength: elementCount(info.dims) * elementBytes, elementBytes };
}

function encodeTensors(
  arena: NativeArena,
  tensors: readonly QnnTensorInfo[],
  where: string,
): { array: NativePointer; encoded: EncodedTensor[] } {
  const array = arena.bytes(TENSOR_STRIDE * tensors.length);
  const encoded = tensors.map((info, i) => {
    const struct = array + BigInt(i * TENSOR_STRIDE);
    const dimsPointer = arena.u32Array(info.dims);
    koffi.encode(struct, abi.Qnn_Tensor_t, {
      version: QnnTensorVersion.V2,
      u: {
        v2: {
          id: info.id,
          name: arena.string(info.name),
          type: info.type,
          dataFormat: info.dataFormat,
          dataType: info.dataType,
          quantizeParams: quantizeParams(info.quantization),
          rank: info.dims.length,
          dimensions: dimsPointer,
          memType: QnnTensorMemType.RAW,
          u: { clientBuf: { data: null, dataSize: 0 } },
          isDynamicDimensions: null,
          sparseParams: {
            type: QnnSparseLayout.UNDEFINED,
            u: { hybridCoo: { numSpecifiedElements: 0, numSparseDimensions: 0 } },
          },
          isProduced: 0,
        },
      },
    });
    return { info, ...tensorBytes(info, where), dimsPointer, struct };
  });
  return { array, encoded };
}

export class QnnGraph {
  readonly name: string;
  readonly inputs: readonly QnnTensorInfo[];
  readonly outputs: readonly QnnTensorInfo[];
  private readonly encodedInputs: readonly EncodedTensor[];
  private readonly encodedOutputs: readonly EncodedTensor[];
  private readonly inputArray: NativePointer;
  private readonly outputArray: NativePointer;
  private readonly graphExecute: NativeFunction;
  private readonly executeArgs: readonly unknown[];
  private readonly executeLabel: string;
  /** `queued` mode: calls graphExecuteAsync on one argument list whose last entry, `notifyParam`, it rewrites. */
  private readonly submitQueued: Submit | null = null;
  /** What the queue keeps of this graph's executions: their duration, the latest one (queued mode). */
  private readonly executions: GraphExecutions;
  /** Executions submitted and not yet ended; `bind` refuses while there are any. */
  private running = 0;
  private bound = false;

  /** `arena` owns the tensor arrays and must outlive every execute. */
  constructor(
    private readonly runtime: GraphRuntime,
    handle: NativePointer,
    info: QnnGraphInfo,
    /** Index of the context binary holding the graph. */
    readonly ctxBin: number,
    private readonly memHandles: ContextMemHandles | null,
    arena: NativeArena,
    file: string,
  ) {
    this.name = info.name;
    this.executions = newGraphExecutions(info.name);
    this.inputs = info.inputs;
    this.outputs = info.outputs;
    const where = `context binary "${file}" graph "${info.name}"`;
    const inputs = encodeTensors(arena, info.inputs, where);
    const outputs = encodeTensors(arena, info.outputs, where);
    this.encodedInputs = inputs.encoded;
    this.encodedOutputs = outputs.encoded;
    this.inputArray = inputs.array;
    this.outputArray = outputs.array;
    this.graphExecute = runtime.core.fn('graphExecute');
    const profile = runtime.profiler?.handle ?? null;
    this.executeArgs = [handle, this.inputArray, info.inputs.length, this.outputArray, info.outputs.length, profile, null];
    this.executeLabel = `graph${runtime.executionQueue === null ? 'Execute' : 'ExecuteAsync'}("${info.name}")`;
    if (runtime.executionQueue !== null) {
      const executeAsync = runtime.core.fn('graphExecuteAsync');
      const args = [...this.executeArgs, runtime.executionQueue.notifyFn, 0];
      const last = args.length - 1;
      this.submitQueued = (notifyParam) => {
        args[last] = notifyParam;
        return executeAsync(...args) as number | bigint;
      };
    }
  }

  /**
   * Points the graph's tensors at views of this session's buffers (in metadata order). Every view is
   * checked (ownership, size, alignment) before anything native changes, so a rejected call leaves
   * the previous binding intact.
   */
  bind(inputs: readonly Uint8Array[], outputs: readonly Uint8Array[]): void {
    this.runtime.assertOpen(`bind "${this.name}"`);
    if (this.running > 0) {
      throw new InvalidArgumentError(`bind "${this.name}": ${this.running} execution(s) of the graph still read the bound tensors; bind once they have ended`);
    }
    const sides = [['inputs', inputs, this.encodedInputs], ['outputs', outputs, this.encodedOutputs]] as const;
    for (const [kind, views, tensors] of sides) {
      if (views.length !== tensors.length) {
        throw new InvalidArgumentError(`bind "${this.name}": ${views.length} ${kind} given, the graph has ${tensors.length}`);
      }
    }
    const tensors = [...this.encodedInputs, ...this.encodedOutputs];
    const views = [...inputs, ...outputs];
    const locations = tensors.map((tensor, i) => {
      const what = `bind "${this.name}": buffer for tensor "${tensor.info.name}"`;
      const view = views[i];
      const location = this.runtime.pool.locate(view, what);
      if (view.byteLength < tensor.byteLength) {
        throw new InvalidArgumentError(`${what} has ${view.byteLength} bytes, expected at least ${tensor.byteLength}`);
      }
      if (location.offset % tensor.elementBytes !== 0) {
        throw new InvalidArgumentError(`${what} starts at byte offset ${location.offset}, not aligned to ${tensor.elementBytes}`);
      }
      return location;
    });
    const memHandles = this.memHandles;
    const handles = tensors.map(({ info, dimsPointer }, i) =>
      memHandles !== null && locations[i].allocation.fd !== null
        ? memHandles.handleFor(locations[i], { dataType: info.dataType, dims: info.dims, dimsPointer })
        : null,
    );
    tensors.forEach((tensor, i) => {
      const handle = handles[i];
      if (handle === null) {
        writeU32(tensor.struct, TENSOR.memType, QnnTensorMemType.RAW);
        writePointer(tensor.struct, TENSOR.clientBufData, locations[i].address);
        writeU32(tensor.struct, TENSOR.clientBufDataSize, tensor.byteLength);
      } else {
        writeU32(tensor.struct, TENSOR.memType, QnnTensorMemType.MEMHANDLE);
        writePointer(tensor.struct, TENSOR.memHandle, handle);
        writeU32(tensor.struct, TENSOR.clientBufDataSize, 0);
      }
    });
    this.bound = true;
  }

  /** Runs the graph on the bound buffers (not `async`: the run's own promise, without another after it). */
  execute(): Promise<void> {
    const refused = this.refusal('execute');
    return refused ?? this.run(null);
  }

  /**
   * Queued mode: runs the graph once `previous`'s latest execution has ended with success, submitted
   * the moment the queue sees that end (see ExecutionQueue.submitAfter), so no turn of the JS thread
   * comes between them, whatever contexts they are in. Rejects with `QnnExecutionNotRunError` when
   * that execution failed or was not run; runs at once when it has already ended with success.
   */
  executeAfter(previous: QnnGraph): Promise<void> {
    const refused = this.refusal('executeAfter');
    if (refused !== null) return refused;
    if (this.runtime.executionQueue === null) {
      return Promise.reject(new InvalidArgumentError(`executeAfter "${this.name}": only in queued execute mode (this session's is "${this.runtime.executeMode}")`));
    }
    if (previous.runtime !== this.runtime) {
      return Promise.reject(new InvalidArgumentError(`executeAfter "${this.name}": graph "${previous.name}" belongs to another session`));
    }
    return this.run(previous);
  }

  /** The rejection of an execute that cannot run (the session disposed, the IO never bound), or null. */
  private refusal(verb: string): Promise<never> | null {
    if (!this.runtime.isDisposed && this.bound) return null;
    try {
      this.runtime.assertOpen(`${verb} "${this.name}"`);
      throw new QnnGraphNotBoundError(`${verb} "${this.name}": the graph's IO was never bound`);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Makes the native call before the first await in every mode (queued mode: unless it follows
   * `after`'s execution, then the queue makes it); in `queued` mode that call only
   * enqueues, and executions run in call order, so a caller may execute several graphs back to back
   * and await them afterwards.
   */
  private async run(after: QnnGraph | null): Promise<void> {
    const { runtime, executeArgs } = this;
    this.running++;
    runtime.executionStarted();
    try {
      const queue = runtime.executionQueue;
      const result =
        queue !== null
          ? await (after === null
            ? queue.submit(this.submitQueued!, this.executions)
            : queue.submitAfter(this.submitQueued!, this.executions, after.executions))
          : runtime.executeMode === 'async'
            ? await callAsync(this.executeLabel, this.graphExecute, ...executeArgs)
            : this.graphExecute(...executeArgs);
      runtime.core.check(this.executeLabel, result);
      runtime.profiler?.collect('execute', this.name);
    } finally {
      this.running--;
      runtime.executionEnded();
    }
  }
}
