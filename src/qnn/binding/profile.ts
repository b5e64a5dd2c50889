/**
 * QnnProfile events (docs/qnn-abi.md#profiling): one profile handle passed to context creation and every
 * execute, its events read back after each call (a reused handle resets) into plain objects.
 */
import koffi from 'koffi';
import { QnnProfileEventType, QnnProfileEventUnit, QnnProfileLevel } from '../enums.js';
import type { QnnCoreApi } from './function-table.js';
import type { NativePointer } from './native.js';

export const QNN_PROFILING_LEVELS = ['basic', 'detailed'] as const;
/** Mirrors `--profile basic|detailed`. */
export type QnnProfilingLevel = (typeof QNN_PROFILING_LEVELS)[number];

export function isQnnProfilingLevel(value: unknown): value is QnnProfilingLevel {
  return typeof value === 'string' && (QNN_PROFILING_LEVELS as readonly string[]).includes(value);
}

export interface QnnProfileEvent {
  /** `QnnProfile_EventType_t`, e.g. 400 EXECUTE. */
  readonly type: number;
  /** The documented name of `type`, when known (backends add their own types). */
  readonly typeName: string | null;
  /** `QnnProfile_EventUnit_t` name, e.g. MICROSEC, CYCLES. */
  readonly unit: string;
  readonly value: number;
  readonly identifier: string | null;
  /** Per-node events (detailed profiling only). */
  readonly subEvents: readonly QnnProfileEvent[];
}

/** The events of one QNN call: a context load (target = ctx-bin path) or a graph execute (target = graph). */
export interface QnnProfileRecord {
  readonly phase: 'load' | 'execute';
  readonly target: string;
  readonly events: readonly QnnProfileEvent[];
}

const reverse = (values: Record<string, number>): Map<number, string> =>
  new Map(Object.entries(values).map(([name, value]) => [value, name]));
const TYPE_NAME = reverse(QnnProfileEventType);
const UNIT_NAME = reverse(QnnProfileEventUnit);

export class QnnProfiler {
  private readonly records: QnnProfileRecord[] = [];

  private constructor(
    private readonly core: QnnCoreApi,
    readonly handle: NativePointer,
    readonly level: QnnProfilingLevel,
  ) {}

  static create(core: QnnCoreApi, backend: NativePointer, level: QnnProfilingLevel): QnnProfiler {
    const out: unknown[] = [null];
    const qnnLevel = level === 'basic' ? QnnProfileLevel.BASIC : QnnProfileLevel.DETAILED;
    core.check('profileCreate', core.fn('profileCreate')(backend, qnnLevel, out));
    return new QnnProfiler(core, out[0] as NativePointer, level);
  }

  /** Reads the events of the last call that used the handle. */
  collect(phase: QnnProfileRecord['phase'], target: string): void {
    const ids: unknown[] = [null];
    const count = [0];
    this.core.check('profileGetEvents', this.core.fn('profileGetEvents')(this.handle, ids, count));
    this.records.push({ phase, target, events: this.events(ids[0], count[0]) });
  }

  /** The records collected since the last call, oldest first. */
  take(): QnnProfileRecord[] {
    return this.records.splice(0);
  }

  free(): void {
    this.core.check('profileFree', this.core.fn('profileFree')(this.handle));
  }

  private events(ids: unknown, count: number): QnnProfileEvent[] {
    if (count === 0 || ids === null) return [];
    return Array.from(koffi.decode(ids, 'uint64_t', count) as ArrayLike<number | bigint>, (id) => this.event(id));
  }

  private event(id: number | bigint): QnnProfileEvent {
    const data: { type?: number; unit?: number; value?: number | bigint; identifier?: string | null } = {};
    this.core.check('profileGetEventData', this.core.fn('profileGetEventData')(id, data));
    let subEvents: QnnProfileEvent[] = [];
    if (this.level === 'detailed') {
      const subIds: unknown[] = [null];
      const count = [0];
      this.core.check('profileGetSubEvents', this.core.fn('profileGetSubEvents')(id, subIds, count));
      subEvents = this.events(subIds[0], count[0]);
    }
    const type = data.type ?? 0;
    const unit = data.unit ?? 0;
    return {
      type,
      typeName: TYPE_NAME.get(type) ?? null,
      unit: UNIT_NAME.get(unit) ?? String(unit),
      value: Number(data.value ?? 0),
      identifier: data.identifier ?? null,
      subEvents,
    };
  }
}
