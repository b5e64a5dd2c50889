/**
 * Loading a QNN library file the user pointed at, with a typed error for everything that can be
 * wrong with it: a directory, a device or other non-regular file (never handed to the loader, so
 * `/dev/zero` or a FIFO cannot block), a file that is not a shared library for this platform and
 * architecture (recognised from its first bytes, because the loader's own messages are vague: an
 * AArch64 library on x86-64 is "No such file or directory"), a file the loader refuses, a missing
 * entry point.
 */
import { closeSync, constants, openSync, readSync, statSync, type Stats } from 'node:fs';
import koffi from 'koffi';
import type { LibraryHandle } from 'koffi';
import { fileTypeOf, isSystemError, systemErrorReason } from '../../errors.js';
import { QnnLibraryLoadError, QnnLibraryNotFoundError, type QnnLibraryProblem } from './errors.js';
import type { QnnLibraryKind } from './library-paths.js';

/** Bytes of a file read to recognise its format (an ELF header is 52 or 64 bytes). */
const HEADER_BYTES = 64;

/** ELF `e_machine` values (System V gABI) of the architectures Node runs on, plus Hexagon. */
const ELF_MACHINES: Readonly<Record<number, string>> = {
  3: 'x86 (32-bit)',
  8: 'MIPS',
  20: 'PowerPC (32-bit)',
  21: 'PowerPC 64',
  22: 'IBM S/390',
  40: 'ARM (32-bit)',
  62: 'x86-64',
  164: 'Hexagon (a Qualcomm DSP)',
  183: 'AArch64',
  243: 'RISC-V',
  258: 'LoongArch',
};
const ELF_MACHINE_HEXAGON = 164;

/** The ELF machine and class of code this process can load, by `process.arch`. */
const ARCH_ELF: Readonly<Record<string, { machine: number; bits: 32 | 64 }>> = {
  x64: { machine: 62, bits: 64 },
  ia32: { machine: 3, bits: 32 },
  arm64: { machine: 183, bits: 64 },
  arm: { machine: 40, bits: 32 },
  riscv64: { machine: 243, bits: 64 },
  ppc64: { machine: 21, bits: 64 },
  s390x: { machine: 22, bits: 64 },
  loong64: { machine: 258, bits: 64 },
  mips: { machine: 8, bits: 32 },
  mipsel: { machine: 8, bits: 32 },
  mips64el: { machine: 8, bits: 64 },
};

type FileFormat = 'elf' | 'pe' | 'mach-o' | 'unknown';

function formatOf(header: Uint8Array): FileFormat {
  const [b0, b1, b2, b3] = header;
  if (b0 === 0x7f && b1 === 0x45 && b2 === 0x4c && b3 === 0x46) return 'elf';
  if (b0 === 0x4d && b1 === 0x5a) return 'pe';
  const magic = header.length >= 4 ? new DataView(header.buffer, header.byteOffset, 4).getUint32(0, false) : 0;
  // MH_MAGIC / MH_MAGIC_64 in either byte order, and FAT_MAGIC (universal binaries).
  if ([0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe, 0xcafebabe].includes(magic)) return 'mach-o';
  return 'unknown';
}

type KnownFormat = Exclude<FileFormat, 'unknown'>;

const FORMAT_NAMES: Readonly<Record<KnownFormat, string>> = {
  elf: 'an ELF file (Linux/Android)',
  pe: 'a Windows PE file (DLL or executable)',
  'mach-o': 'a macOS Mach-O file',
};
const HEADER_NAMES: Readonly<Record<KnownFormat, string>> = { elf: 'ELF', pe: 'PE (MZ)', 'mach-o': 'Mach-O' };

function expectedFormat(platform: NodeJS.Platform): KnownFormat {
  if (platform === 'win32') return 'pe';
  if (platform === 'darwin') return 'mach-o';
  return 'elf';
}

/** What is wrong with an ELF header for a process on `arch`, or null when it is a loadable shared object. */
function elfProblem(header: Uint8Array, arch: string): { problem: QnnLibraryProblem; detail: string } | null {
  if (header.length < 20) {
    return { problem: 'not-a-shared-library', detail: `is truncated: ${header.length} bytes, shorter than an ELF header` };
  }
  const bits = header[4] === 1 ? 32 : header[4] === 2 ? 64 : null;
  const littleEndian = header[5] === 1 ? true : header[5] === 2 ? false : null;
  if (bits === null || littleEndian === null) {
    return { problem: 'not-a-shared-library', detail: `has a damaged ELF header (class ${header[4]}, data encoding ${header[5]})` };
  }
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const type = view.getUint16(16, littleEndian);
  const machine = view.getUint16(18, littleEndian);
  const types: Readonly<Record<number, string>> = { 1: 'a relocatable object (.o)', 2: 'an executable', 4: 'a core dump' };
  if (type !== 3) {
    return { problem: 'not-a-shared-library', detail: `is ${types[type] ?? `of ELF type ${type}`}, not a shared library` };
  }
  const expected = ARCH_ELF[arch];
  if (expected === undefined) return null;
  if (machine !== expected.machine) {
    const hint =
      machine === ELF_MACHINE_HEXAGON
        ? ': DSP-side code (such as libQnnHtpV73Skel.so) is loaded by the DSP through ADSP_LIBRARY_PATH; point at the host library (libQnnHtp.so, libQnnSystem.so) instead'
        : '';
    return {
      problem: 'wrong-platform',
      detail: `is a shared library for ${ELF_MACHINES[machine] ?? `ELF machine ${machine}`}, but this process runs on ${arch}${hint}`,
    };
  }
  if (bits !== expected.bits) {
    return { problem: 'wrong-platform', detail: `is a ${bits}-bit shared library, but this process (${arch}) is ${expected.bits}-bit` };
  }
  return null;
}

/**
 * What the first bytes of a would-be shared library say is wrong with it for a process on
 * `platform` / `arch`, or null when nothing is (the loader may still refuse it). `detail` completes
 * a sentence that starts with the file's name: `is a shared library for AArch64, but ...`.
 */
export function libraryHeaderProblem(
  header: Uint8Array,
  platform: NodeJS.Platform,
  arch: string,
): { problem: QnnLibraryProblem; detail: string } | null {
  if (header.length === 0) return { problem: 'not-a-shared-library', detail: 'is empty, not a shared library' };
  const format = formatOf(header);
  const expected = expectedFormat(platform);
  if (format === 'unknown') {
    return { problem: 'not-a-shared-library', detail: `is not a shared library for ${platform}: it has no ${HEADER_NAMES[expected]} header` };
  }
  if (format !== expected) {
    return { problem: 'wrong-platform', detail: `is ${FORMAT_NAMES[format]}, not a shared library for ${platform}` };
  }
  return format === 'elf' ? elfProblem(header, arch) : null;
}

/** The first bytes of a regular file (opened non-blocking where the platform has it). */
function readHeader(path: string): Uint8Array {
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const header = new Uint8Array(HEADER_BYTES);
    let length = 0;
    while (length < HEADER_BYTES) {
      const read = readSync(fd, header, length, HEADER_BYTES - length, length);
      if (read === 0) break;
      length += read;
    }
    return header.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}

/**
 * Loads the QNN `kind` library at `path` (which library resolution found). Checks the file first,
 * so that only a regular file that looks like a shared library of this platform reaches the loader.
 * @throws QnnLibraryNotFoundError when `path` does not exist (any more).
 * @throws QnnLibraryLoadError naming the file and the problem otherwise.
 */
export function loadLibraryFile(path: string, kind: QnnLibraryKind, platform = process.platform, arch = process.arch): LibraryHandle {
  const label = `QNN ${kind} library "${path}"`;
  const fail = (problem: QnnLibraryProblem, detail: string, cause?: unknown): never => {
    throw new QnnLibraryLoadError(path, problem, `${label} ${detail}`, { cause });
  };
  const fileError = (error: unknown): never => {
    if (!isSystemError(error)) throw error;
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') {
      throw new QnnLibraryNotFoundError(`${label} not found: ${systemErrorReason(error)}`, [path], { cause: error });
    }
    return fail('unreadable', `cannot be read: ${systemErrorReason(error)}`, error);
  };
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch (error) {
    return fileError(error);
  }
  if (stats.isDirectory()) return fail('directory', 'is a directory, not a shared library');
  if (!stats.isFile()) return fail('not-a-file', `is ${fileTypeOf(stats)}, not a shared library file`);
  let header: Uint8Array;
  try {
    header = readHeader(path);
  } catch (error) {
    return fileError(error);
  }
  const problem = libraryHeaderProblem(header, platform, arch);
  if (problem !== null) return fail(problem.problem, problem.detail);
  try {
    return koffi.load(path);
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).replace(/^Failed to load shared library: /, '');
    return fail('load-failed', `cannot be loaded by the dynamic loader: ${reason}`, error);
  }
}

const ENTRY_POINT_OWNERS: Readonly<Record<QnnLibraryKind, string>> = {
  backend: 'a QNN backend library (such as libQnnHtp.so / QnnHtp.dll)',
  system: 'libQnnSystem (libQnnSystem.so / QnnSystem.dll)',
};

/**
 * The address of `symbol` in the QNN `kind` library loaded from `path`.
 * @throws QnnLibraryLoadError (problem `missing-symbol`) naming the file and the symbol.
 */
export function librarySymbol(library: LibraryHandle, path: string, kind: QnnLibraryKind, symbol: string): unknown {
  try {
    return library.symbol(symbol);
  } catch (cause) {
    throw new QnnLibraryLoadError(
      path,
      'missing-symbol',
      `QNN ${kind} library "${path}" does not export ${symbol}: it is not ${ENTRY_POINT_OWNERS[kind]}`,
      { cause, symbol },
    );
  }
}
