/**
 * `use-mmap`: context binaries mapped through libc's mmap (Koffi), handed to contextCreateFromBinary
 * and unmapped right after it (kept until contextFree for a persistent binary), with every failure a
 * QnnContextBinaryError naming the file and nothing left mapped. Mappings are checked in the
 * kernel's own list (/proc/self/maps), so these run on Linux only.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import koffi from 'koffi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openQnnBackend } from '../../../src/backends/qnn/index.js';
import { openReferenceBackend } from '../../../src/backends/reference/index.js';
import { NativeContextBinary } from '../../../src/qnn/binding/context-binary.js';
import { QnnContextBinaryError } from '../../../src/qnn/binding/errors.js';
import { fileMappingSystem, type FileMappingSystem } from '../../../src/qnn/binding/file-mapping.js';
import type { NativePointer } from '../../../src/qnn/binding/native.js';
import { createSimulatedQnn, type SimulatedQnn } from '../../../src/simulator/index.js';
import { CONTINUATION, PROMPT, config, writeBundle } from '../../backends/qnn/bundle.js';
import { KvLoopDriver } from '../../backends/reference/kv-loop-driver.js';

const linux = process.platform === 'linux';

/** How many mappings of `path` the kernel lists for this process. */
function mappingsOf(path: string): number {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((line) => line.endsWith(` ${path}`)).length;
}

/** The real system calls, counted. */
function countingSystem(): FileMappingSystem & { maps: number; unmaps: { address: NativePointer; size: number }[] } {
  const real = fileMappingSystem();
  const counting = {
    maps: 0,
    unmaps: [] as { address: NativePointer; size: number }[],
    map(path: string, size: number) {
      counting.maps++;
      return real.map(path, size);
    },
    unmap(address: NativePointer, size: number) {
      counting.unmaps.push({ address, size });
      real.unmap(address, size);
    },
  };
  return counting;
}

let dir: string;
let paths: string[];
let referenceRows: string[];
const sims: SimulatedQnn[] = [];
const hex = (rows: Float32Array[]) => rows.map((row) => Buffer.from(row.buffer, row.byteOffset, row.byteLength).toString('hex'));

beforeAll(async () => {
  ({ dir, paths } = await writeBundle('qnn-mmap'));
  const reference = await openReferenceBackend(paths);
  referenceRows = hex(await new KvLoopDriver(reference, config).run(PROMPT, CONTINUATION, 4, 1));
  await reference.dispose();
});
afterAll(() => sims.forEach((s) => s.dispose()));

describe.runIf(linux)('NativeContextBinary.map', () => {
  it('maps the file read-only: the bytes at the pointer are the file, and free unmaps it exactly once', () => {
    const system = countingSystem();
    const binary = NativeContextBinary.map(paths[0], system);
    const file = readFileSync(paths[0]);
    expect(binary.mapped).toBe(true);
    expect(binary.byteLength).toBe(file.byteLength);
    expect(Buffer.from(koffi.view(binary.pointer, binary.byteLength)).equals(file)).toBe(true);
    expect(mappingsOf(paths[0])).toBeGreaterThan(0);
    binary.free();
    binary.free();
    expect(system.unmaps).toEqual([{ address: binary.pointer, size: file.byteLength }]);
    expect(mappingsOf(paths[0])).toBe(0);
  });

  it('names the path of a missing, empty or non-regular file and maps nothing', () => {
    const system = countingSystem();
    const missing = join(dir, 'missing.bin');
    const empty = join(dir, 'empty.bin');
    const folder = join(dir, 'folder.bin');
    writeFileSync(empty, '');
    mkdirSync(folder);
    expect(() => NativeContextBinary.map(missing, system)).toThrow(
      new QnnContextBinaryError(`context binary "${missing}" cannot be opened: ENOENT: no such file or directory, stat '${missing}'`),
    );
    expect(() => NativeContextBinary.map(empty, system)).toThrow(new QnnContextBinaryError(`context binary "${empty}" is empty`));
    expect(() => NativeContextBinary.map(folder, system)).toThrow(
      new QnnContextBinaryError(`context binary "${folder}" is not a regular file: it cannot be mapped (use-mmap)`),
    );
    expect(system.maps).toBe(0);
  });

  it('turns a failing mmap into a QnnContextBinaryError naming the path, with the system reason as cause', () => {
    const reason = new Error('mmap failed: Cannot allocate memory (errno 12)');
    const failing: FileMappingSystem = {
      map: () => {
        throw reason;
      },
      unmap: () => {
        throw new Error('unmap of a mapping that was never made');
      },
    };
    let caught: unknown;
    try {
      NativeContextBinary.map(paths[0], failing);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(QnnContextBinaryError);
    expect((caught as Error).message).toBe(`context binary "${paths[0]}" cannot be mapped (use-mmap): ${reason.message}`);
    expect((caught as Error).cause).toBe(reason);
  });

  it('reports the kernel\'s reason when the real mmap refuses (a length the address space cannot hold)', () => {
    expect(() => fileMappingSystem().map(paths[0], 2 ** 52)).toThrow(/^mmap failed: .+ \(errno \d+\)$/);
  });
});

/** A sparse file of `size` bytes (no disk blocks: zeros read back). */
function sparseFile(path: string, size: number): string {
  const fd = openSync(path, 'w');
  ftruncateSync(fd, size);
  closeSync(fd);
  return path;
}

describe.runIf(linux)('NativeContextBinary.read', () => {
  it('names a FIFO (without waiting for a writer), a folder and a file of 2 GiB or more, and allocates nothing', async () => {
    const fifo = join(dir, 'ctx.fifo');
    rmSync(fifo, { force: true });
    const made = spawnSync('mkfifo', [fifo]);
    if (made.status === 0) {
      await expect(NativeContextBinary.read(fifo)).rejects.toThrow(new QnnContextBinaryError(`context binary "${fifo}" is not a regular file`));
    }
    const folder = join(dir, 'read-folder.bin');
    mkdirSync(folder, { recursive: true });
    await expect(NativeContextBinary.read(folder)).rejects.toThrow(new QnnContextBinaryError(`context binary "${folder}" is not a regular file`));
    const big = sparseFile(join(dir, 'two-gib.bin'), 2 ** 31);
    await expect(NativeContextBinary.read(big)).rejects.toThrow(
      new QnnContextBinaryError(
        `context binary "${big}" is 2147483648 bytes: read into memory, a binary must be smaller than 2 GiB; set the config's QnnHtp "use-mmap": true to map it`,
      ),
    );
    rmSync(big);
  });
});

describe.runIf(linux)('use-mmap in a QNN session (simulated provider)', () => {
  const sim = (): SimulatedQnn => {
    const created = createSimulatedQnn();
    sims.push(created);
    return created;
  };

  it('maps each ctx-bin for context creation only: same logits as the reference, nothing mapped once open', async () => {
    const backend = await openQnnBackend(paths, { simulated: sim(), htp: { useMmap: true } });
    for (const path of paths) expect(mappingsOf(path)).toBe(0);
    expect(hex(await new KvLoopDriver(backend, config).run(PROMPT, CONTINUATION, 4, 1))).toEqual(referenceRows);
    await backend.dispose();
  });

  it('keeps a persistent binary (graph switching) mapped until the context is freed', async () => {
    const provider = sim();
    const backend = await openQnnBackend(paths, { simulated: provider, htp: { useMmap: true, enableGraphSwitching: true } });
    for (const path of paths) expect(mappingsOf(path)).toBe(1);
    expect(hex(await new KvLoopDriver(backend, config).run(PROMPT, CONTINUATION, 4, 1))).toEqual(referenceRows);
    await backend.dispose();
    for (const path of paths) expect(mappingsOf(path)).toBe(0);
    expect(provider.liveHandles()).toBe(0);
  });

  it('a mapped ctx-bin past 4 GiB is refused by the simulated provider with a QNN error, not a process abort', async () => {
    const huge = sparseFile(join(dir, 'huge.bin'), 2 ** 32 + 1);
    const provider = sim();
    // Koffi aborts the process for a view of 2^32 bytes or more: the provider checks the size first.
    await expect(openQnnBackend([huge, paths[1]], { simulated: provider, htp: { useMmap: true } })).rejects.toThrow(
      `systemContextGetMetaData("${huge}") failed with QNN error 30001 (SYSTEM_CONTEXT_INVALID_ARGUMENT)`,
    );
    expect(mappingsOf(huge)).toBe(0);
    expect(provider.liveHandles()).toBe(0);
    rmSync(huge);
  });

  it('unmaps a ctx-bin the provider rejects, and the error names it', async () => {
    const corrupt = join(dir, 'corrupt.bin');
    writeFileSync(corrupt, Buffer.alloc(4096, 0x5a));
    const provider = sim();
    await expect(openQnnBackend([paths[0], corrupt], { simulated: provider, htp: { useMmap: true } })).rejects.toThrow(corrupt);
    expect(mappingsOf(corrupt)).toBe(0);
    expect(mappingsOf(paths[0])).toBe(0);
    expect(provider.liveHandles()).toBe(0);
  });
});
