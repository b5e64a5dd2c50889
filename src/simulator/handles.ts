/** Opaque handles the simulated provider issues, one table per kind. */
import type { Address } from './native.js';

/**
 * Handle values never point at memory the caller could use; every kind draws from one sequence,
 * so a handle of one kind is unknown to every other table (INVALID_HANDLE, not a mix-up).
 */
export class HandleSequence {
  private next = 0x5157_0000_1000n;

  issue(): Address {
    const handle = this.next;
    this.next += 0x10n;
    return handle;
  }
}

/** The live handles of one kind and what each stands for. */
export class HandleTable<T> {
  private readonly live = new Map<Address, T>();

  constructor(private readonly sequence: HandleSequence) {}

  issue(value: T): Address {
    const handle = this.sequence.issue();
    this.live.set(handle, value);
    return handle;
  }

  get(handle: Address): T | undefined {
    return this.live.get(handle);
  }

  has(handle: Address): boolean {
    return this.live.has(handle);
  }

  release(handle: Address): void {
    this.live.delete(handle);
  }

  get size(): number {
    return this.live.size;
  }

  values(): IterableIterator<T> {
    return this.live.values();
  }

  entries(): IterableIterator<[Address, T]> {
    return this.live.entries();
  }
}
