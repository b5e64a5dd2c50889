import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { InvalidArgumentError, isSystemError, systemErrorReason } from '../../errors.js';
import { describeValue } from '../check-options.js';
import type { ImageRows, PromptSegment, SplicedImage } from '../spliced-prompt.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { ImageEmbedder, ImageInput } from './embedder.js';

/** The placeholder FastVLM's (LLaVA's) prompts carry where an image goes. */
export const DEFAULT_IMAGE_PLACEHOLDER = '<image>';

/** Image files larger than this are refused before reading (a 4032x3024 JPEG is ~3-5 MB; 16-bit TIFFs are bigger). */
export const MAX_IMAGE_FILE_BYTES = 256 * 1024 * 1024;

/** An image named in a query cannot be read, or does not fit its placeholders. */
export class ImageInputError extends InvalidArgumentError {}

/**
 * Splits a templated prompt at each placeholder: the text pieces are tokenized (no special tokens
 * added, as for any prompt), each placeholder takes the next image's rows. N placeholders need N
 * images. Image files are read here (bounded, regular files only) so that a missing or unreadable
 * file fails the `query` call itself, and each image is keyed by a digest of its bytes: a later
 * rewind query that sends the same image matches its rows in the KV cache and skips its encoding.
 */
export function splicePrompt(
  prompt: string,
  images: readonly ImageInput[],
  placeholder: string,
  tokenizer: Tokenizer,
  embedder: ImageEmbedder,
): PromptSegment[] {
  const pieces = prompt.split(placeholder);
  const slots = pieces.length - 1;
  if (slots !== images.length) {
    throw new ImageInputError(
      `the prompt has ${slots} "${placeholder}" placeholder${slots === 1 ? '' : 's'} but ${images.length} image${images.length === 1 ? ' was' : 's were'} given: ` +
        `each placeholder takes one image, in order`,
    );
  }
  const segments: PromptSegment[] = [];
  pieces.forEach((text, i) => {
    if (text !== '') segments.push({ kind: 'tokens', ids: Array.from(tokenizer.encode(text)) });
    if (i < images.length) segments.push({ kind: 'image', image: splicedImage(images[i], `images[${i}]`, embedder) });
  });
  return segments;
}

function splicedImage(input: ImageInput, name: string, embedder: ImageEmbedder): SplicedImage {
  const { bytes, label } = imageBytes(input, name);
  // A pixel tensor and a file with the same bytes are different images.
  const kind = typeof input === 'string' || input instanceof Uint8Array ? 'file' : 'pixels';
  const digest = createHash('sha256').update(kind).update(bytes).digest('hex').slice(0, 32);
  // A file is read again by the embedder (so its errors name the path); its key is the content read here.
  const source: ImageInput = input;
  let rows: Promise<ImageRows> | undefined;
  return {
    rows: embedder.rows,
    label,
    keyOf: (row) => `image:${digest}#${row}`,
    resolve(signal) {
      // Encoded once per query; a failed or aborted attempt is not kept.
      rows ??= embedder.embed(source, signal).catch((error: unknown) => {
        rows = undefined;
        throw error;
      });
      return rows;
    },
  };
}

/** The bytes an image input brings (a file's content is read now), and how messages name it. */
function imageBytes(input: ImageInput, name: string): { bytes: Uint8Array; label: string } {
  if (typeof input === 'string') {
    if (input === '') throw new ImageInputError(`${name} is an empty path`);
    return { bytes: readImageFile(input, name), label: `${name} "${input}"` };
  }
  if (input instanceof Uint8Array) {
    if (input.byteLength === 0) throw new ImageInputError(`${name} is empty (0 bytes)`);
    return { bytes: input, label: name };
  }
  if (typeof input === 'object' && input !== null && (input as { bytes?: unknown }).bytes instanceof Uint8Array) {
    return { bytes: input.bytes, label: `${name} (pixel tensor)` };
  }
  throw new ImageInputError(
    `${name} must be an image file path, the bytes of an image file (Uint8Array) or a preprocessed pixel tensor ({ bytes }), got ${describeValue(input)}`,
  );
}

function readImageFile(path: string, name: string): Uint8Array {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new ImageInputError(`${name} "${path}" is not a regular file`);
    if (stat.size === 0) throw new ImageInputError(`${name} "${path}" is empty (0 bytes)`);
    if (stat.size > MAX_IMAGE_FILE_BYTES) {
      throw new ImageInputError(`${name} "${path}" has ${stat.size} bytes, more than the ${MAX_IMAGE_FILE_BYTES} an image file may have`);
    }
    const bytes = new Uint8Array(stat.size);
    let at = 0;
    while (at < bytes.length) {
      const n = readSync(fd, bytes, at, bytes.length - at, at);
      if (n === 0) break;
      at += n;
    }
    return bytes.subarray(0, at);
  } catch (error) {
    if (error instanceof ImageInputError) throw error;
    if (isSystemError(error)) throw new ImageInputError(`${name} "${path}" cannot be read: ${systemErrorReason(error)}`, { cause: error });
    throw error;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
