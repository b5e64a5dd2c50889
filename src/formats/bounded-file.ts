import { open, type FileHandle } from 'node:fs/promises';
import { GenieError } from '../errors.js';

/** A file holds more bytes than its reader takes: an endless device, or far more than can be meant. */
export class FileTooLargeError extends GenieError {
  constructor(
    readonly path: string,
    readonly limit: number,
  ) {
    super('FILE_TOO_LARGE', `"${path}" holds more than ${limit} bytes`);
  }
}

const CHUNK_BYTES = 64 * 1024;

/**
 * The file's bytes, read in chunks so that pipes and devices work and an endless one (`/dev/zero`)
 * ends: at most `maxBytes`. `inspect` sees each chunk as it arrives, at its offset in the file, and
 * may throw to stop early (e.g. at the first NUL of what must be text).
 * @throws FileTooLargeError past `maxBytes`; the OS error (ENOENT, EISDIR, ...) as Node raises it.
 */
export async function readFileUpTo(
  path: string,
  maxBytes: number,
  inspect?: (chunk: Uint8Array, offset: number) => void,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    for (;;) {
      const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      const data = chunk.subarray(0, bytesRead);
      inspect?.(data, total);
      total += bytesRead;
      if (total > maxBytes) throw new FileTooLargeError(path, maxBytes);
      chunks.push(data);
    }
  } finally {
    await handle?.close();
  }
  return Buffer.concat(chunks, total);
}
