/**
 * A context binary in native memory, the buffer `contextCreateFromBinary` and QnnSystem read:
 * read into one native block (no intermediate copy), or mapped read-only when `use-mmap` is set, as
 * Genie does (docs/genie-behaviour.md#qnnhtp-block; see ./file-mapping.ts). Either way it is
 * released right after context creation unless the context keeps pointing into it (persistent
 * binary, with graph switching).
 */
import { open } from 'node:fs/promises';
import { constants, statSync } from 'node:fs';
import koffi from 'koffi';
import { QnnContextBinaryError } from './errors.js';
import { fileMappingSystem, type FileMappingSystem } from './file-mapping.js';
import type { NativePointer } from './native.js';

/** The largest block `koffi.alloc` makes (INT32_MAX bytes). */
const MAX_READ_BYTES = 0x7fffffff;

export class NativeContextBinary {
  private released = false;

  private constructor(
    readonly path: string,
    readonly pointer: NativePointer,
    readonly byteLength: number,
    /** The system that mapped it; null for a block read into koffi memory. */
    private readonly mapping: FileMappingSystem | null,
  ) {}

  /** True when the binary is a file mapping (`use-mmap`), false when it was read. */
  get mapped(): boolean {
    return this.mapping !== null;
  }

  /**
   * Reads the file into one native block.
   * @throws QnnContextBinaryError naming the path for a missing, empty or non-regular file (opened
   * without blocking: a FIFO would wait for a writer forever), one of 2 GiB or more (Koffi's largest
   * block; `use-mmap` maps any size), or a read that fails or ends early; nothing stays allocated then.
   */
  static async read(path: string): Promise<NativeContextBinary> {
    let file;
    try {
      file = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    } catch (cause) {
      throw new QnnContextBinaryError(`context binary "${path}" cannot be opened: ${(cause as Error).message}`, { cause });
    }
    try {
      const stat = await file.stat();
      if (!stat.isFile()) throw new QnnContextBinaryError(`context binary "${path}" is not a regular file`);
      const { size } = stat;
      if (size === 0) throw new QnnContextBinaryError(`context binary "${path}" is empty`);
      if (size > MAX_READ_BYTES) {
        throw new QnnContextBinaryError(
          `context binary "${path}" is ${size} bytes: read into memory, a binary must be smaller than 2 GiB; set the config's QnnHtp "use-mmap": true to map it`,
        );
      }
      const pointer = koffi.alloc('uint8_t', size) as NativePointer;
      const binary = new NativeContextBinary(path, pointer, size, null);
      try {
        const bytes = new Uint8Array(koffi.view(pointer, size));
        for (let done = 0; done < size; ) {
          const { bytesRead } = await file.read(bytes, done, size - done, done);
          if (bytesRead === 0) {
            throw new QnnContextBinaryError(`context binary "${path}" ended after ${done} of ${size} bytes while reading`);
          }
          done += bytesRead;
        }
      } catch (error) {
        binary.free();
        if (error instanceof QnnContextBinaryError) throw error;
        throw new QnnContextBinaryError(`context binary "${path}" cannot be read: ${(error as Error).message}`, { cause: error });
      }
      return binary;
    } finally {
      await file.close();
    }
  }

  /**
   * Maps the file read-only (its pages are read from the file as the backend touches them).
   * @throws QnnContextBinaryError naming the path for a missing, empty or non-regular file, or when
   * the system cannot map it (the system's reason as cause); nothing stays mapped then.
   */
  static map(path: string, system: FileMappingSystem = fileMappingSystem()): NativeContextBinary {
    let size: number;
    try {
      const stat = statSync(path);
      if (!stat.isFile()) throw new QnnContextBinaryError(`context binary "${path}" is not a regular file: it cannot be mapped (use-mmap)`);
      size = stat.size;
    } catch (cause) {
      if (cause instanceof QnnContextBinaryError) throw cause;
      throw new QnnContextBinaryError(`context binary "${path}" cannot be opened: ${(cause as Error).message}`, { cause });
    }
    if (size === 0) throw new QnnContextBinaryError(`context binary "${path}" is empty`);
    let pointer: NativePointer;
    try {
      pointer = system.map(path, size);
    } catch (cause) {
      throw new QnnContextBinaryError(`context binary "${path}" cannot be mapped (use-mmap): ${(cause as Error).message}`, { cause });
    }
    return new NativeContextBinary(path, pointer, size, system);
  }

  /** Frees the block or unmaps the file. Idempotent. */
  free(): void {
    if (this.released) return;
    this.released = true;
    if (this.mapping === null) {
      koffi.free(this.pointer);
      return;
    }
    try {
      this.mapping.unmap(this.pointer, this.byteLength);
    } catch (cause) {
      throw new QnnContextBinaryError(`context binary "${this.path}" cannot be unmapped: ${(cause as Error).message}`, { cause });
    }
  }
}
