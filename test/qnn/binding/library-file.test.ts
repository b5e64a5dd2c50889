/**
 * A QNN library path that names something other than a QNN library for this process: the file
 * header check (pure), then every case through the public paths (openQnnBackend, Dialog.create
 * with a QnnHtp config and the environment variables, `genie-ts run`), each a typed error naming
 * the file and the problem. Only a real shared library of this process (Koffi's own, already
 * loaded) and one header the loader rejects ever reach the dynamic loader.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openQnnBackend } from '../../../src/backends/qnn/index.js';
import {
  BACKEND_LIB_ENV,
  QnnLibraryLoadError,
  QnnLibraryNotFoundError,
  SYSTEM_LIB_ENV,
  libraryHeaderProblem,
  librarySymbol,
  loadLibraryFile,
  type QnnLibraryProblem,
} from '../../../src/qnn/binding/index.js';
import { Dialog } from '../../../src/runtime/dialog.js';
import { demoTokenizerPath } from '../../../src/runtime/tokenizer/index.js';
import { tempDir } from '../../backends/reference/fixtures.js';
import { cli } from '../../cli/fixtures.js';
import { sharedTokenizer } from '../../runtime/fixtures.js';

const ELF_MACHINE: Readonly<Record<string, number>> = { x64: 62, arm64: 183, ia32: 3, arm: 40 };

/** A 64-byte ELF header: class, byte order, type and machine as given. */
function elfHeader(options: { bits?: 32 | 64; type?: number; machine: number; bigEndian?: boolean }): Uint8Array {
  const header = new Uint8Array(64);
  header.set([0x7f, 0x45, 0x4c, 0x46, options.bits === 32 ? 1 : 2, options.bigEndian ? 2 : 1, 1]);
  const view = new DataView(header.buffer);
  view.setUint16(16, options.type ?? 3, !options.bigEndian);
  view.setUint16(18, options.machine, !options.bigEndian);
  view.setUint32(20, 1, !options.bigEndian);
  return header;
}

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('libraryHeaderProblem', () => {
  const linux = (header: Uint8Array) => libraryHeaderProblem(header, 'linux', 'x64');

  it('accepts an ELF shared object for the process architecture and bitness', () => {
    expect(linux(elfHeader({ machine: 62 }))).toBeNull();
    expect(libraryHeaderProblem(elfHeader({ machine: 183 }), 'android', 'arm64')).toBeNull();
    expect(libraryHeaderProblem(elfHeader({ machine: 40, bits: 32 }), 'linux', 'arm')).toBeNull();
    // An architecture it has no table entry for: the loader decides.
    expect(libraryHeaderProblem(elfHeader({ machine: 9999 }), 'linux', 'sparc64')).toBeNull();
  });

  it('names the architecture of an ELF library for another machine, with a hint for DSP code', () => {
    expect(linux(elfHeader({ machine: 183 }))).toEqual({
      problem: 'wrong-platform',
      detail: 'is a shared library for AArch64, but this process runs on x64',
    });
    expect(libraryHeaderProblem(elfHeader({ machine: 62 }), 'android', 'arm64')?.detail).toBe(
      'is a shared library for x86-64, but this process runs on arm64',
    );
    expect(linux(elfHeader({ machine: 164, bits: 32 }))?.detail).toBe(
      'is a shared library for Hexagon (a Qualcomm DSP), but this process runs on x64: DSP-side code (such as ' +
        'libQnnHtpV73Skel.so) is loaded by the DSP through ADSP_LIBRARY_PATH; point at the host library ' +
        '(libQnnHtp.so, libQnnSystem.so) instead',
    );
    expect(linux(elfHeader({ machine: 4242 }))?.detail).toBe('is a shared library for ELF machine 4242, but this process runs on x64');
    expect(linux(elfHeader({ machine: 62, bits: 32 }))).toEqual({
      problem: 'wrong-platform',
      detail: 'is a 32-bit shared library, but this process (x64) is 64-bit',
    });
    expect(linux(elfHeader({ machine: 62, bigEndian: true }))).toBeNull();
  });

  it('refuses ELF files that are not shared objects, and damaged or short headers', () => {
    const cases: Array<[Uint8Array, string]> = [
      [elfHeader({ machine: 62, type: 1 }), 'is a relocatable object (.o), not a shared library'],
      [elfHeader({ machine: 62, type: 2 }), 'is an executable, not a shared library'],
      [elfHeader({ machine: 62, type: 4 }), 'is a core dump, not a shared library'],
      [elfHeader({ machine: 62, type: 77 }), 'is of ELF type 77, not a shared library'],
      [elfHeader({ machine: 62 }).subarray(0, 19), 'is truncated: 19 bytes, shorter than an ELF header'],
      [Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 3, 1, 1, ...new Array(57).fill(0)]), 'has a damaged ELF header (class 3, data encoding 1)'],
      [new Uint8Array(0), 'is empty, not a shared library'],
    ];
    for (const [header, detail] of cases) expect(linux(header)).toEqual({ problem: 'not-a-shared-library', detail });
  });

  it('recognises other platforms\' formats and files with no header at all', () => {
    expect(linux(ascii('MZ\x90\x00 PE file'))).toEqual({
      problem: 'wrong-platform',
      detail: 'is a Windows PE file (DLL or executable), not a shared library for linux',
    });
    expect(linux(Uint8Array.from([0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1]))?.detail).toBe('is a macOS Mach-O file, not a shared library for linux');
    expect(linux(ascii('not a library'))).toEqual({
      problem: 'not-a-shared-library',
      detail: 'is not a shared library for linux: it has no ELF header',
    });
    expect(libraryHeaderProblem(elfHeader({ machine: 62 }), 'win32', 'x64')?.detail).toBe(
      'is an ELF file (Linux/Android), not a shared library for win32',
    );
    expect(libraryHeaderProblem(ascii('MZ\x90\x00'), 'win32', 'x64')).toBeNull();
    expect(libraryHeaderProblem(ascii('#!/bin/sh'), 'win32', 'x64')?.detail).toBe('is not a shared library for win32: it has no PE (MZ) header');
    expect(libraryHeaderProblem(Uint8Array.from([0xca, 0xfe, 0xba, 0xbe]), 'darwin', 'arm64')).toBeNull();
    expect(libraryHeaderProblem(ascii('x'), 'darwin', 'arm64')?.detail).toBe('is not a shared library for darwin: it has no Mach-O header');
  });
});

/** The path of Koffi's native module as this process mapped it: a real shared library without QNN entry points. */
function loadedKoffiModule(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  const maps = readFileSync('/proc/self/maps', 'utf8');
  return /\s(\/\S*koffi\.node)$/m.exec(maps)?.[1];
}

interface Case {
  readonly what: string;
  /** The library path to point at, or undefined to skip on this platform. */
  readonly path: () => string | undefined;
  readonly error: typeof QnnLibraryLoadError | typeof QnnLibraryNotFoundError;
  readonly problem?: QnnLibraryProblem;
  /** The message after `QNN backend library "<path>" `. */
  readonly message: string | RegExp;
}

const dir = tempDir('qnn-library-file');
const file = (name: string, bytes: Uint8Array | string): string => {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
};
const hostMachine = ELF_MACHINE[process.arch];
const otherMachine = process.arch === 'arm64' ? 62 : 183;

const CASES: Case[] = [
  {
    what: 'a missing file',
    path: () => join(dir, 'missing', 'libQnnHtp.so'),
    error: QnnLibraryNotFoundError,
    // Library resolution reports it, naming where the path came from.
    message: /^QNN backend library not found: (option backendLibrary|environment GENIE_TS_QNN_BACKEND_LIB) "[^"]+\/missing\/libQnnHtp\.so" does not exist$/,
  },
  {
    what: 'a directory',
    path: () => {
      mkdirSync(join(dir, 'libQnnHtp.so.d'), { recursive: true });
      return join(dir, 'libQnnHtp.so.d');
    },
    error: QnnLibraryLoadError,
    problem: 'directory',
    message: 'is a directory, not a shared library',
  },
  {
    what: '/dev/zero',
    path: () => (existsSync('/dev/zero') ? '/dev/zero' : undefined),
    error: QnnLibraryLoadError,
    problem: 'not-a-file',
    message: 'is a character device, not a shared library file',
  },
  {
    what: 'a FIFO (which would block an open)',
    path: () => {
      if (process.platform === 'win32') return undefined;
      const fifo = join(dir, 'fifo.so');
      if (!existsSync(fifo)) execFileSync('mkfifo', [fifo]);
      return fifo;
    },
    error: QnnLibraryLoadError,
    problem: 'not-a-file',
    message: 'is a FIFO (named pipe), not a shared library file',
  },
  {
    what: 'a text file',
    path: () => (process.platform === 'linux' ? file('text.so', 'this is not a library\n') : undefined),
    error: QnnLibraryLoadError,
    problem: 'not-a-shared-library',
    message: 'is not a shared library for linux: it has no ELF header',
  },
  {
    what: 'an empty file',
    path: () => file('empty.so', ''),
    error: QnnLibraryLoadError,
    problem: 'not-a-shared-library',
    message: 'is empty, not a shared library',
  },
  {
    what: 'a library for another architecture',
    path: () => (process.platform === 'linux' ? file('aarch64.so', elfHeader({ machine: otherMachine })) : undefined),
    error: QnnLibraryLoadError,
    problem: 'wrong-platform',
    message: /^is a shared library for (AArch64|x86-64), but this process runs on /,
  },
  {
    what: 'a header the dynamic loader refuses',
    path: () => (process.platform === 'linux' && hostMachine !== undefined ? file('bad-header.so', elfHeader({ machine: hostMachine })) : undefined),
    error: QnnLibraryLoadError,
    problem: 'load-failed',
    message: /^cannot be loaded by the dynamic loader: \S/,
  },
  {
    what: 'a shared library without the QNN entry point',
    path: loadedKoffiModule,
    error: QnnLibraryLoadError,
    problem: 'missing-symbol',
    message: 'does not export QnnInterface_getProviders: it is not a QNN backend library (such as libQnnHtp.so / QnnHtp.dll)',
  },
];

function expectCase(error: unknown, c: Case, path: string, kind = 'backend'): void {
  expect(error).toBeInstanceOf(c.error);
  const e = error as Error;
  if (c.error === QnnLibraryNotFoundError) {
    expect(e.message).toMatch(c.message);
    return;
  }
  const prefix = `QNN ${kind} library "${path}" `;
  expect(e.message.startsWith(prefix), e.message).toBe(true);
  const rest = e.message.slice(prefix.length);
  if (typeof c.message === 'string') expect(rest.startsWith(c.message), rest).toBe(true);
  else expect(rest).toMatch(c.message);
  if (c.error === QnnLibraryLoadError) {
    expect((error as QnnLibraryLoadError).problem).toBe(c.problem);
    expect((error as QnnLibraryLoadError).path).toBe(path);
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** A QnnHtp dialog config whose ctx-bins are never reached (the libraries fail first). */
function qnnConfig(): object {
  return {
    dialog: {
      version: 1,
      type: 'basic',
      context: { version: 1, size: 64, 'n-vocab': 151936, 'bos-token': -1, 'eos-token': 151645 },
      sampler: { version: 1, seed: 1, temp: 0 },
      tokenizer: { version: 1, path: demoTokenizerPath() },
      engine: {
        version: 1,
        'n-threads': 1,
        backend: {
          version: 1,
          type: 'QnnHtp',
          QnnHtp: { version: 1, 'spill-fill-bufsize': 0, 'mmap-budget': 0, 'use-mmap': true, 'cpu-mask': '0xe0', poll: false },
        },
        model: { version: 1, type: 'binary', binary: { version: 1, 'ctx-bins': [join(dir, 'part_1_of_1.bin')] } },
      },
    },
  };
}

const ENV_KEYS = [BACKEND_LIB_ENV, SYSTEM_LIB_ENV, 'GENIE_TS_QNN_PROVIDER'] as const;

describe('a QNN library path that is not a QNN library for this process', () => {
  // A real file for the other library, so that only the one under test is wrong.
  let system: string;
  const saved = Object.fromEntries(ENV_KEYS.map((key) => [key, process.env[key]]));
  beforeAll(() => {
    system = file('libQnnSystem.so', 'never loaded: the backend library fails first\n');
  });
  afterEach(() => {
    for (const key of ENV_KEYS) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });

  for (const c of CASES) {
    describe(c.what, () => {
      it('openQnnBackend (option and environment variable)', async (ctx) => {
        const path = c.path();
        if (path === undefined) return ctx.skip();
        const ctxBins = [join(dir, 'part_1_of_1.bin')];
        expectCase(await rejection(openQnnBackend(ctxBins, { provider: 'native', backendLibrary: path, systemLibrary: system, env: {} })), c, path);
        const env = { [BACKEND_LIB_ENV]: path, [SYSTEM_LIB_ENV]: system };
        expectCase(await rejection(openQnnBackend(ctxBins, { provider: 'native', env })), c, path);
      });

      it('Dialog.create with a QnnHtp config and the environment variable', async (ctx) => {
        const path = c.path();
        if (path === undefined) return ctx.skip();
        const env = { [BACKEND_LIB_ENV]: path, [SYSTEM_LIB_ENV]: system };
        const error = await rejection(
          Dialog.create(qnnConfig(), { tokenizer: await sharedTokenizer(), backend: { qnn: { provider: 'native', env } } }),
        );
        expectCase(error, c, path);
      });

      it('genie-ts run prints one line and exits 1', async (ctx) => {
        const path = c.path();
        if (path === undefined) return ctx.skip();
        const config = join(dir, 'genie_config.json');
        writeFileSync(config, JSON.stringify(qnnConfig()));
        process.env[BACKEND_LIB_ENV] = path;
        process.env[SYSTEM_LIB_ENV] = system;
        delete process.env.GENIE_TS_QNN_PROVIDER;
        const result = await cli(['run', '-c', config, '-p', 'hi']);
        expect(result.code).toBe(1);
        expect(result.stdout).toBe('');
        expect(result.stderr.split('\n')).toHaveLength(2);
        expect(result.stderr.startsWith('genie-ts run: QNN backend library '), result.stderr).toBe(true);
        expect(result.stderr).toContain(`"${path}"`);
      });
    });
  }

  it('names the system library and its entry point when it is the wrong one', (ctx) => {
    // Through openQnnBackend the backend library is loaded first, so libQnnSystem is tested directly.
    expect(() => loadLibraryFile(join(dir, 'libQnnHtp.so.d'), 'system')).toThrow(
      `QNN system library "${join(dir, 'libQnnHtp.so.d')}" is a directory, not a shared library`,
    );
    const koffiModule = loadedKoffiModule();
    if (koffiModule === undefined) return ctx.skip();
    const library = loadLibraryFile(koffiModule, 'system');
    let error: unknown;
    try {
      librarySymbol(library, koffiModule, 'system', 'QnnSystemInterface_getProviders');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(QnnLibraryLoadError);
    expect((error as QnnLibraryLoadError).symbol).toBe('QnnSystemInterface_getProviders');
    expect((error as Error).message).toBe(
      `QNN system library "${koffiModule}" does not export QnnSystemInterface_getProviders: it is not libQnnSystem (libQnnSystem.so / QnnSystem.dll)`,
    );
  });
});
