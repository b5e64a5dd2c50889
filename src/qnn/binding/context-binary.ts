/**
 * A context binary read into native memory, the buffer `contextCreateFromBinary` and QnnSystem read.
 * Genie mmaps the file when `use-mmap` is set; Node cannot mmap without a native addon, so the file
 * is always read (into one native block, no intermediate copy) and `use-mmap` is only reported in
 * the log. The block is freed right after context creation unless the context keeps pointing into
 * it (persistent binary, with graph switching).
 */
import { open } from 'node:fs/promises';
import koffi from 'koffi';
import { QnnContextBinaryError } from './errors.js';
import type { NativePointer } from './native.js';

export class NativeContextBinary {
  private freed = false;

  private constructor(
    readonly path: string,
    readonly pointer: NativePointer,
    readonly byteLength: number,
  ) {}

  static async read(path: string): Promise<NativeContextBinary> {
    let file;
    try {
      file = await open(path, 'r');
    } catch (cause) {
      throw new QnnContextBinaryError(`context binary "${path}" cannot be opened: ${(cause as Error).message}`, { cause });
    }
    try {
      const { size } = await file.stat();
      if (size === 0) throw new QnnContextBinaryError(`context binary "${path}" is empty`);
      const pointer = koffi.alloc('uint8_t', size) as NativePointer;
      const binary = new NativeContextBinary(path, pointer, size);
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

  /** Idempotent. */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    koffi.free(this.pointer);
  }
}
