/**
 * Shared buffers: a stand-in for FastRPC rpcmem (native memory with fake fds) and QnnMem
 * registration of those fds (docs/qnn-abi.md#shared-memory): ION (one buffer per tensor) or CUSTOM
 * with an HTP SHARED_BUFFER descriptor (a tensor at an offset in a larger buffer). DMA_BUF is not
 * supported, as propertyHasCapability reports.
 */
import { byteSize, dataTypeName, type DataTypeName } from '../tensor/dtype.js';
import { elementCount } from '../tensor/shape.js';
import { QnnHtpMemType, QnnMemType } from '../qnn/enums.js';
import { Code, fail } from './failure.js';
import { HtpMemDescriptor, MemDescriptor } from './layout.js';
import {
  addressOf,
  hex,
  NativeArena,
  nativeView,
  NULL,
  readPointer,
  type Address,
  type PointerArg,
} from './native.js';
import { RpcmemProtos } from './protos.js';
import type { SimMem } from './records.js';
import type { Handler, Simulator } from './simulator.js';

interface RpcmemBuffer {
  readonly fd: number;
  readonly size: number;
  readonly arena: NativeArena;
}

/** What the simulated rpcmem has seen, for lifetime tests (calls are counted by `SimulatedQnn.calls`). */
export interface SimulatedRpcmemStats {
  /** Blocks allocated and not yet freed, and their bytes. */
  readonly live: number;
  readonly liveBytes: number;
  /**
   * `rpcmem_free` calls on a pointer that is not a live block (NULL excepted): a double free or a
   * foreign pointer, which on a device corrupts the heap. Such a call does nothing here.
   */
  readonly strayFrees: number;
}

/**
 * Native function pointers with the C signatures of `rpcmem_alloc`, `rpcmem_free`, `rpcmem_to_fd`,
 * and the allocator's counters. Disposing the provider frees the blocks still live (as the end of
 * the process would) and unregisters these functions: free every block before.
 */
export interface SimulatedRpcmem {
  readonly alloc: unknown;
  readonly free: unknown;
  readonly toFd: unknown;
  stats(): SimulatedRpcmemStats;
}

const FIRST_FAKE_FD = 1000;
const MAX_DIMS = 16;

export class SimMemory {
  readonly rpcmem: SimulatedRpcmem;
  private readonly buffers = new Map<Address, RpcmemBuffer>();
  private readonly byFd = new Map<number, Address>();
  private nextFd = FIRST_FAKE_FD;
  private liveBytes = 0;
  private strayFrees = 0;
  /** Bumped whenever a mem handle dies, so cached execute decodes re-check their handles. */
  generation = 0;

  constructor(private readonly sim: Simulator) {
    this.rpcmem = {
      alloc: sim.serveRaw('rpcmemAlloc', RpcmemProtos.rpcmemAlloc, this.alloc),
      free: sim.serveRaw('rpcmemFree', RpcmemProtos.rpcmemFree, this.free),
      toFd: sim.serveRaw('rpcmemToFd', RpcmemProtos.rpcmemToFd, this.toFd),
      stats: () => ({ live: this.buffers.size, liveBytes: this.liveBytes, strayFrees: this.strayFrees }),
    };
    sim.onDispose(() => {
      for (const buffer of this.buffers.values()) buffer.arena.free();
      this.buffers.clear();
      this.byFd.clear();
      this.liveBytes = 0;
    });
  }

  /** Live rpcmem buffers. */
  get live(): number {
    return this.buffers.size;
  }

  /** Deregisters `handle` (live) from its context. */
  release(handle: Address): void {
    const mem = this.sim.memHandles.get(handle)!;
    this.sim.contexts.get(mem.context)?.memHandles.delete(handle);
    this.sim.memHandles.release(handle);
    this.generation++;
  }

  handlers(): Record<'memRegister' | 'memDeRegister', Handler> {
    return {
      memRegister: (context: PointerArg, descriptors: PointerArg, count: number, outHandles: PointerArg): void => {
        const contextHandle = addressOf(context);
        const ctx = this.sim.contexts.get(contextHandle);
        if (ctx === undefined) fail(Code.MEM_INVALID_HANDLE, `context ${hex(contextHandle)} is not a live context handle`);
        if (addressOf(descriptors) === NULL || count === 0 || addressOf(outHandles) === NULL) {
          fail(Code.MEM_INVALID_ARGUMENT, `memDescriptors, numDescriptors (${count}) and memHandles must be non-NULL/non-zero`);
        }
        const taken = new Set([...ctx.memHandles].map((h) => regionKey(this.sim.memHandles.get(h)!)));
        const mems: SimMem[] = [];
        for (let i = 0; i < count; i++) {
          const mem = this.decode(contextHandle, addressOf(descriptors) + BigInt(i * MemDescriptor.size), i);
          const key = regionKey(mem);
          if (taken.has(key)) {
            fail(Code.MEM_ALREADY_REGISTERED, `memDescriptors[${i}]: fd ${mem.fd} offset ${mem.offset} is already registered in this context`);
          }
          taken.add(key);
          mems.push(mem);
        }
        const out = nativeView(addressOf(outHandles), count * 8);
        mems.forEach((mem, i) => {
          const handle = this.sim.memHandles.issue(mem);
          ctx.memHandles.add(handle);
          out.setBigUint64(i * 8, handle, true);
        });
      },
      memDeRegister: (handles: PointerArg, count: number): void => {
        if (addressOf(handles) === NULL || count === 0) {
          fail(Code.MEM_INVALID_ARGUMENT, `memHandles and numHandles (${count}) must be non-NULL/non-zero`);
        }
        const view = nativeView(addressOf(handles), count * 8);
        const list = Array.from({ length: count }, (_, i) => view.getBigUint64(i * 8, true));
        list.forEach((handle, i) => {
          if (!this.sim.memHandles.has(handle)) fail(Code.MEM_INVALID_HANDLE, `memHandles[${i}] ${hex(handle)} is not a registered mem handle`);
        });
        for (const handle of new Set(list)) this.release(handle);
      },
    };
  }

  private decode(context: Address, at: Address, index: number): SimMem {
    const where = `memDescriptors[${index}]`;
    const view = nativeView(at, MemDescriptor.size);
    const numDim = view.getUint32(MemDescriptor.numDim, true);
    const dimSize = readPointer(view, MemDescriptor.dimSize);
    if (numDim === 0 || numDim > MAX_DIMS || dimSize === NULL) {
      fail(Code.MEM_INVALID_SHAPE, `${where}.memShape: numDim ${numDim} with dimSize ${hex(dimSize)} is not a shape`);
    }
    const dimsView = nativeView(dimSize, numDim * 4);
    const dims = Array.from({ length: numDim }, (_, i) => dimsView.getUint32(i * 4, true));
    if (dims.includes(0)) fail(Code.MEM_INVALID_SHAPE, `${where}.memShape.dimSize [${dims}] has a zero dimension`);
    const dataTypeValue = view.getUint32(MemDescriptor.dataType, true);
    let dataType: DataTypeName;
    try {
      dataType = dataTypeName(dataTypeValue);
    } catch {
      return fail(Code.MEM_INVALID_ARGUMENT, `${where}.dataType 0x${dataTypeValue.toString(16)} is not a Qnn_DataType_t`);
    }
    const bytes = elementCount(dims) * byteSize(dataType);
    const memType = view.getUint32(MemDescriptor.memType, true);
    if (memType === QnnMemType.ION) {
      const fd = view.getInt32(MemDescriptor.ionFd, true);
      const buffer = this.bufferOf(fd, `${where}.ionInfo.fd`);
      if (bytes > buffer.size) {
        fail(Code.MEM_INVALID_ARGUMENT, `${where}: the ${bytes}-byte tensor does not fit the ${buffer.size}-byte buffer of fd ${fd}`);
      }
      return { context, dataType, dims, fd, offset: 0n, address: this.byFd.get(fd)!, bytes };
    }
    if (memType === QnnMemType.CUSTOM) {
      const custom = readPointer(view, MemDescriptor.customInfo);
      if (custom === NULL) fail(Code.MEM_INVALID_ARGUMENT, `${where}.customInfo is NULL`);
      const htp = nativeView(custom, 32);
      const type = htp.getUint32(HtpMemDescriptor.type, true);
      if (type !== QnnHtpMemType.SHARED_BUFFER) {
        fail(Code.MEM_UNSUPPORTED_MEMTYPE, `${where}.customInfo.type ${type} is not SHARED_BUFFER (1)`);
      }
      const size = htp.getBigUint64(HtpMemDescriptor.size, true);
      const fd = htp.getInt32(HtpMemDescriptor.fd, true);
      const offset = htp.getBigUint64(HtpMemDescriptor.offset, true);
      const buffer = this.bufferOf(fd, `${where}.customInfo.sharedBufferConfig.fd`);
      if (size > BigInt(buffer.size)) {
        fail(Code.MEM_MAPPING, `${where}.customInfo.size ${size} exceeds the ${buffer.size}-byte buffer of fd ${fd}`);
      }
      if (offset + BigInt(bytes) > size) {
        fail(Code.MEM_INVALID_ARGUMENT, `${where}: offset ${offset} + ${bytes} tensor bytes exceed customInfo.size ${size}`);
      }
      return { context, dataType, dims, fd, offset, address: this.byFd.get(fd)! + offset, bytes };
    }
    return fail(Code.MEM_UNSUPPORTED_MEMTYPE, `${where}.memType ${memType} is not ION (1) or CUSTOM (2)`);
  }

  private bufferOf(fd: number, where: string): RpcmemBuffer {
    const address = this.byFd.get(fd);
    if (address === undefined) fail(Code.MEM_MAPPING, `${where} ${fd} is not the fd of a live rpcmem buffer`);
    return this.buffers.get(address)!;
  }

  private readonly alloc = (_heapId: number, _flags: number, size: number): Address => {
    if (!Number.isInteger(size) || size <= 0) return NULL;
    const arena = new NativeArena();
    const address = arena.alloc(size).address;
    const fd = this.nextFd++;
    this.buffers.set(address, { fd, size, arena });
    this.byFd.set(fd, address);
    this.liveBytes += size;
    return address;
  };

  private readonly free = (pointer: PointerArg): void => {
    const buffer = this.buffers.get(addressOf(pointer));
    if (buffer === undefined) {
      if (addressOf(pointer) !== NULL) this.strayFrees++;
      return;
    }
    this.liveBytes -= buffer.size;
    buffer.arena.free();
    this.buffers.delete(addressOf(pointer));
    this.byFd.delete(buffer.fd);
  };

  private readonly toFd = (pointer: PointerArg): number => this.buffers.get(addressOf(pointer))?.fd ?? -1;
}

const regionKey = (mem: SimMem): string => `${mem.fd}:${mem.offset}`;
