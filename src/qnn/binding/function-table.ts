/**
 * The provider's function tables bound by slot index (docs/qnn-abi.md#core-function-table,
 * docs/qnn-abi.md#system-function-table). Only the slots valid for the provider's API minor are
 * read; NULL slots mean "not supported by this backend" and throw a typed error naming the function
 * when it is needed.
 */
import koffi from 'koffi';
import type { TypeObject } from 'koffi';
import { CORE_SLOT_PROTOS, INTERFACE_TABLE_OFFSET, SLOT_SIZE, SYSTEM_INTERFACE_TABLE_OFFSET, SYSTEM_SLOT_PROTOS } from '../abi.js';
import { checkQnn, qnnErrorCode } from '../errors.js';
import { CORE_SLOTS, formatApiVersion, SYSTEM_SLOTS, validSlotCount, type InterfaceSlot } from '../slots.js';
import { QnnFunctionUnavailableError } from './errors.js';
import { readPointer, type NativeFunction } from './native.js';
import type { QnnProvider } from './providers.js';

class FunctionTable<Name extends string> {
  /** How many leading table slots the provider's API version defines (only these are read). */
  readonly slotCount: number;
  private readonly functions = new Map<Name, NativeFunction>();
  private readonly missing = new Map<Name, string>();

  constructor(
    readonly provider: QnnProvider,
    apiName: string,
    slots: readonly InterfaceSlot<string>[],
    validCount: number,
    tableOffset: number,
    protos: Readonly<Record<Name, TypeObject>>,
  ) {
    this.slotCount = validCount;
    const version = `${apiName} ${formatApiVersion(provider.apiVersion)}`;
    for (const name of Object.keys(protos) as Name[]) {
      const slot = slots.find((s) => s.name === name)!;
      if (slot.index >= validCount) {
        this.missing.set(name, `its table slot ${slot.index} is newer than ${version} (it appeared in API minor ${slot.sinceMinor})`);
        continue;
      }
      const pointer = readPointer(provider.pointer, tableOffset + SLOT_SIZE * slot.index);
      if (pointer === null) this.missing.set(name, `its table slot ${slot.index} is NULL in ${version}`);
      else this.functions.set(name, koffi.decode(pointer, protos[name]) as NativeFunction);
    }
  }

  has(name: Name): boolean {
    return this.functions.has(name);
  }

  /** The bound function; throws `QnnFunctionUnavailableError` when the backend does not provide it. */
  fn(name: Name): NativeFunction {
    const fn = this.functions.get(name);
    if (fn !== undefined) return fn;
    const who = this.provider.providerName ?? `backend id ${this.provider.backendId}`;
    throw new QnnFunctionUnavailableError(
      name,
      `QNN function ${name} is not supported by this backend (${who}): ${this.missing.get(name) ?? 'not bound'}`,
    );
  }
}

export type CoreFunctionName = keyof typeof CORE_SLOT_PROTOS;
export type SystemFunctionName = keyof typeof SYSTEM_SLOT_PROTOS;

/** The core QnnInterface table of the chosen backend provider. */
export class QnnCoreApi extends FunctionTable<CoreFunctionName> {
  constructor(provider: QnnProvider) {
    super(provider, 'core API', CORE_SLOTS, validSlotCount(provider.apiVersion.minor), INTERFACE_TABLE_OFFSET, CORE_SLOT_PROTOS);
  }

  /** QNN's message for an error handle, when the backend provides `errorGetMessage`. */
  errorMessage(result: number | bigint): string | undefined {
    if (!this.has('errorGetMessage')) return undefined;
    const message: unknown[] = [null];
    const status = this.fn('errorGetMessage')(result, message) as number | bigint;
    return qnnErrorCode(status) === 0 && typeof message[0] === 'string' ? message[0] : undefined;
  }

  /** Throws a `QnnError` (with QNN's message and a hint) when `result` is not QNN_SUCCESS. */
  check(functionName: string, result: unknown): void {
    checkQnn(functionName, result as number | bigint, (r) => this.errorMessage(r));
  }
}

/** The QnnSystem table (slots 0-3) of the chosen system provider. */
export class QnnSystemApi extends FunctionTable<SystemFunctionName> {
  constructor(provider: QnnProvider) {
    const validCount = SYSTEM_SLOTS.filter((slot) => slot.sinceMinor <= provider.apiVersion.minor).length;
    super(provider, 'system API', SYSTEM_SLOTS, validCount, SYSTEM_INTERFACE_TABLE_OFFSET, SYSTEM_SLOT_PROTOS);
  }

  check(functionName: string, result: unknown): void {
    checkQnn(functionName, result as number | bigint);
  }
}
