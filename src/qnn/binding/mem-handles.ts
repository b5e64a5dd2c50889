/**
 * Zero-copy IO (docs/qnn-abi.md#htp-shared-buffer-descriptor): each tensor's region of a shared
 * (rpcmem) block is registered with the context as `QNN_MEM_TYPE_CUSTOM` + `QnnMemHtp_Descriptor_t`
 * SHARED_BUFFER {fd, offset}, which is how Genie registers many tensors in one allocation. Handles
 * belong to one context and are deregistered before it is freed.
 *
 * A region (fd, offset) can be registered once per context, for one shape. Graphs of one context
 * that share a buffer under different shapes (AR variants: `input_ids` [1,128] vs [1,1]) get the
 * handle only for the shape registered first; the others use the same memory as a raw client buffer.
 */
import koffi from 'koffi';
import { abi } from '../abi.js';
import { QnnHtpMemType, QnnMemType } from '../enums.js';
import type { QnnCoreApi } from './function-table.js';
import type { BufferLocation } from './memory.js';
import { NativeArena, type NativePointer } from './native.js';

/** What a registration needs to know about the tensor. */
export interface MemHandleTensor {
  readonly dataType: number;
  readonly dims: readonly number[];
  /** The tensor's native dims array (kept alive by the graph). */
  readonly dimsPointer: NativePointer | null;
}

interface Registration {
  readonly shape: string;
  readonly handle: NativePointer;
}

export class ContextMemHandles {
  private readonly regions = new Map<string, Registration>();

  constructor(
    private readonly core: QnnCoreApi,
    private readonly context: NativePointer,
    private readonly what: string,
  ) {}

  /**
   * The handle for `tensor` at `location`, registering the region on first use; null when the
   * region is already registered for another shape (use a raw client buffer then).
   */
  handleFor(location: BufferLocation, tensor: MemHandleTensor): NativePointer | null {
    const { allocation, offset } = location;
    const region = `${allocation.base}:${offset}`;
    const shape = `${tensor.dataType}:${tensor.dims.join('x')}`;
    const known = this.regions.get(region);
    if (known !== undefined) return known.shape === shape ? known.handle : null;
    const arena = new NativeArena();
    try {
      const htp = arena.bytes(koffi.sizeof(abi.QnnMemHtp_Descriptor_t));
      koffi.encode(htp, abi.QnnMemHtp_Descriptor_t, {
        type: QnnHtpMemType.SHARED_BUFFER,
        size: allocation.byteLength,
        u: { sharedBufferConfig: { fd: allocation.fd, offset } },
      });
      const descriptor = arena.bytes(koffi.sizeof(abi.Qnn_MemDescriptor_t));
      koffi.encode(descriptor, abi.Qnn_MemDescriptor_t, {
        memShape: { numDim: tensor.dims.length, dimSize: tensor.dimsPointer, shapeConfig: null },
        dataType: tensor.dataType,
        memType: QnnMemType.CUSTOM,
        u: { customInfo: htp },
      });
      const out: unknown[] = [null];
      this.core.check(`memRegister(${this.what})`, this.core.fn('memRegister')(this.context, descriptor, 1, out));
      const handle = out[0] as NativePointer;
      this.regions.set(region, { shape, handle });
      return handle;
    } finally {
      arena.free();
    }
  }

  /** Deregisters every handle (one call). */
  deregisterAll(): void {
    const handles = [...this.regions.values()].map((r) => r.handle);
    this.regions.clear();
    if (handles.length === 0) return;
    this.core.check(`memDeRegister(${this.what})`, this.core.fn('memDeRegister')(handles, handles.length));
  }
}
