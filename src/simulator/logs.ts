/**
 * QnnLog handles and the messages the simulator sends to their callbacks.
 *
 * A JS-served backend cannot build a `va_list` the C way, so it builds the callee's view of one:
 * on x86-64 System V (Linux, macOS, ...) a real `va_list` whose register save areas are marked
 * exhausted and whose overflow area holds the arguments, sent with format "%s"; the callee's
 * `vsnprintf` then really reads the message through it. Elsewhere (AArch64, Windows) the message is
 * sent as the format itself, with every '%' doubled so no conversion reads the `va_list`, and the
 * `va_list` pointer addresses valid zeroed memory in case the callee copies it.
 */
import koffi from 'koffi';
import { QnnLogLevel } from '../qnn/enums.js';
import { Code, fail } from './failure.js';
import type { HandleSequence } from './handles.js';
import { HandleTable } from './handles.js';
import { SysVVaList } from './layout.js';
import { addressOf, hex, NativeArena, NULL, storePointer, writePointer, type Address, type PointerArg } from './native.js';
import { LogCallbackProto } from './protos.js';
import type { Handler } from './simulator.js';

interface SimLog {
  readonly callback: Address;
  maxLevel: number;
}

const isLevel = (level: number): boolean => level >= QnnLogLevel.ERROR && level <= QnnLogLevel.DEBUG;

const realVaList = process.arch === 'x64' && process.platform !== 'win32';

export class SimLogs {
  readonly table: HandleTable<SimLog>;
  private readonly start = process.hrtime.bigint();

  constructor(sequence: HandleSequence) {
    this.table = new HandleTable<SimLog>(sequence);
  }

  private create(callback: Address, maxLevel: number): Address {
    if (!isLevel(maxLevel)) fail(Code.LOG_INVALID_ARGUMENT, `maxLogLevel ${maxLevel} is not a QnnLog_Level_t (1..5)`);
    return this.table.issue({ callback, maxLevel });
  }

  private setLevel(handle: Address, maxLevel: number): void {
    const log = this.live(handle);
    if (!isLevel(maxLevel)) fail(Code.LOG_INVALID_ARGUMENT, `maxLogLevel ${maxLevel} is not a QnnLog_Level_t (1..5)`);
    log.maxLevel = maxLevel;
  }

  private free(handle: Address): void {
    this.live(handle);
    this.table.release(handle);
  }

  handlers(): Record<'logCreate' | 'logSetLogLevel' | 'logFree', Handler> {
    return {
      logCreate: (callback: PointerArg, maxLevel: number, out: PointerArg): void => {
        if (addressOf(out) === NULL) fail(Code.LOG_INVALID_ARGUMENT, 'logger out-pointer is NULL');
        storePointer(addressOf(out), this.create(addressOf(callback), maxLevel));
      },
      logSetLogLevel: (handle: PointerArg, maxLevel: number): void => this.setLevel(addressOf(handle), maxLevel),
      logFree: (handle: PointerArg): void => this.free(addressOf(handle)),
    };
  }

  /** `handle` is NULL (no log) or a live log; throws `code` otherwise. */
  requireOptional(handle: Address, code: number, what: string): void {
    if (handle !== NULL && !this.table.has(handle)) {
      fail(code, `${what} ${hex(handle)} is not a live log handle`);
    }
  }

  /** Whether some live log with a callback takes messages of `level`. */
  admits(level: number): boolean {
    for (const log of this.table.values()) if (log.callback !== NULL && level <= log.maxLevel) return true;
    return false;
  }

  /** Sends `message` to every live log whose level admits `level` and that has a callback. */
  emit(level: number, message: string): void {
    for (const log of this.table.values()) {
      if (log.callback === NULL || level > log.maxLevel) continue;
      const arena = new NativeArena();
      try {
        const timestamp = (process.hrtime.bigint() - this.start) / 1000n;
        const { format, vaList } = realVaList ? sysVCall(arena, message) : literalCall(arena, message);
        koffi.call(log.callback, LogCallbackProto, format, level, timestamp, vaList);
      } catch {
        // A throwing log callback must not change the outcome of the call being logged.
      } finally {
        arena.free();
      }
    }
  }

  private live(handle: Address): SimLog {
    const log = this.table.get(handle);
    if (log === undefined) fail(Code.LOG_INVALID_HANDLE, `log ${hex(handle)} is not a live log handle`);
    return log;
  }
}

function sysVCall(arena: NativeArena, message: string): { format: Address; vaList: Address } {
  const args = arena.alloc(8);
  writePointer(args.view, 0, arena.string(message));
  const vaList = arena.alloc(SysVVaList.size);
  vaList.view.setUint32(SysVVaList.gpOffset, SysVVaList.gpOffsetExhausted, true);
  vaList.view.setUint32(SysVVaList.fpOffset, SysVVaList.fpOffsetExhausted, true);
  writePointer(vaList.view, SysVVaList.overflowArgArea, args.address);
  return { format: arena.string('%s'), vaList: vaList.address };
}

/** Largest `va_list` object of the supported ABIs (AArch64 AAPCS: 32 bytes). */
const VA_LIST_STORAGE = 32;

function literalCall(arena: NativeArena, message: string): { format: Address; vaList: Address } {
  return { format: arena.string(message.replaceAll('%', '%%')), vaList: arena.alloc(VA_LIST_STORAGE).address };
}
