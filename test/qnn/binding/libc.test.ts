/**
 * The C library genie-ts calls for memory mappings (src/qnn/binding/libc.ts): its file name per
 * platform (bionic on Android, where use-mmap maps ctx-bins too), and what counts as a mapping.
 */
import { describe, expect, it } from 'vitest';
import { isMapped, libcName } from '../../../src/qnn/binding/libc.js';

describe('libc', () => {
  it('names the C library of Linux (glibc), Android (bionic) and macOS, and none elsewhere', () => {
    expect(libcName('linux')).toBe('libc.so.6');
    expect(libcName('android')).toBe('libc.so');
    expect(libcName('darwin')).toBe('libSystem.B.dylib');
    for (const platform of ['win32', 'freebsd', 'aix', 'sunos']) expect(libcName(platform)).toBeUndefined();
  });

  it('takes an address for a mapping, and neither MAP_FAILED ((void *)-1, either sign) nor NULL', () => {
    expect(isMapped(0x7f00_0000_1000n)).toBe(true);
    expect(isMapped(0xffff_ffff_ffff_ffffn)).toBe(false);
    expect(isMapped(-1n)).toBe(false);
    expect(isMapped(0n)).toBe(false);
    expect(isMapped(null)).toBe(false);
  });
});
