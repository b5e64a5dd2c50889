import { InvalidArgumentError } from '../errors.js';
import type { Accumulator } from './embeddings/accumulator.js';
import type { EmbeddingTable } from './embeddings/lut.js';
import type { EmbeddingRows } from './embeddings/rows.js';

/**
 * What a KV entry holds, as a rewind matches it: a token id (>= 0), -1 (a caller's embedding row,
 * which nothing matches), or an image row's key (`SplicedImage.keyOf`), which matches the same row
 * of the same image in a later prompt.
 */
export type EntryKey = number | string;

/** Microseconds spent on one image, by stage (0 for a stage it did not go through). */
export interface ImageTimings {
  /** Reading, decoding and preprocessing the image into the encoder's pixel tensor. */
  readonly preprocessUs: number;
  readonly encoderUs: number;
  /** A separate projector graph (0 when the projector is inside the encoder graph). */
  readonly projectorUs: number;
}

/** An image's embedding rows as the image encoder gave them (its output dtype and encoding). */
export interface ImageRows {
  readonly rows: EmbeddingRows;
  readonly timings: ImageTimings;
}

/**
 * An image of a spliced prompt: `rows` KV entries keyed by the image's content, whose rows are
 * computed (preprocessed and encoded) only when some of them must be fed, at most once.
 */
export interface SplicedImage {
  readonly rows: number;
  /** Names the image in messages (`images[1]`, a path). */
  readonly label: string;
  /** The key of row `row`: equal for equal image content, distinct from any token id. */
  keyOf(row: number): string;
  resolve(signal?: AbortSignal): Promise<ImageRows>;
}

/** A piece of a spliced prompt: text token ids, or an image's rows. */
export type PromptSegment =
  | { readonly kind: 'tokens'; readonly ids: readonly number[] }
  | { readonly kind: 'image'; readonly image: SplicedImage };

/** Every entry of the segments in order: token ids and image row keys. */
export function spliceKeys(segments: readonly PromptSegment[]): EntryKey[] {
  const keys: EntryKey[] = [];
  for (const segment of segments) {
    if (segment.kind === 'tokens') keys.push(...segment.ids);
    else for (let row = 0; row < segment.image.rows; row++) keys.push(segment.image.keyOf(row));
  }
  return keys;
}

/**
 * Encodes the images of a spliced turn that has at least one row fed (`inputLength` entries, the
 * tail of the turn as in `spliceRows`), one after the other, before anything is fed: an image that
 * cannot be read or encoded then fails the query with the dialog unchanged.
 */
export async function embedFedImages(inputLength: number, segments: readonly PromptSegment[], keyCount: number, signal: AbortSignal | undefined): Promise<void> {
  const first = keyCount - inputLength;
  let at = 0;
  for (const segment of segments) {
    const length = segment.kind === 'tokens' ? segment.ids.length : segment.image.rows;
    at += length;
    if (segment.kind === 'image' && at > first) {
      if (signal?.aborted) return;
      await segment.image.resolve(signal);
    }
  }
}

/** What splicing a turn took, for the query's KPIs. */
export interface SpliceReport {
  readonly images: ImageTimings[];
  /** Requantising and copying every fed row into the accumulator. */
  readonly spliceUs: number;
}

/**
 * Builds the rows a spliced turn feeds, in the model input's format, into `accumulator`: `input` is
 * a tail of the turn's entries (the dialog's own tokens: carried-over, EOS, BOS, then the prompt's
 * keys, cut by a rewind's cached prefix), so its entry j is the prompt's key
 * `keys.length - input.length + j`, or one of the dialog's tokens before them. Tokens come from the
 * LUT; an image is encoded only when at least one of its rows is fed.
 */
export async function spliceRows(
  input: readonly EntryKey[],
  segments: readonly PromptSegment[],
  keyCount: number,
  table: EmbeddingTable,
  accumulator: Accumulator,
  signal: AbortSignal | undefined,
): Promise<SpliceReport> {
  accumulator.clear();
  const images: ImageTimings[] = [];
  let spliceUs = 0;
  const first = keyCount - input.length; // the prompt key of input[0]; negative: the dialog's own tokens come first
  const lead = input.slice(0, Math.max(0, -first));
  if (lead.some((k) => typeof k !== 'number')) throw new InvalidArgumentError('internal: the dialog\'s own entries must be tokens');
  let t0 = process.hrtime.bigint();
  accumulator.appendTokens(lead as number[], table, 'the turn\'s leading tokens');
  spliceUs += elapsedUs(t0);
  let at = 0;
  for (const segment of segments) {
    const length = segment.kind === 'tokens' ? segment.ids.length : segment.image.rows;
    const from = Math.max(first, at) - at;
    at += length;
    if (from >= length) continue;
    if (segment.kind === 'tokens') {
      t0 = process.hrtime.bigint();
      accumulator.appendTokens(segment.ids.slice(from), table, 'the prompt text');
      spliceUs += elapsedUs(t0);
      continue;
    }
    const { rows, timings } = await segment.image.resolve(signal);
    images.push(timings);
    t0 = process.hrtime.bigint();
    accumulator.appendRows(rows, from, length - from, `the rows of ${segment.image.label}`);
    spliceUs += elapsedUs(t0);
  }
  return { images, spliceUs };
}

function elapsedUs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e3;
}
