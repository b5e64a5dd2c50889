/**
 * QnnSystemContext (docs/qnn-abi.md#qnnsystem-calls): binary info of reference ctx-bins. Every
 * answer stays valid until systemContextFree of the handle it was asked through.
 */
import { readCtxBinGraphs } from '../backends/reference/from-bytes.js';
import type { GraphSpec } from '../graphs/spec.js';
import { writeBinaryInfo } from './binary-info.js';
import { binaryBytes } from './contexts.js';
import { Code, fail } from './failure.js';
import { layoutGraphs } from './graph-layout.js';
import { HandleTable } from './handles.js';
import { addressOf, hex, NativeArena, NULL, storePointer, storeUint64, type Address, type PointerArg } from './native.js';
import type { ServedSystemSlot } from './protos.js';
import type { Handler, Simulator } from './simulator.js';

export class SimSystem {
  /** Each system context and the native memory of the binary infos it answered. */
  private readonly table: HandleTable<NativeArena[]>;

  constructor(private readonly sim: Simulator) {
    this.table = new HandleTable(sim.sequence);
    sim.onDispose(() => {
      for (const arenas of this.table.values()) for (const arena of arenas) arena.free();
    });
  }

  get live(): number {
    return this.table.size;
  }

  handlers(): Record<ServedSystemSlot, Handler> {
    return {
      systemContextCreate: (out: PointerArg): void => {
        if (addressOf(out) === NULL) fail(Code.SYSTEM_CONTEXT_INVALID_ARGUMENT, 'sysCtxHandle out-pointer is NULL');
        storePointer(addressOf(out), this.table.issue([]));
      },
      systemContextGetBinaryInfo: (
        handle: PointerArg,
        buffer: PointerArg,
        size: number | bigint,
        outInfo: PointerArg,
        outSize: PointerArg,
      ): void => {
        this.arenas(addressOf(handle));
        if (addressOf(outSize) === NULL) fail(Code.SYSTEM_CONTEXT_INVALID_ARGUMENT, 'binaryInfoSize out-pointer is NULL');
        const { address, bytes } = this.answer(addressOf(handle), addressOf(buffer), size, addressOf(outInfo));
        storeUint64(addressOf(outSize), BigInt(bytes));
        storePointer(addressOf(outInfo), address);
      },
      systemContextGetMetaData: (handle: PointerArg, buffer: PointerArg, size: number | bigint, outInfo: PointerArg): void => {
        storePointer(addressOf(outInfo), this.answer(addressOf(handle), addressOf(buffer), size, addressOf(outInfo)).address);
      },
      systemContextFree: (handle: PointerArg): void => {
        const arenas = this.arenas(addressOf(handle));
        for (const arena of arenas) arena.free();
        this.table.release(addressOf(handle));
      },
    };
  }

  /** Parses the binary and writes its info into memory owned by system context `handle`. */
  private answer(handle: Address, buffer: Address, size: number | bigint, outInfo: Address): { address: Address; bytes: number } {
    const arenas = this.arenas(handle);
    if (outInfo === NULL) fail(Code.SYSTEM_CONTEXT_INVALID_ARGUMENT, 'binaryInfo out-pointer is NULL');
    const bytes = binaryBytes(buffer, size, true, Code.SYSTEM_CONTEXT_INVALID_ARGUMENT);
    let graphs: readonly GraphSpec[];
    try {
      graphs = readCtxBinGraphs(bytes, `binary of ${bytes.byteLength} bytes`);
    } catch (error) {
      return fail(Code.SYSTEM_CONTEXT_MALFORMED_BINARY, `not a context binary: ${(error as Error).message}`);
    }
    const arena = new NativeArena();
    arenas.push(arena);
    const address = writeBinaryInfo(arena, layoutGraphs(graphs), bytes.byteLength, this.sim.options);
    return { address, bytes: arena.bytes };
  }

  private arenas(handle: Address): NativeArena[] {
    const arenas = this.table.get(handle);
    if (arenas === undefined) fail(Code.SYSTEM_CONTEXT_INVALID_HANDLE, `system context ${hex(handle)} is not a live handle`);
    return arenas;
  }
}
