/**
 * Preprocessed pixel tensors from a file, what Genie's `node set image` takes: the raw bytes of the
 * encoder's `pixel_values`, in its dtype and layout, nothing else.
 */
import { stat } from 'node:fs/promises';
import { fileTypeOf, systemErrorReason } from '../errors.js';
import { FileTooLargeError, readFileUpTo } from '../formats/bounded-file.js';
import { typedView } from '../tensor/views.js';
import type { PixelArray } from './convert.js';
import { ImageError } from './errors.js';
import { describeTarget, resolveTarget, type PixelLayout, type PixelTensorTarget } from './target.js';
import type { ImageTensor } from './tensor.js';

/**
 * Reads a raw pixel tensor for `target`; the file's size must be the tensor's byte size exactly.
 * The bytes are taken as they are (no check of float values), as Genie takes them.
 * @param layout as in `preprocessImage`, for a shape that reads both ways
 * @throws ImageError PIXEL_TENSOR_SIZE naming both sizes; IMAGE_NOT_FOUND, IMAGE_UNREADABLE (not a
 *   regular file); the target errors of `preprocessImage`
 */
export async function readPixelTensorFile(path: string, target: PixelTensorTarget, layout?: PixelLayout): Promise<ImageTensor> {
  const resolved = resolveTarget(target, layout);
  const sizeError = (size: string): ImageError =>
    new ImageError(
      'PIXEL_TENSOR_SIZE',
      path,
      `pixel tensor file ${path} holds ${size}, but pixel_values ${describeTarget(resolved)} takes ${resolved.byteLength} bytes`,
    );
  let bytes: Buffer;
  try {
    const stats = await stat(path);
    if (!stats.isFile()) throw new ImageError('IMAGE_UNREADABLE', path, `pixel tensor path ${path} is ${fileTypeOf(stats)}, not a file`);
    if (stats.size !== resolved.byteLength) throw sizeError(`${stats.size} bytes`);
    bytes = await readFileUpTo(path, resolved.byteLength);
  } catch (error) {
    if (error instanceof ImageError) throw error;
    if (error instanceof FileTooLargeError) throw sizeError(`more than ${resolved.byteLength} bytes`);
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ImageError('IMAGE_NOT_FOUND', path, `pixel tensor file not found: ${path}`, { cause: error });
    throw new ImageError('IMAGE_UNREADABLE', path, `cannot read pixel tensor file ${path}: ${systemErrorReason(error)}`, { cause: error });
  }
  // The file may have changed between stat and read.
  if (bytes.byteLength !== resolved.byteLength) throw sizeError(`${bytes.byteLength} bytes`);
  // A fresh buffer, aligned for the element type (a Buffer may sit at any offset of a shared pool).
  const own = new Uint8Array(resolved.byteLength);
  own.set(bytes);
  return {
    data: typedView(own, resolved.dtype) as PixelArray,
    bytes: own,
    shape: resolved.shape,
    layout: resolved.layout,
    dtype: resolved.dtype,
    ...(resolved.encoding === undefined ? {} : { encoding: resolved.encoding }),
    source: { width: resolved.width, height: resolved.height, format: 'raw' },
  };
}
