/**
 * A native `Qnn_NotifyFn_t` that only stores the execution's status at `notifyParam`:
 * `void notify(void *param, uint64 status) { *(uint64 *)param = status; }` (release store), as a
 * few bytes of machine code in a page of its own, made executable once per process and never
 * freed.
 *
 * Why native: a Koffi callback called from a backend thread is handed to the JS thread through
 * Node's event loop (a thread-safe function), and the backend thread waits until JS has run it. A
 * queued execution's end would then take two thread wake-ups to reach JS (tens of microseconds
 * each on a busy or idle host), and the backend thread that reports it would stall meanwhile. With
 * this function the backend thread stores the status and returns at once; the JS thread polls
 * the stored words (./execution-queue.ts). No compiler is needed on the device: the two
 * instructions are written out here for the architectures QNN's HTP backend runs on (checked by
 * test/qnn/status-store.test.ts, with llvm-mc where it is installed).
 *
 * Linux and Android only (mmap + mprotect from the C library): on arm64 a fresh anonymous page that
 * becomes executable has its instruction cache made coherent by the kernel when it is mapped
 * executable, so the page is written once, then made read + execute, and never changed. Elsewhere
 * (and wherever the page cannot be made executable, e.g. a policy forbidding it) there is no
 * store function, and the queue falls back to a Koffi callback.
 */
import koffi from 'koffi';
import { isMapped, loadLibc, MAP_ANONYMOUS, MAP_PRIVATE, PROT_EXEC, PROT_READ, PROT_WRITE } from './libc.js';
import type { NativePointer } from './native.js';

/** `mov qword ptr [rdi], rsi; ret` (System V x86-64: param in rdi, status in rsi). */
const X64_SYSV = [0x48, 0x89, 0x37, 0xc3];
/** `stlr x1, [x0]; ret` (AAPCS64: param in x0, status in x1; store-release). */
const ARM64 = [0x01, 0xfc, 0x9f, 0xc8, 0xc0, 0x03, 0x5f, 0xd6];

/** The machine code of the store function for `arch` on Linux/Android, or undefined. */
export function statusStoreCode(arch: string): readonly number[] | undefined {
  if (arch === 'x64') return X64_SYSV;
  if (arch === 'arm64') return ARM64;
  return undefined;
}

/** mmap rounds up to whole pages; mprotect takes the same length (any page size from 4 KiB). */
const PAGE = 4096;

export type StatusStore = { readonly fn: NativePointer; readonly reason?: undefined } | { readonly fn?: undefined; readonly reason: string };

let made: StatusStore | undefined;

function make(): StatusStore {
  const code = process.platform === 'linux' || process.platform === 'android' ? statusStoreCode(process.arch) : undefined;
  if (code === undefined) return { reason: `no native status store on ${process.platform}/${process.arch}` };
  type CFunction = (...args: unknown[]) => unknown;
  let mmap: CFunction;
  let mprotect: CFunction;
  let munmap: CFunction;
  try {
    const libc = loadLibc();
    mmap = libc.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)') as CFunction;
    mprotect = libc.func('int mprotect(void *addr, size_t length, int prot)') as CFunction;
    munmap = libc.func('int munmap(void *addr, size_t length)') as CFunction;
  } catch (error) {
    return { reason: `the C library's mmap/mprotect could not be loaded: ${(error as Error).message}` };
  }
  const page = mmap(null, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) as bigint | null;
  if (!isMapped(page)) return { reason: `mmap failed (errno ${koffi.errno()})` };
  new Uint8Array(koffi.view(page, code.length)).set(code);
  if ((mprotect(page, PAGE, PROT_READ | PROT_EXEC) as number) !== 0) {
    const errno = koffi.errno();
    munmap(page, PAGE);
    return { reason: `the page could not be made executable (mprotect errno ${errno})` };
  }
  return { fn: page };
}

/** The process's store function (made on first use), or why there is none here. */
export function statusStore(): StatusStore {
  made ??= make();
  return made;
}
