/**
 * Read-only file mappings through the C library, for `use-mmap` (docs/genie-behaviour.md#qnnhtp-block:
 * Genie maps the context binaries instead of reading them). Node has no mmap, but Koffi can call
 * the system's: POSIX `mmap(PROT_READ, MAP_PRIVATE)` / `munmap` from libc, Windows
 * `CreateFileW` / `CreateFileMappingW` / `MapViewOfFile` / `UnmapViewOfFile` / `CloseHandle` from
 * kernel32. The file handle is closed as soon as the view exists (the mapping keeps the file), so
 * a mapping owns nothing but its address range, released by `unmap`.
 *
 * A mapped file must not shrink while it is mapped: reading a page past the new end faults (SIGBUS).
 * The binding maps a ctx-bin only for the length of context creation, as Genie does.
 */
import { closeSync, openSync } from 'node:fs';
import koffi from 'koffi';
import { isMapped, libcName, loadLibc, MAP_PRIVATE, PROT_READ } from './libc.js';
import type { NativePointer } from './native.js';

/** The system calls a mapping is made of; `mapFile` takes another set in tests (failures, counts). */
export interface FileMappingSystem {
  /** Maps `size` bytes of the file at `path` read-only; throws an Error carrying the system's reason. */
  map(path: string, size: number): NativePointer;
  /** Releases a mapping `map` returned; throws an Error carrying the system's reason. */
  unmap(address: NativePointer, size: number): void;
}

type CFunction = (...args: unknown[]) => unknown;

function posixSystem(): FileMappingSystem {
  const libc = loadLibc();
  const mmap = libc.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)') as CFunction;
  const munmap = libc.func('int munmap(void *addr, size_t length)') as CFunction;
  const strerror = libc.func('const char *strerror(int errnum)') as CFunction;
  const reason = (call: string): Error => {
    const errno = koffi.errno();
    return new Error(`${call} failed: ${strerror(errno) as string} (errno ${errno})`);
  };
  return {
    map(path, size) {
      // Node's descriptors are the system's on POSIX.
      const fd = openSync(path, 'r');
      try {
        const address = mmap(null, size, PROT_READ, MAP_PRIVATE, fd, 0) as bigint | null;
        if (!isMapped(address)) throw reason('mmap');
        return address;
      } finally {
        closeSync(fd);
      }
    },
    unmap(address, size) {
      if ((munmap(address, size) as number) !== 0) throw reason('munmap');
    },
  };
}

const GENERIC_READ = 0x8000_0000;
const FILE_SHARE_READ = 1;
const OPEN_EXISTING = 3;
const FILE_ATTRIBUTE_NORMAL = 0x80;
const PAGE_READONLY = 2;
const FILE_MAP_READ = 4;
const INVALID_HANDLE_VALUE = 0xffff_ffff_ffff_ffffn;

function windowsSystem(): FileMappingSystem {
  const kernel32 = koffi.load('kernel32.dll');
  const createFile = kernel32.func(
    'void *__stdcall CreateFileW(const char16_t *name, uint32_t access, uint32_t share, void *security, uint32_t creation, uint32_t flags, void *template)',
  ) as CFunction;
  const createFileMapping = kernel32.func(
    'void *__stdcall CreateFileMappingW(void *file, void *security, uint32_t protect, uint32_t sizeHigh, uint32_t sizeLow, const char16_t *name)',
  ) as CFunction;
  const mapViewOfFile = kernel32.func(
    'void *__stdcall MapViewOfFile(void *mapping, uint32_t access, uint32_t offsetHigh, uint32_t offsetLow, size_t size)',
  ) as CFunction;
  const unmapViewOfFile = kernel32.func('int __stdcall UnmapViewOfFile(void *address)') as CFunction;
  const closeHandle = kernel32.func('int __stdcall CloseHandle(void *handle)') as CFunction;
  const getLastError = kernel32.func('uint32_t __stdcall GetLastError()') as CFunction;
  const reason = (call: string): Error => new Error(`${call} failed: Windows error ${getLastError() as number}`);
  const valid = (handle: bigint | null): handle is bigint =>
    handle !== null && handle !== 0n && BigInt.asUintN(64, handle) !== INVALID_HANDLE_VALUE;
  return {
    map(path, size) {
      const file = createFile(path, GENERIC_READ, FILE_SHARE_READ, null, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, null) as bigint | null;
      if (!valid(file)) throw reason('CreateFileW');
      try {
        const mapping = createFileMapping(file, null, PAGE_READONLY, 0, 0, null) as bigint | null;
        if (!valid(mapping)) throw reason('CreateFileMappingW');
        try {
          const view = mapViewOfFile(mapping, FILE_MAP_READ, 0, 0, size) as bigint | null;
          if (view === null || view === 0n) throw reason('MapViewOfFile');
          return view;
        } finally {
          closeHandle(mapping);
        }
      } finally {
        closeHandle(file);
      }
    },
    unmap(address) {
      if ((unmapViewOfFile(address) as number) === 0) throw reason('UnmapViewOfFile');
    },
  };
}

let system: FileMappingSystem | undefined;

/** The system's mapping calls (declared once, on first use); throws where there are none. */
export function fileMappingSystem(): FileMappingSystem {
  if (system === undefined) {
    if (process.platform === 'win32') system = windowsSystem();
    else if (libcName(process.platform) !== undefined) system = posixSystem();
    else throw new Error(`file mapping is not implemented on ${process.platform}`);
  }
  return system;
}
