/**
 * safetensors reader and writer. Layout: an 8-byte little-endian header length N, N bytes of JSON
 * (`{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {string: string}}`, offsets
 * relative to the data section), then the raw little-endian tensor data.
 *
 * The reader keeps the file open and reads one tensor at a time, so checkpoints larger than what
 * fits in one Buffer (2 GiB) still load, and only the tensors asked for are converted to float32.
 * `parseSafetensorsBytes` applies the same checks to an image already in memory.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { InvalidArgumentError, NotSupportedError } from '../errors.js';
import { float16ArrayToFloat32 } from '../tensor/fp16.js';
import { elementCount } from '../tensor/shape.js';
import { SafetensorsError } from './errors.js';
import { isPlainObject, jsonPreview } from './json.js';

const DTYPE_BYTES = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
} as const;

export type SafetensorsDType = keyof typeof DTYPE_BYTES;

/** Where one tensor lives in the file. `begin`/`end` are byte offsets inside the data section. */
export interface SafetensorsTensorInfo {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

/** A float32 tensor: row-major `data` of `shape`. */
export interface FloatTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface SafetensorsContents {
  readonly metadata: Readonly<Record<string, string>>;
  readonly tensors: Map<string, FloatTensor>;
}

const METADATA_KEY = '__metadata__';
/** Same bound as the reference implementation: larger headers are treated as corrupt. */
const MAX_HEADER_BYTES = 100_000_000;
const READ_CHUNK_BYTES = 1 << 30;

function isDType(value: unknown): value is SafetensorsDType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Validates a parsed header against a data section of `dataLength` bytes. Pure; throws
 * `SafetensorsError` naming `path` and the offending key.
 */
function parseSafetensorsHeader(
  header: unknown,
  dataLength: number,
  path: string,
): { metadata: Record<string, string>; tensors: Map<string, SafetensorsTensorInfo> } {
  const fail = (what: string): never => {
    throw new SafetensorsError(`safetensors file "${path}": ${what}`);
  };
  if (!isPlainObject(header)) return fail('header is not a JSON object');
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafetensorsTensorInfo>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      if (!isPlainObject(entry)) fail(`"${METADATA_KEY}" is not a JSON object`);
      for (const [key, value] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof value !== 'string') fail(`"${METADATA_KEY}.${key}" is not a string`);
        metadata[key] = value as string;
      }
      continue;
    }
    if (!isPlainObject(entry)) fail(`tensor "${name}" is not a JSON object`);
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (!isDType(dtype)) fail(`tensor "${name}": dtype ${jsonPreview(dtype)} is not a safetensors dtype`);
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      fail(`tensor "${name}": shape ${jsonPreview(shape)} is not a list of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
      fail(`tensor "${name}": data_offsets ${jsonPreview(offsets)} is not [begin, end] with 0 <= begin <= end`);
    }
    const [begin, end] = offsets as [number, number];
    const expected = elementCount(shape as number[]) * DTYPE_BYTES[dtype as SafetensorsDType];
    if (end - begin !== expected) {
      fail(
        `tensor "${name}": data_offsets [${begin}, ${end}] span ${end - begin} bytes but ` +
          `${String(dtype)} ${jsonPreview(shape)} needs ${expected}`,
      );
    }
    if (end > dataLength) {
      fail(`tensor "${name}": data_offsets [${begin}, ${end}] exceed the data section of ${dataLength} bytes`);
    }
    tensors.set(name, { dtype: dtype as SafetensorsDType, shape: shape as number[], begin, end });
  }
  const byBegin = [...tensors].sort((a, b) => a[1].begin - b[1].begin);
  for (let i = 1; i < byBegin.length; i++) {
    const [prevName, prev] = byBegin[i - 1];
    const [name, info] = byBegin[i];
    if (info.begin < prev.end) fail(`tensors "${prevName}" and "${name}" overlap`);
  }
  return { metadata, tensors };
}

export type SafetensorsFloatDType = 'F32' | 'F16' | 'BF16';

/** Whether tensors of `dtype` convert to float32 (`tensorToFloat32`). */
export function isFloatDType(dtype: SafetensorsDType): dtype is SafetensorsFloatDType {
  return dtype === 'F32' || dtype === 'F16' || dtype === 'BF16';
}

/**
 * Converts the raw little-endian bytes of one F32, F16 or BF16 tensor to float32. `data` may sit at
 * any byte offset: element-aligned F32 data is returned as a view sharing its memory, everything
 * else as a new array. Throws `InvalidArgumentError` if `data` is not a whole number of elements.
 */
export function tensorToFloat32(dtype: SafetensorsFloatDType, data: Uint8Array): Float32Array {
  const width = DTYPE_BYTES[dtype];
  if (data.byteLength % width !== 0) {
    throw new InvalidArgumentError(
      `tensorToFloat32: data of ${data.byteLength} bytes is not a whole number of ${dtype} elements (${width} bytes each)`,
    );
  }
  const count = data.byteLength / width;
  // Typed-array views need an element-aligned offset; misaligned data is copied first.
  const bytes = data.byteOffset % width === 0 ? data : data.slice();
  switch (dtype) {
    case 'F32':
      return new Float32Array(bytes.buffer, bytes.byteOffset, count);
    case 'F16':
      return float16ArrayToFloat32(new Uint16Array(bytes.buffer, bytes.byteOffset, count), new Float32Array(count));
    case 'BF16': {
      const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, count);
      const words = new Uint32Array(count);
      for (let i = 0; i < count; i++) words[i] = halves[i] << 16;
      return new Float32Array(words.buffer);
    }
  }
}

/** Where everything lives in a safetensors image: tensor offsets are relative to `dataStart`. */
export interface SafetensorsLayout {
  readonly metadata: Record<string, string>;
  readonly tensors: Map<string, SafetensorsTensorInfo>;
  /** Byte offset of the data section from the start of the image. */
  readonly dataStart: number;
}

/**
 * The header length stored in `prefix` (the first `min(8, size)` bytes of an image of `size`
 * bytes), checked to fit the image.
 */
function headerLengthOf(prefix: Uint8Array, size: number, path: string): number {
  if (size < 8) throw new SafetensorsError(`safetensors file "${path}" is ${size} bytes, too short for a header`);
  const headerLength = Number(new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > size - 8 || headerLength > MAX_HEADER_BYTES) {
    throw new SafetensorsError(
      `safetensors file "${path}": header length ${headerLength} exceeds the file size ${size} (or ${MAX_HEADER_BYTES})`,
    );
  }
  return headerLength;
}

/** Decodes and validates the header bytes (the ones after the length) of an image of `size` bytes. */
function parseHeaderBytes(headerBytes: Uint8Array, size: number, path: string): SafetensorsLayout {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (cause) {
    throw new SafetensorsError(`safetensors file "${path}": header is not valid JSON: ${(cause as Error).message}`, {
      cause,
    });
  }
  const dataStart = 8 + headerBytes.byteLength;
  return { ...parseSafetensorsHeader(header, size - dataStart, path), dataStart };
}

/**
 * Parses and validates the safetensors image held in `bytes` (the same checks as
 * `SafetensorsReader.open`); tensor data is not read. Throws `SafetensorsError` naming `path`.
 */
export function parseSafetensorsBytes(bytes: Uint8Array, path: string): SafetensorsLayout {
  const headerLength = headerLengthOf(bytes.subarray(0, 8), bytes.byteLength, path);
  return parseHeaderBytes(bytes.subarray(8, 8 + headerLength), bytes.byteLength, path);
}

async function readExactly(handle: FileHandle, target: Uint8Array, position: number, path: string): Promise<void> {
  let done = 0;
  while (done < target.length) {
    const length = Math.min(READ_CHUNK_BYTES, target.length - done);
    const { bytesRead } = await handle.read(target, done, length, position + done);
    if (bytesRead === 0) {
      throw new SafetensorsError(
        `safetensors file "${path}": unexpected end of file at byte ${position + done} (file changed while open?)`,
      );
    }
    done += bytesRead;
  }
}

/** An open safetensors file: header parsed up front, tensors read on demand. */
export class SafetensorsReader {
  private handle: FileHandle | null;

  private constructor(
    readonly path: string,
    handle: FileHandle,
    private readonly dataStart: number,
    readonly metadata: Readonly<Record<string, string>>,
    readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>,
  ) {
    this.handle = handle;
  }

  static async open(path: string): Promise<SafetensorsReader> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (cause) {
      throw new SafetensorsError(`cannot open safetensors file "${path}": ${(cause as Error).message}`, { cause });
    }
    try {
      const { size } = await handle.stat();
      const prefix = new Uint8Array(Math.min(8, size));
      await readExactly(handle, prefix, 0, path);
      const headerBytes = new Uint8Array(headerLengthOf(prefix, size, path));
      await readExactly(handle, headerBytes, 8, path);
      const { metadata, tensors, dataStart } = parseHeaderBytes(headerBytes, size, path);
      return new SafetensorsReader(path, handle, dataStart, metadata, tensors);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** Reads a F32, F16 or BF16 tensor as a new Float32Array. */
  async readFloat32(name: string): Promise<Float32Array> {
    const info = this.tensors.get(name);
    if (info === undefined) {
      throw new InvalidArgumentError(`safetensors file "${this.path}" has no tensor "${name}"`);
    }
    if (this.handle === null) throw new SafetensorsError(`safetensors file "${this.path}" is closed`);
    if (!isFloatDType(info.dtype)) {
      throw new NotSupportedError(
        `safetensors file "${this.path}", tensor "${name}": dtype ${info.dtype} cannot be read as float32 ` +
          '(F32, F16 and BF16 can)',
      );
    }
    const bytes = new Uint8Array(info.end - info.begin);
    await readExactly(this.handle, bytes, this.dataStart + info.begin, this.path);
    return tensorToFloat32(info.dtype, bytes);
  }

  async readTensor(name: string): Promise<FloatTensor> {
    const data = await this.readFloat32(name);
    return { shape: this.tensors.get(name)!.shape, data };
  }

  /** Idempotent. */
  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    await handle?.close();
  }
}

/** Reads every tensor of a file (all must be F32, F16 or BF16) and its metadata. */
export async function readSafetensors(path: string): Promise<SafetensorsContents> {
  const reader = await SafetensorsReader.open(path);
  try {
    const tensors = new Map<string, FloatTensor>();
    for (const name of reader.tensors.keys()) tensors.set(name, await reader.readTensor(name));
    return { metadata: reader.metadata, tensors };
  } finally {
    await reader.close();
  }
}

/** A tensor in its own dtype: `data` holds its little-endian bytes, as safetensors stores them. */
export interface RawTensor {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

/**
 * A safetensors image of raw tensors (in map order) and string metadata: header padded with spaces
 * so the data section starts 8-byte aligned. Returns the pieces to write in order (no copy of the data).
 */
export function safetensorsPieces(
  tensors: ReadonlyMap<string, RawTensor>,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header[METADATA_KEY] = metadata;
  let offset = 0;
  for (const [name, { dtype, shape, data }] of tensors) {
    if (name === METADATA_KEY) throw new InvalidArgumentError(`tensor name "${METADATA_KEY}" is reserved`);
    if (!shape.every(isCount) || elementCount(shape) * DTYPE_BYTES[dtype] !== data.byteLength) {
      throw new InvalidArgumentError(
        `tensor "${name}": ${data.byteLength} bytes do not hold a ${dtype} tensor of shape ${JSON.stringify(shape)}`,
      );
    }
    header[name] = { dtype, shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil((8 + json.length) / 8) * 8 - 8;
  const head = new Uint8Array(8 + padded).fill(0x20);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  return [head, ...[...tensors.values()].map((t) => t.data)];
}

/**
 * Writes float32 tensors (F32, in map order) and string metadata. The header is padded with
 * spaces so the data section starts 8-byte aligned.
 */
export async function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, FloatTensor>,
  metadata: Readonly<Record<string, string>> = {},
): Promise<void> {
  for (const [name, { shape, data }] of tensors) {
    if (!shape.every(isCount)) {
      throw new InvalidArgumentError(
        `tensor "${name}": shape ${JSON.stringify(shape)} is not a list of non-negative integers`,
      );
    }
    if (data.length !== elementCount(shape)) {
      throw new InvalidArgumentError(
        `tensor "${name}": data has ${data.length} elements but shape ${JSON.stringify(shape)} needs ${elementCount(shape)}`,
      );
    }
  }
  const raw = new Map([...tensors].map(([name, { shape, data }]) => [
    name,
    { dtype: 'F32' as const, shape, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) },
  ]));
  const pieces = safetensorsPieces(raw, metadata);
  let handle: FileHandle;
  try {
    handle = await open(path, 'w');
  } catch (cause) {
    throw new SafetensorsError(`cannot create safetensors file "${path}": ${(cause as Error).message}`, { cause });
  }
  try {
    for (const piece of pieces) await handle.write(piece);
  } finally {
    await handle.close();
  }
}
