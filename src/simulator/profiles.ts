/**
 * QnnProfile handles (docs/qnn-abi.md#profiling). A profile passed to contextCreateFromBinary,
 * contextFree or graphExecute is reset and then holds that call's events: INIT / DEINIT with the
 * call's time, or EXECUTE with the HTP host-RPC (whole call) and accelerator (graph run) times as
 * sub-events. BASIC and DETAILED record the same events. Event id arrays and identifiers live in
 * native memory owned by the profile until its next use or profileFree.
 */
import { QnnProfileEventUnit, QnnProfileLevel } from '../qnn/enums.js';
import { Code, fail } from './failure.js';
import { HandleTable } from './handles.js';
import { ProfileEventData } from './layout.js';
import {
  addressOf,
  hex,
  NativeArena,
  nativeView,
  NULL,
  storePointer,
  storeUint32,
  writePointer,
  type Address,
  type PointerArg,
} from './native.js';
import type { Handler, Simulator } from './simulator.js';

/** An event to record: type, microseconds, identifier, and its sub-events. */
export interface ProfileEventSpec {
  readonly type: number;
  readonly microseconds: number;
  readonly identifier: string;
  readonly subEvents?: readonly ProfileEventSpec[];
}

interface RecordedEvent {
  readonly spec: ProfileEventSpec;
  readonly identifier: Address;
  /** Native uint64 array of sub-event ids (NULL when none) and its length. */
  readonly subIds: Address;
  readonly subCount: number;
}

interface SimProfile {
  readonly level: number;
  arena: NativeArena;
  topIds: Address;
  topCount: number;
  readonly events: Map<bigint, RecordedEvent>;
}

const LEVELS: readonly number[] = [QnnProfileLevel.BASIC, QnnProfileLevel.DETAILED];

export class SimProfiles {
  private readonly table: HandleTable<SimProfile>;
  private nextEventId = 0x1000n;
  /** Event id -> the profile holding it. */
  private readonly owner = new Map<bigint, SimProfile>();

  constructor(private readonly sim: Simulator) {
    this.table = new HandleTable(sim.sequence);
    sim.onDispose(() => {
      for (const profile of this.table.values()) profile.arena.free();
    });
  }

  get live(): number {
    return this.table.size;
  }

  /** `handle` is NULL or a live profile; fails with `code` otherwise. */
  requireOptional(handle: Address, code: number): void {
    if (handle !== NULL && !this.table.has(handle)) fail(code, `profile ${hex(handle)} is not a live profile handle`);
  }

  /** Replaces the events of profile `handle` (NULL: nothing to record) with `events`. */
  record(handle: Address, events: readonly ProfileEventSpec[]): void {
    const profile = this.table.get(handle);
    if (profile === undefined) return;
    profile.arena.free();
    for (const id of profile.events.keys()) this.owner.delete(id);
    profile.events.clear();
    profile.arena = new NativeArena();
    const ids = this.writeEvents(profile, events);
    profile.topIds = ids.address;
    profile.topCount = events.length;
  }

  handlers(): Record<'profileCreate' | 'profileGetEvents' | 'profileGetSubEvents' | 'profileGetEventData' | 'profileFree', Handler> {
    return {
      profileCreate: (backend: PointerArg, level: number, out: PointerArg): void => {
        if (!this.sim.backends.has(addressOf(backend))) {
          fail(Code.PROFILE_INVALID_HANDLE, `backend ${hex(addressOf(backend))} is not a live backend handle`);
        }
        if (!LEVELS.includes(level)) fail(Code.COMMON_INVALID_ARGUMENT, `level ${level} is not BASIC (1) or DETAILED (2)`);
        if (addressOf(out) === NULL) fail(Code.COMMON_INVALID_ARGUMENT, 'profile out-pointer is NULL');
        const handle = this.table.issue({ level, arena: new NativeArena(), topIds: NULL, topCount: 0, events: new Map() });
        storePointer(addressOf(out), handle);
      },
      profileGetEvents: (handle: PointerArg, outIds: PointerArg, outCount: PointerArg): void => {
        const profile = this.profile(addressOf(handle));
        if (addressOf(outIds) === NULL || addressOf(outCount) === NULL) {
          fail(Code.COMMON_INVALID_ARGUMENT, 'events or numEvents out-pointer is NULL');
        }
        storePointer(addressOf(outIds), profile.topIds);
        storeUint32(addressOf(outCount), profile.topCount);
      },
      profileGetSubEvents: (eventId: number | bigint, outIds: PointerArg, outCount: PointerArg): void => {
        const event = this.event(BigInt(eventId));
        if (addressOf(outIds) === NULL || addressOf(outCount) === NULL) {
          fail(Code.COMMON_INVALID_ARGUMENT, 'subEvents or numSubEvents out-pointer is NULL');
        }
        storePointer(addressOf(outIds), event.subIds);
        storeUint32(addressOf(outCount), event.subCount);
      },
      profileGetEventData: (eventId: number | bigint, out: PointerArg): void => {
        const event = this.event(BigInt(eventId));
        if (addressOf(out) === NULL) fail(Code.COMMON_INVALID_ARGUMENT, 'eventData out-pointer is NULL');
        const view = nativeView(addressOf(out), ProfileEventData.size);
        view.setUint32(ProfileEventData.type, event.spec.type, true);
        view.setUint32(ProfileEventData.unit, QnnProfileEventUnit.MICROSEC, true);
        view.setBigUint64(ProfileEventData.value, BigInt(Math.round(event.spec.microseconds)), true);
        writePointer(view, ProfileEventData.identifier, event.identifier);
      },
      profileFree: (handle: PointerArg): void => {
        const profile = this.profile(addressOf(handle));
        for (const id of profile.events.keys()) this.owner.delete(id);
        profile.arena.free();
        this.table.release(addressOf(handle));
      },
    };
  }

  private writeEvents(profile: SimProfile, specs: readonly ProfileEventSpec[]): { address: Address } {
    if (specs.length === 0) return { address: NULL };
    const block = profile.arena.alloc(specs.length * 8);
    specs.forEach((spec, i) => {
      const id = this.nextEventId++;
      const sub = this.writeEvents(profile, spec.subEvents ?? []);
      profile.events.set(id, {
        spec,
        identifier: profile.arena.string(spec.identifier),
        subIds: sub.address,
        subCount: spec.subEvents?.length ?? 0,
      });
      this.owner.set(id, profile);
      block.view.setBigUint64(i * 8, id, true);
    });
    return block;
  }

  private event(id: bigint): RecordedEvent {
    const event = this.owner.get(id)?.events.get(id);
    if (event === undefined) fail(Code.PROFILE_INVALID_HANDLE, `event id ${id} is not an event of a live profile`);
    return event;
  }

  private profile(handle: Address): SimProfile {
    const profile = this.table.get(handle);
    if (profile === undefined) fail(Code.PROFILE_INVALID_HANDLE, `profile ${hex(handle)} is not a live profile handle`);
    return profile;
  }
}
