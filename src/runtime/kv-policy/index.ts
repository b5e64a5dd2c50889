export type { KvCacheView, KvDecision, KvEntryKind, KvEviction, KvPolicy, KvRoomRequest } from './policy.js';
export { SlidingWindowPolicy } from './sliding-window.js';
export { DropOldestTurnsPolicy } from './drop-oldest-turns.js';
export { parseKvPolicySpec, resolveKvPolicy, type KvPolicySpec } from './resolve.js';
