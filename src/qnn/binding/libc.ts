/**
 * The C library as Koffi loads it, and the memory-mapping constants genie-ts passes to it: one place
 * for the file mappings of `use-mmap` (./file-mapping.ts) and the page of the native notify function
 * (./status-store.ts). The values are the same on Linux and Android (x86-64 and arm64) and on macOS,
 * except MAP_ANONYMOUS (macOS has 0x1000; genie-ts maps anonymous memory on Linux and Android only).
 */
import koffi, { type LibraryHandle } from 'koffi';

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const PROT_EXEC = 4;
export const MAP_PRIVATE = 2;
/** Linux and Android. */
export const MAP_ANONYMOUS = 0x20;

/** The file name of the C library on `platform` (bionic's on Android), or undefined where genie-ts calls none. */
export function libcName(platform: NodeJS.Platform | string): string | undefined {
  if (platform === 'linux') return 'libc.so.6';
  if (platform === 'android') return 'libc.so';
  if (platform === 'darwin') return 'libSystem.B.dylib';
  return undefined;
}

/** This platform's C library (Koffi caches loaded libraries); throws where there is none. */
export function loadLibc(): LibraryHandle {
  const name = libcName(process.platform);
  if (name === undefined) throw new Error(`no C library is known on ${process.platform}`);
  return koffi.load(name);
}

/** mmap's result is an address: neither MAP_FAILED, `(void *)-1`, nor NULL (never a success). */
export function isMapped(address: bigint | null): address is bigint {
  return address !== null && address !== 0n && BigInt.asUintN(64, address) !== 0xffff_ffff_ffff_ffffn;
}
