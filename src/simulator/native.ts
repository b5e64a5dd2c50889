/** Native memory for the simulated provider: zeroed blocks, raw views, C strings. */
import koffi from 'koffi';

/** A native address as Koffi represents pointers (bigint); 0n is NULL. */
export type Address = bigint;

export const NULL: Address = 0n;

/** A pointer argument of a Koffi callback: bigint, or null for NULL. */
export type PointerArg = bigint | null;

export const addressOf = (pointer: PointerArg): Address => pointer ?? NULL;

/** The longest view Koffi makes: it aborts the process for a longer one. */
export const MAX_VIEW_BYTES = 0xffffffff;

/** A view of `length` (<= MAX_VIEW_BYTES) bytes of native memory at `address`, which must not be NULL. */
export function nativeBytes(address: Address, length: number): Uint8Array {
  // koffi.view(NULL, n) and koffi.view(p, n >= 2^32) abort the process, so never let either through.
  if (address === NULL) throw new RangeError('nativeBytes: NULL address');
  if (length > MAX_VIEW_BYTES) throw new RangeError(`nativeBytes: ${length} bytes is more than one view can hold (${MAX_VIEW_BYTES})`);
  return new Uint8Array(koffi.view(address, length));
}

export function nativeView(address: Address, length: number): DataView {
  const bytes = nativeBytes(address, length);
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The NUL-terminated UTF-8 string at `address` (not NULL). */
export function readCString(address: Address): string {
  if (address === NULL) throw new RangeError('readCString: NULL address');
  return koffi.decode.string(address);
}

export const readPointer = (view: DataView, offset: number): Address => view.getBigUint64(offset, true);

export const writePointer = (view: DataView, offset: number, address: Address): void =>
  view.setBigUint64(offset, address, true);

/** A zero-filled native block and a little-endian DataView over it. */
export interface NativeBlock {
  readonly address: Address;
  readonly view: DataView;
  readonly bytes: Uint8Array;
}

function allocBlock(length: number): NativeBlock {
  const address = koffi.alloc('uint8_t', Math.max(1, length)) as Address;
  const bytes = nativeBytes(address, length);
  bytes.fill(0);
  return { address, bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}

const utf8 = new TextEncoder();

/** Native blocks released together (e.g. everything one binary-info answer points into). */
export class NativeArena {
  private readonly blocks: Address[] = [];
  private allocated = 0;

  alloc(length: number): NativeBlock {
    const block = allocBlock(length);
    this.blocks.push(block.address);
    this.allocated += length;
    return block;
  }

  /** Bytes allocated so far. */
  get bytes(): number {
    return this.allocated;
  }

  /** A NUL-terminated UTF-8 copy of `text`. */
  string(text: string): Address {
    const encoded = utf8.encode(text);
    const block = this.alloc(encoded.length + 1);
    block.bytes.set(encoded);
    return block.address;
  }

  /** Native uint32 array holding `values`. */
  uint32s(values: readonly number[]): Address {
    const block = this.alloc(values.length * 4);
    values.forEach((value, i) => block.view.setUint32(i * 4, value, true));
    return block.address;
  }

  /** Idempotent. */
  free(): void {
    for (const address of this.blocks) koffi.free(address);
    this.blocks.length = 0;
    this.allocated = 0;
  }
}

/** `0x...` for messages. */
export const hex = (address: Address): string => `0x${address.toString(16)}`;

/** Stores a pointer through the out-parameter `out` (not NULL). */
export function storePointer(out: Address, value: Address): void {
  nativeView(out, 8).setBigUint64(0, value, true);
}

/** Stores a uint32 through the out-parameter `out` (not NULL). */
export function storeUint32(out: Address, value: number): void {
  nativeView(out, 4).setUint32(0, value, true);
}

/** Stores a uint64 through the out-parameter `out` (not NULL). */
export function storeUint64(out: Address, value: bigint): void {
  nativeView(out, 8).setBigUint64(0, value, true);
}

/**
 * The entries of a NULL-terminated `const T **` array at `list` (NULL = empty), at most `limit`;
 * undefined when no terminator shows up within `limit` entries.
 */
export function readPointerList(list: Address, limit: number): Address[] | undefined {
  const entries: Address[] = [];
  if (list === NULL) return entries;
  for (let i = 0; i <= limit; i++) {
    const entry = nativeView(list + BigInt(i * 8), 8).getBigUint64(0, true);
    if (entry === NULL) return entries;
    entries.push(entry);
  }
  return undefined;
}
