/**
 * KV-cache policies: what a dialog does when its KV cache is full (docs/genie-behaviour.md#long-context).
 * A policy reads the cache through a `KvCacheView` and answers with slots to evict or `'error'`;
 * the dialog validates the answer and applies it (src/runtime/kv-policy/apply.ts).
 */

/** What a KV entry came from: a token id, a caller's embedding row (or a T2E row), a row of an image. */
export type KvEntryKind = 'token' | 'embedding' | 'image';

/**
 * A read-only, live view of what a dialog's KV cache holds, slot by slot (slot 0 the oldest).
 * Positions increase along the slots; after an eviction they are no longer the slot indices.
 */
export interface KvCacheView {
  /** Entries held: slots 0 .. length - 1. */
  readonly length: number;
  /** Most entries the cache may hold: `context.size`, or the binaries' KV capacity when smaller. */
  readonly capacity: number;
  /** Position the next entry fed gets. */
  readonly nextPosition: number;
  /** The RoPE / `position_ids` position entry `slot` was computed at. */
  position(slot: number): number;
  /** The token id of entry `slot`; -1 when it came in as a row (`kind` is then 'embedding' or 'image'). */
  token(slot: number): number;
  kind(slot: number): KvEntryKind;
  /**
   * The turn entry `slot` belongs to: 0 for the first prompt fed, one more per prompt; a reply's
   * tokens belong to its prompt's turn, and so do the carried-over token and the EOS that close it.
   */
  turn(slot: number): number;
}

/** What a policy is asked to make room for. */
export interface KvRoomRequest {
  /** Entries the coming step adds: a prompt's length, or 1 for a decoded token. */
  readonly needed: number;
  readonly phase: 'prefill' | 'decode';
  /** The turn the coming entries belong to: a new turn for a prompt, the current one for a decoded token. */
  readonly turn: number;
}

/**
 * Evict these slots (strictly ascending, each < `length`). The later entries move down and keep the
 * positions they were computed at (StreamingLLM's attention sinks work that way), unless `recompute`.
 */
export interface KvEviction {
  readonly evict: ArrayLike<number>;
  /**
   * Recompute the kept entries instead: the cache is emptied and their tokens fed again from
   * position 0, so they attend only to each other at contiguous positions (costs a prefill of
   * them; every kept entry must be a token).
   */
  readonly recompute?: boolean;
}

/** `'error'`: no room is made; the step fails with `ContextLimitError` (Genie's behaviour, the default). */
export type KvDecision = 'error' | KvEviction;

/**
 * A KV-cache policy. `makeRoom` is asked before a step whose entries would not fit; `afterStep`,
 * when defined, after every step that added entries (a prefill, each decoded token), so a policy can
 * keep the cache below its capacity (a window). Both must be pure functions of what they are given:
 * a query's plan is made when `query()` is called and again when the query runs.
 */
export interface KvPolicy {
  /** Names the policy in errors and reports. */
  readonly name: string;
  makeRoom(cache: KvCacheView, request: KvRoomRequest): KvDecision;
  afterStep?(cache: KvCacheView): KvEviction | null;
}
