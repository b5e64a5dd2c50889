/**
 * Reference ctx-bins read from their bytes instead of a path: what a simulated QNN provider gets
 * in `contextCreateFromBinary` / `systemContextGetBinaryInfo`. Synchronous, because a provider
 * answers from inside a native call. The container is the same safetensors layout the file reader
 * handles (8-byte LE header length, JSON header, data); weights must be F32, F16 or BF16.
 */
import { InvalidArgumentError } from '../../errors.js';
import type { GraphSpec } from '../../graphs/spec.js';
import { float16ArrayToFloat32 } from '../../tensor/fp16.js';
import { CtxBinError } from './errors.js';
import { BoundGraph, checkBuffers } from './executor.js';
import { parseCtxBinMetadata } from './metadata.js';
import { elementCount, type ReferenceModel } from './model.js';
import { planGraph, type GraphPlan } from './plan.js';
import { readPartWeights, weightNeedsOf, type PartWeights, type WeightSource } from './weights.js';

const FLOAT_DTYPE_BYTES = { F32: 4, F16: 2, BF16: 2 } as const;
type FloatDType = keyof typeof FLOAT_DTYPE_BYTES;

interface TensorSlice {
  readonly dtype: FloatDType;
  readonly shape: readonly number[];
  /** Byte offset of the tensor inside the image. */
  readonly start: number;
}

const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A safetensors image in memory whose float tensors are read as float32 (views when aligned F32). */
class SafetensorsImage implements WeightSource<Float32Array> {
  constructor(
    private readonly bytes: Uint8Array,
    readonly path: string,
    readonly metadata: Readonly<Record<string, string>>,
    readonly tensors: ReadonlyMap<string, TensorSlice>,
  ) {}

  readFloat32(name: string): Float32Array {
    const { dtype, shape, start } = this.tensors.get(name)!;
    const count = elementCount(shape);
    const width = FLOAT_DTYPE_BYTES[dtype];
    const at = this.bytes.byteOffset + start;
    // Typed-array views need an element-aligned offset; misaligned tensors are copied first.
    const source =
      at % width === 0
        ? { buffer: this.bytes.buffer, offset: at }
        : { buffer: this.bytes.slice(start, start + count * width).buffer, offset: 0 };
    switch (dtype) {
      case 'F32':
        return new Float32Array(source.buffer, source.offset, count);
      case 'F16':
        return float16ArrayToFloat32(new Uint16Array(source.buffer, source.offset, count), new Float32Array(count));
      case 'BF16': {
        const halves = new Uint16Array(source.buffer, source.offset, count);
        const words = new Uint32Array(count);
        for (let i = 0; i < count; i++) words[i] = halves[i] << 16;
        return new Float32Array(words.buffer);
      }
    }
  }
}

/** Parses the safetensors container in `bytes`; throws `CtxBinError` naming `path` and the key. */
function parseSafetensorsImage(bytes: Uint8Array, path: string): SafetensorsImage {
  const fail = (what: string): never => {
    throw new CtxBinError(`reference ctx-bin "${path}": ${what}`);
  };
  if (bytes.byteLength < 8) fail(`${bytes.byteLength} bytes is too short for a safetensors header`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(bytes.byteLength - 8)) {
    fail(`safetensors header length ${headerLength} exceeds the ${bytes.byteLength - 8} bytes after it`);
  }
  const dataStart = 8 + Number(headerLength);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch (cause) {
    fail(`safetensors header is not valid JSON: ${(cause as Error).message}`);
  }
  if (!isObject(header)) return fail('safetensors header is not a JSON object');
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorSlice>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isObject(entry)) fail('"__metadata__" is not a JSON object');
      for (const [key, value] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof value !== 'string') fail(`"__metadata__.${key}" is not a string`);
        metadata[key] = value as string;
      }
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = isObject(entry) ? entry : fail(`tensor "${name}" is not an object`);
    if (typeof dtype !== 'string' || !Object.prototype.hasOwnProperty.call(FLOAT_DTYPE_BYTES, dtype)) {
      fail(`tensor "${name}": dtype ${JSON.stringify(dtype)} is not a float weight dtype (F32, F16, BF16)`);
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      fail(`tensor "${name}": shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      fail(`tensor "${name}": data_offsets ${JSON.stringify(offsets)} is not [begin, end]`);
    }
    const [begin, end] = offsets as [number, number];
    const span = elementCount(shape as number[]) * FLOAT_DTYPE_BYTES[dtype as FloatDType];
    if (end - begin !== span || dataStart + end > bytes.byteLength) {
      fail(
        `tensor "${name}": data_offsets [${begin}, ${end}] do not hold its ${span} bytes within the ` +
          `${bytes.byteLength - dataStart}-byte data section`,
      );
    }
    tensors.set(name, { dtype: dtype as FloatDType, shape: shape as number[], start: dataStart + begin });
  }
  return new SafetensorsImage(bytes, path, metadata, tensors);
}

interface ParsedCtxBin {
  readonly image: SafetensorsImage;
  readonly model: ReferenceModel;
  readonly plans: readonly GraphPlan[];
}

function parseCtxBin(bytes: Uint8Array, label: string): ParsedCtxBin {
  const image = parseSafetensorsImage(bytes, label);
  const { model, graphs } = parseCtxBinMetadata(image.metadata, label);
  return { image, model, plans: graphs.map((graph, i) => planGraph(graph, i, 0, model, label)) };
}

/**
 * The graphs of the reference ctx-bin in `bytes`, validated as on load (container, metadata, each
 * graph's IO); weights are not read. Throws `CtxBinError` naming `label` and the key.
 */
export function readCtxBinGraphs(bytes: Uint8Array, label: string): readonly GraphSpec[] {
  return parseCtxBin(bytes, label).plans.map((plan) => plan.spec);
}

/** One graph bound to byte views of its IO; `run` reads the inputs and writes the outputs. */
export interface RunnableGraph {
  run(): void;
}

/** A reference ctx-bin loaded from memory: its graphs, runnable on caller-provided IO bytes. */
export class ReferenceCtxBinProgram {
  readonly graphs: readonly GraphSpec[];
  private readonly plans: ReadonlyMap<string, GraphPlan>;

  constructor(
    plans: readonly GraphPlan[],
    private readonly model: ReferenceModel,
    private readonly weights: PartWeights,
  ) {
    this.graphs = plans.map((plan) => plan.spec);
    this.plans = new Map(plans.map((plan) => [plan.spec.name, plan]));
  }

  /**
   * Binds graph `graph` to `buffers` (tensor name -> bytes, each at least the tensor's size and
   * element-aligned); throws `InvalidArgumentError` naming the graph and tensor otherwise.
   */
  bind(graph: string, buffers: ReadonlyMap<string, Uint8Array>): RunnableGraph {
    const plan = this.plans.get(graph);
    if (plan === undefined) {
      throw new InvalidArgumentError(`bind: unknown graph "${graph}" (graphs: ${[...this.plans.keys()].join(', ')})`);
    }
    checkBuffers(plan, buffers);
    return new BoundGraph(plan, this.model, this.weights, buffers);
  }
}

/**
 * Loads the reference ctx-bin in `bytes` (graphs and the weights they use). F32 weights are views
 * of `bytes` when aligned, so `bytes` must stay unchanged while the program is used. Throws
 * `CtxBinError` naming `label` and the key.
 */
export function loadCtxBinProgram(bytes: Uint8Array, label: string): ReferenceCtxBinProgram {
  const { image, model, plans } = parseCtxBin(bytes, label);
  return new ReferenceCtxBinProgram(plans, model, readPartWeights(image, model, weightNeedsOf(plans)));
}
