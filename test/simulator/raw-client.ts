/**
 * A hand-written QNN client for the simulator tests: raw native memory, offsets and slot indices
 * written from docs/qnn-abi.md for these tests, independently of src/simulator/layout.ts,
 * src/qnn/slots.ts and the binding's Koffi declarations.
 */
import koffi from 'koffi';
import type { TypeObject } from 'koffi';
import type { SimulatedQnn } from '../../src/simulator/index.js';

export type Ptr = bigint;
export const NULL = 0n;

/** Core table indices (docs/qnn-abi.md#core-function-table). */
export const CORE = {
  propertyHasCapability: 0,
  backendCreate: 1,
  backendGetApiVersion: 3,
  backendGetBuildId: 4,
  backendFree: 8,
  contextCreateFromBinary: 13,
  contextFree: 14,
  graphRetrieve: 20,
  graphExecute: 21,
  logCreate: 25,
  logSetLogLevel: 26,
  logFree: 27,
  profileCreate: 28,
  profileGetEvents: 30,
  profileGetSubEvents: 31,
  profileGetEventData: 32,
  profileFree: 34,
  memRegister: 35,
  memDeRegister: 36,
  deviceGetPlatformInfo: 37,
  deviceFreePlatformInfo: 38,
  deviceGetInfrastructure: 39,
  deviceCreate: 40,
  deviceFree: 43,
  errorGetMessage: 48,
} as const;

/** System table indices (docs/qnn-abi.md#system-function-table). */
export const SYSTEM = { create: 0, getBinaryInfo: 1, getMetaData: 2, free: 3 } as const;

/** `Qnn_Tensor_t` absolute offsets (docs/qnn-abi.md#tensor-structs) and array stride. */
export const T = {
  version: 0,
  id: 8,
  name: 16,
  type: 24,
  dataFormat: 28,
  dataType: 32,
  quantDefinition: 40,
  quantEncoding: 44,
  scale: 48,
  offset: 52,
  rank: 80,
  dims: 88,
  memType: 96,
  data: 104,
  dataSize: 112,
  isDynamicDimensions: 120,
  sparseType: 128,
  isProduced: 140,
} as const;
export const TENSOR_STRIDE = 144;

const p = (signature: string) => koffi.proto(signature);
export const Proto = {
  getProviders: p('uint64_t (void *, void *)'),
  u32: p('uint64_t (uint32_t)'),
  ptr: p('uint64_t (void *)'),
  ptr2: p('uint64_t (void *, void *)'),
  ptr3: p('uint64_t (void *, void *, void *)'),
  ptrU32: p('uint64_t (void *, uint32_t)'),
  ptrU32Ptr: p('uint64_t (void *, uint32_t, void *)'),
  u64Ptr: p('uint64_t (uint64_t, void *)'),
  u64Ptr2: p('uint64_t (uint64_t, void *, void *)'),
  createFromBinary: p('uint64_t (void *, void *, void *, void *, uint64_t, void *, void *)'),
  execute: p('uint64_t (void *, void *, uint32_t, void *, uint32_t, void *, void *)'),
  memRegister: p('uint64_t (void *, void *, uint32_t, void *)'),
  getBinaryInfo: p('uint64_t (void *, void *, uint64_t, void *, void *)'),
  getMetaData: p('uint64_t (void *, void *, uint64_t, void *)'),
  createPowerConfigId: p('uint64_t (uint32_t, uint32_t, void *)'),
  setMemoryConfig: p('uint64_t (uint32_t, uint32_t, void *)'),
  setPowerConfig: p('uint64_t (uint32_t, void *)'),
  logCallback: p('void (void *, uint32_t, uint64_t, void *)'),
  rpcmemAlloc: p('void * (int, uint32_t, int)'),
  rpcmemFree: p('void (void *)'),
  rpcmemToFd: p('int (void *)'),
};

export interface Block {
  readonly ptr: Ptr;
  readonly view: DataView;
  readonly bytes: Uint8Array;
}

/** Native allocations freed together. */
export class Heap {
  private readonly blocks: Ptr[] = [];

  alloc(length: number): Block {
    const ptr = koffi.alloc('uint8_t', Math.max(length, 1)) as Ptr;
    this.blocks.push(ptr);
    const bytes = new Uint8Array(koffi.view(ptr, Math.max(length, 1))).subarray(0, length);
    bytes.fill(0);
    return { ptr, bytes, view: new DataView(bytes.buffer, bytes.byteOffset, length) };
  }

  cstr(text: string): Ptr {
    const encoded = new TextEncoder().encode(text);
    const block = this.alloc(encoded.length + 1);
    block.bytes.set(encoded);
    return block.ptr;
  }

  u32s(values: readonly number[]): Ptr {
    const block = this.alloc(values.length * 4);
    values.forEach((v, i) => block.view.setUint32(i * 4, v, true));
    return block.ptr;
  }

  /** A NULL-terminated pointer array. */
  list(pointers: readonly Ptr[]): Ptr {
    const block = this.alloc((pointers.length + 1) * 8);
    pointers.forEach((v, i) => block.view.setBigUint64(i * 8, v, true));
    return block.ptr;
  }

  /** A copy of `bytes` in native memory. */
  copy(bytes: Uint8Array): Block {
    const block = this.alloc(bytes.length);
    block.bytes.set(bytes);
    return block;
  }

  freeAll(): void {
    for (const ptr of this.blocks) koffi.free(ptr);
    this.blocks.length = 0;
  }
}

export const view = (ptr: Ptr, length: number): DataView => new DataView(koffi.view(ptr, length));
export const readPtr = (ptr: Ptr, offset = 0): Ptr => view(ptr, offset + 8).getBigUint64(offset, true);
export const readU32 = (ptr: Ptr, offset = 0): number => view(ptr, offset + 4).getUint32(offset, true);
export const readStr = (ptr: Ptr): string => koffi.decode.string(ptr);
export const codeOf = (rc: number | bigint): number => Number(BigInt(rc) & 0xffffn);

export interface Provider {
  readonly address: Ptr;
  readonly backendId: number;
  readonly name: string | null;
  readonly core: [number, number, number];
  readonly backendApi: [number, number, number];
}

/** Drives a simulated provider through its native entry points, the way a binding would. */
export class RawQnn {
  readonly heap = new Heap();
  readonly providers: Provider[];
  readonly htp: Provider;
  readonly system: Ptr;

  constructor(readonly sim: SimulatedQnn) {
    this.providers = this.list(sim.interfaceGetProviders).map((address) => {
      const v = view(address, 40);
      const name = v.getBigUint64(8, true);
      return {
        address,
        backendId: v.getUint32(0, true),
        name: name === NULL ? null : readStr(name),
        core: [v.getUint32(16, true), v.getUint32(20, true), v.getUint32(24, true)],
        backendApi: [v.getUint32(28, true), v.getUint32(32, true), v.getUint32(36, true)],
      };
    });
    this.htp = this.providers.find((p) => p.backendId === 6 && p.core[0] === 2)!;
    this.system = this.list(sim.systemInterfaceGetProviders)[0];
  }

  private list(getProviders: unknown): Ptr[] {
    const out = this.heap.alloc(8);
    const count = this.heap.alloc(4);
    const rc = koffi.call(getProviders, Proto.getProviders, out.ptr, count.ptr);
    if (codeOf(rc) !== 0) throw new Error(`getProviders failed: ${rc}`);
    const n = count.view.getUint32(0, true);
    const list = out.view.getBigUint64(0, true);
    return Array.from({ length: n }, (_, i) => readPtr(list, i * 8));
  }

  coreSlot(index: number, provider: Provider = this.htp): Ptr {
    return readPtr(provider.address, 40 + index * 8);
  }

  systemSlot(index: number): Ptr {
    return readPtr(this.system, 32 + index * 8);
  }

  call(index: number, proto: TypeObject, ...args: unknown[]): number {
    const fn = this.coreSlot(index);
    if (fn === NULL) throw new Error(`core slot ${index} is NULL`);
    return Number(koffi.call(fn, proto, ...args));
  }

  callSystem(index: number, proto: TypeObject, ...args: unknown[]): number {
    return Number(koffi.call(this.systemSlot(index), proto, ...args));
  }

  /** The same call through Koffi's worker thread. */
  callAsync(index: number, proto: TypeObject, ...args: unknown[]): Promise<number> {
    const fn = koffi.decode(this.coreSlot(index), proto) as { async: (...a: unknown[]) => void };
    return new Promise((resolve, reject) =>
      fn.async(...args, (error: unknown, rc: number | bigint) => (error ? reject(error) : resolve(Number(rc)))),
    );
  }

  message(rc: number): string {
    const out = this.heap.alloc(8);
    const status = this.call(CORE.errorGetMessage, Proto.u64Ptr, rc, out.ptr);
    if (status !== 0) throw new Error(`errorGetMessage failed: ${status}`);
    return readStr(out.view.getBigUint64(0, true));
  }

  /** Throws with the QNN message unless `rc` is success. */
  ok(rc: number): void {
    if (codeOf(rc) !== 0) throw new Error(`QNN error ${codeOf(rc)}: ${this.message(rc)}`);
  }

  /** Calls a function with an out-handle as its last argument and returns the handle. */
  create(index: number, proto: TypeObject, ...args: unknown[]): Ptr {
    const out = this.heap.alloc(8);
    this.ok(this.call(index, proto, ...args, out.ptr));
    return out.view.getBigUint64(0, true);
  }

  /** Asserts `rc` failed with `code` and returns its message. */
  failure(rc: number, code: number): string {
    const message = this.message(rc);
    if (codeOf(rc) !== code) throw new Error(`expected QNN error ${code}, got ${codeOf(rc)}: ${message}`);
    return message;
  }

  dispose(): void {
    this.heap.freeAll();
  }
}

/** A tensor to encode into a `Qnn_Tensor_t` array. */
export interface WireTensorSpec {
  version?: number;
  id: number;
  name: string | null;
  type: number;
  dataFormat?: number;
  dataType: number;
  quant?: { definition: number; encoding: number; scale: number; offset: number };
  dims: readonly number[] | null;
  rank?: number;
  memType?: number;
  data?: Ptr;
  dataSize?: number;
  memHandle?: Ptr;
  isDynamicDimensions?: Ptr;
}

/** Writes `tensors` as a `Qnn_Tensor_t` array (stride 144) and returns the block. */
export function encodeTensors(heap: Heap, tensors: readonly WireTensorSpec[]): Block {
  const block = heap.alloc(Math.max(1, tensors.length) * TENSOR_STRIDE);
  tensors.forEach((t, i) => writeTensor(heap, block.view, i * TENSOR_STRIDE, t));
  return block;
}

export function writeTensor(heap: Heap, v: DataView, at: number, t: WireTensorSpec): void {
  const version = t.version ?? 2;
  v.setUint32(at + T.version, version, true);
  v.setUint32(at + T.id, t.id, true);
  v.setBigUint64(at + T.name, t.name === null ? NULL : heap.cstr(t.name), true);
  v.setUint32(at + T.type, t.type, true);
  v.setUint32(at + T.dataFormat, t.dataFormat ?? 0, true);
  v.setUint32(at + T.dataType, t.dataType, true);
  const q = t.quant ?? { definition: 0x7fffffff, encoding: 0x7fffffff, scale: 0, offset: 0 };
  v.setUint32(at + T.quantDefinition, q.definition, true);
  v.setUint32(at + T.quantEncoding, q.encoding, true);
  v.setFloat32(at + T.scale, q.scale, true);
  v.setInt32(at + T.offset, q.offset, true);
  v.setUint32(at + T.rank, t.rank ?? t.dims?.length ?? 0, true);
  v.setBigUint64(at + T.dims, t.dims === null ? NULL : heap.u32s(t.dims), true);
  v.setUint32(at + T.memType, t.memType ?? 0, true);
  if (t.memHandle !== undefined) v.setBigUint64(at + T.data, t.memHandle, true);
  else {
    v.setBigUint64(at + T.data, t.data ?? NULL, true);
    v.setUint32(at + T.dataSize, t.dataSize ?? 0, true);
  }
  if (version === 2) {
    v.setBigUint64(at + T.isDynamicDimensions, t.isDynamicDimensions ?? NULL, true);
    v.setUint32(at + T.sparseType, 0x7fffffff, true);
  }
}
