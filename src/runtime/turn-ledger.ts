import { InvalidArgumentError } from '../errors.js';
import { TokenHistory, type TokenHistoryState } from '../sampler/token-history.js';
import type { ElementArray } from '../tensor/dtype.js';
import type { EmbeddingRows } from './embeddings/rows.js';
import type { EntryKey, PromptSegment } from './spliced-prompt.js';

export type { EntryKey } from './spliced-prompt.js';

/** A KV entry with no key a rewind could match (an embedding row). */
export const UNMATCHED = -1;

/** What a turn feeds after the dialog's own tokens: token ids, caller-given embedding rows, or text spliced with images. */
export type TurnPrompt =
  | { readonly kind: 'tokens'; readonly ids: readonly number[]; readonly rewind: boolean }
  | {
    readonly kind: 'embeddings';
    readonly rows: EmbeddingRows;
    readonly count: number;
    readonly toEmbedding: ((token: number, row: ElementArray) => void) | undefined;
  }
  | {
    readonly kind: 'spliced';
    /** Text and images in prompt order. */
    readonly segments: readonly PromptSegment[];
    /** The prompt's entries in order: text token ids and image row keys (`spliceKeys(segments)`). */
    readonly keys: readonly EntryKey[];
    readonly rewind: boolean;
  };

/** The entries a turn feeds (`input`), after how many KV entries it keeps (`keep`); `tokens` is what a rewind cuts back to. */
export interface TurnPlan {
  readonly tokens: EntryKey[];
  readonly keep: number;
  readonly input: EntryKey[];
}

/**
 * The dialog's conversation state between model calls (docs/genie-behaviour.md#turn-rules,
 * docs/genie-behaviour.md#rewind): the token id of each KV entry, the carried-over token, whether a
 * turn was fed, and the penalty history. Plans each turn's tokens from it (the carried-over token,
 * EOS between turns, BOS; a rewind's longest cached prefix). The caller moves the engine's KV cache
 * in step with it.
 */
export class TurnLedger {
  readonly history: TokenHistory;
  private readonly bosToken: number | null;
  private readonly primaryEos: number;
  /** Sampled but never fed through the model; fed first at the next turn (null after EOS or a stop match). */
  private carried: number | null = null;
  /** The key of every KV entry (a token id, UNMATCHED for a caller's row, an image row's key): what a rewind query matches against. */
  private readonly kvTokens: EntryKey[] = [];
  /** A number per KV entry, unique within this ledger and increasing along the entries: tells a checkpoint's entries from later ones in the same slots. */
  private readonly stamps: number[] = [];
  private nextStamp = 1;
  /** The turn of each KV entry (see `turnAt`). */
  private readonly turns: number[] = [];
  /** The turn the next fed prompt opens. */
  private nextTurn = 0;
  private firstQuery = true;

  /**
   * @param bosToken prepended to each fresh turn's prompt; null for none
   * @param primaryEos fed between turns
   * @param historyCapacity how many recent tokens the penalty history keeps
   * @throws InvalidArgumentError for an argument that is not a token id (or null / a capacity)
   */
  constructor(bosToken: number | null, primaryEos: number, historyCapacity: number) {
    if (bosToken !== null && !isTokenId(bosToken)) {
      throw new InvalidArgumentError(`bosToken must be null or a token id (an integer >= 0), got ${String(bosToken)}`);
    }
    if (!isTokenId(primaryEos)) throw new InvalidArgumentError(`primaryEos must be a token id (an integer >= 0), got ${String(primaryEos)}`);
    this.bosToken = bosToken;
    this.primaryEos = primaryEos;
    this.history = new TokenHistory(historyCapacity, { bounded: true });
  }

  /** The sampled token not yet fed through the model, if any. */
  get pending(): number | null {
    return this.carried;
  }

  /** Forgets the conversation: no KV entries, no carried-over token, penalty history cleared. */
  reset(): void {
    this.kvTokens.length = 0;
    this.stamps.length = 0;
    this.turns.length = 0;
    this.nextTurn = 0;
    this.history.reset();
    this.carried = null;
    this.firstQuery = true;
  }

  /**
   * What a turn feeds, after how many cached entries. Any turn but a rewind keeps the whole cache
   * (`nValid` entries). A rewind query keeps the run of entries from the first whose key is the
   * conversation's entry at that entry's position (`positionAt(slot)`; entry i of a conversation is
   * computed at position i) and feeds what follows the last one kept; when the whole conversation is
   * cached, its last entry is fed again for fresh logits. On a cache without evictions (position =
   * slot, the default) that is the longest cached prefix; after a KV policy evicted, the entries
   * kept still sit at their own positions, so the run goes on past the gaps. A rewind's `tokens`
   * are its entries slot by slot: the kept ones, then `input`.
   */
  plan(prompt: TurnPrompt, nValid: number, positionAt: (slot: number) => number = (slot) => slot): TurnPlan {
    if (!Number.isSafeInteger(nValid) || nValid < 0) throw new InvalidArgumentError(`plan: nValid must be an integer >= 0, got ${String(nValid)}`);
    if (prompt.kind === 'embeddings' || !prompt.rewind) {
      const input = this.turnTokens(prompt);
      return { tokens: input, keep: nValid, input };
    }
    const conversation = this.firstTurnTokens(prompt.kind === 'tokens' ? prompt.ids : prompt.keys);
    const held = Math.min(nValid, this.kvTokens.length);
    let keep = 0;
    for (; keep < held; keep++) {
      const position = positionAt(keep);
      if (position >= conversation.length || this.kvTokens[keep] !== conversation[position]) break;
    }
    if (keep > 0 && positionAt(keep - 1) === conversation.length - 1) keep--;
    const fedFrom = keep === 0 ? 0 : positionAt(keep - 1) + 1;
    const input = conversation.slice(fedFrom);
    const tokens = fedFrom === keep ? conversation : [...this.kvTokens.slice(0, keep), ...input];
    return { tokens, keep, input };
  }

  /**
   * Cuts the ledger to the first `keep` of a rewind query's `tokens`, which must be held entries (the
   * prefix `plan` found). The penalty history becomes those tokens, as a fresh dialog fed them would
   * hold; nothing is carried over.
   */
  rewindTo(keep: number, tokens: readonly EntryKey[]): void {
    const most = Math.min(this.kvTokens.length, tokens.length);
    if (!Number.isInteger(keep) || keep < 0 || keep > most) {
      throw new InvalidArgumentError(`rewindTo: keep must be an integer in [0, ${most}] (held entries and given tokens), got ${String(keep)}`);
    }
    for (let i = 0; i < keep; i++) {
      if (tokens[i] !== this.kvTokens[i]) {
        throw new InvalidArgumentError(`rewindTo: tokens[${i}] = ${String(tokens[i])} is not the held entry ${this.kvTokens[i]} (keep only a cached prefix)`);
      }
    }
    this.kvTokens.length = keep;
    this.stamps.length = keep;
    this.turns.length = keep;
    this.history.reset();
    this.history.pushAll(tokenIds(tokens.slice(0, keep)));
    this.carried = null;
    this.firstQuery = keep === 0;
  }

  /**
   * Records a prefill that fed `input` (then an embedding prompt's rows): entries that came in as rows
   * (the caller's, or T2E callback rows) have no token id; image rows keep their keys and, not being
   * tokens, stay out of the penalty history. Invalid ids change nothing.
   */
  recordPrefill(input: readonly EntryKey[], prompt: TurnPrompt): void {
    this.history.pushAll(tokenIds(input)); // checks every id before it adds any
    const viaRows = prompt.kind === 'embeddings' && prompt.toEmbedding !== undefined;
    const turn = this.nextTurn++;
    // A turn's own tokens follow what closes the previous one: its carried-over token and the EOS between turns.
    const rewind = prompt.kind !== 'embeddings' && prompt.rewind;
    const closing = rewind ? 0 : (this.carried !== null ? 1 : 0) + (this.firstQuery ? 0 : 1);
    for (let i = 0; i < input.length; i++) this.pushEntry(viaRows ? UNMATCHED : input[i], i < closing ? Math.max(0, turn - 1) : turn);
    if (prompt.kind === 'embeddings') for (let i = 0; i < prompt.count; i++) this.pushEntry(UNMATCHED, turn);
    this.carried = null;
    this.firstQuery = false;
  }

  /** A generated token, not yet fed: carried over to the next turn unless fed first. */
  recordSampled(token: number): void {
    this.history.push(token); // checks the id first
    this.carried = token;
  }

  /** The pending token was fed through the model (as a row when `viaRow`): an EOS or a failure from here on must not carry it over. */
  recordFed(token: number, viaRow: boolean): void {
    if (token !== this.carried) {
      throw new InvalidArgumentError(
        this.carried === null ? `recordFed(${String(token)}): no sampled token is pending` : `recordFed(${String(token)}): the pending token is ${this.carried}`,
      );
    }
    this.pushEntry(viaRow ? UNMATCHED : token, this.currentTurn);
    this.carried = null;
  }

  /**
   * Undoes `recordFed(token, false)` after the KV cache was cut back by that entry (a token the
   * decode loop fed while delivering it, which the query then did not keep): the token is the
   * pending one again, as if it had never been fed.
   * @throws InvalidArgumentError unless `token` is the last entry and nothing is pending
   */
  unfeed(token: number): void {
    const last = this.kvTokens.length - 1;
    if (this.carried !== null || last < 0 || this.kvTokens[last] !== token) {
      const state = this.carried !== null ? `the token ${this.carried} is pending` : last < 0 ? 'no entry is held' : `the last entry is ${String(this.kvTokens[last])}`;
      throw new InvalidArgumentError(`unfeed(${String(token)}): ${state}`);
    }
    this.kvTokens.length = last;
    this.stamps.length = last;
    this.turns.length = last;
    this.carried = token;
  }

  /** Forgets the `k` trailing generated tokens after the KV cache was cut to `nValid` entries. */
  dropGenerated(k: number, nValid: number): void {
    if (!Number.isInteger(k) || k < 0 || k > this.history.length) {
      throw new InvalidArgumentError(`dropGenerated: k must be an integer in [0, ${this.history.length}] (tokens in the history), got ${String(k)}`);
    }
    if (!Number.isInteger(nValid) || nValid < 0 || nValid > this.kvTokens.length) {
      throw new InvalidArgumentError(`dropGenerated: nValid must be an integer in [0, ${this.kvTokens.length}] (held entries), got ${String(nValid)}`);
    }
    this.kvTokens.length = nValid;
    this.stamps.length = nValid;
    this.turns.length = nValid;
    this.history.truncate(this.history.length - k);
    this.carried = null;
  }

  /** KV entries the ledger holds. */
  get entries(): number {
    return this.kvTokens.length;
  }

  /** The stamp of entry `i` (< `entries`): equal stamps at one index mean the same entry in the same slot. */
  stampAt(i: number): number {
    return this.stamps[i];
  }

  /** The key of entry `i` (< `entries`): its token id, `UNMATCHED` for a caller's row, an image row's key. */
  keyAt(i: number): EntryKey {
    return this.kvTokens[i];
  }

  /**
   * The turn of entry `i` (< `entries`): 0 for the first prompt fed, then one more per prompt; a
   * reply's tokens belong to its prompt's turn, and so do the carried-over token and the EOS that
   * close it when the next turn feeds them.
   */
  turnAt(i: number): number {
    return this.turns[i];
  }

  /**
   * Forgets the entries in `slots` (strictly ascending, < `entries`, as the KV cache evicted them);
   * the later ones move down. The penalty history and the carried-over token stay: they are what was
   * said, not what the cache holds.
   */
  evict(slots: ArrayLike<number>): void {
    const count = this.kvTokens.length;
    for (let i = 0; i < slots.length; i++) {
      if (!Number.isInteger(slots[i]) || slots[i] < 0 || slots[i] >= count || (i > 0 && slots[i] <= slots[i - 1])) {
        throw new InvalidArgumentError(`evict: slots must be strictly ascending entries in [0, ${count}); slots[${i}] = ${slots[i]}`);
      }
    }
    let n = slots.length === 0 ? count : slots[0];
    for (let i = n, e = 0; i < count; i++) {
      if (e < slots.length && slots[e] === i) {
        e++;
        continue;
      }
      this.kvTokens[n] = this.kvTokens[i];
      this.stamps[n] = this.stamps[i];
      this.turns[n] = this.turns[i];
      n++;
    }
    this.kvTokens.length = this.stamps.length = this.turns.length = n;
  }

  /** New stamps for every entry: they were computed again (a KV policy's recompute), so no checkpoint holds them. */
  renewStamps(): void {
    for (let i = 0; i < this.stamps.length; i++) this.stamps[i] = this.nextStamp++;
  }

  /** The turn the next prompt fed opens (`turnAt` of its entries). */
  get upcomingTurn(): number {
    return this.nextTurn;
  }

  /** The turn a decoded token joins: the last prompt's. */
  get currentTurn(): number {
    return Math.max(0, this.nextTurn - 1);
  }

  /** Everything the ledger holds, copied: what a save writes and `restore` takes back. */
  snapshot(): LedgerState {
    return {
      entries: [...this.kvTokens], turns: [...this.turns], carried: this.carried, firstQuery: this.firstQuery, history: this.history.snapshot(),
    };
  }

  /**
   * Replaces the ledger's state with `state` (a `snapshot`, possibly cut to its first `entries`
   * entries by the caller), checked whole first. Restored entries get fresh stamps unless `stamps`
   * (the ones they had, from this ledger) is given.
   */
  restore(state: LedgerState, stamps?: readonly number[]): void {
    const { entries, turns, carried, firstQuery, history } = state;
    if (!Array.isArray(entries)) throw new InvalidArgumentError(`ledger state entries must be an array, got ${String(entries)}`);
    entries.forEach((key, i) => {
      const ok = typeof key === 'string' ? key.length > 0 : key === UNMATCHED || isTokenId(key);
      if (!ok) throw new InvalidArgumentError(`ledger state entries[${i}] = ${JSON.stringify(key)} is not a token id, ${UNMATCHED} or an image row key`);
    });
    if (carried !== null && !isTokenId(carried)) throw new InvalidArgumentError(`ledger state carried must be null or a token id, got ${String(carried)}`);
    if (typeof firstQuery !== 'boolean') throw new InvalidArgumentError(`ledger state firstQuery must be a boolean, got ${String(firstQuery)}`);
    if (turns !== undefined) {
      if (!Array.isArray(turns) || turns.length !== entries.length) throw new InvalidArgumentError(`ledger state turns must be an array of ${entries.length} turns (one per entry)`);
      turns.forEach((t, i) => {
        if (!Number.isInteger(t) || t < 0 || (i > 0 && t < turns[i - 1])) throw new InvalidArgumentError(`ledger state turns[${i}] = ${JSON.stringify(t)} is not a turn number >= 0 and >= the one before`);
      });
    }
    if (stamps !== undefined && stamps.length !== entries.length) throw new InvalidArgumentError('ledger restore: one stamp per entry');
    const scratch = new TokenHistory(0);
    scratch.restore(history); // validates before anything changes
    this.history.restore(history);
    this.kvTokens.length = 0;
    this.kvTokens.push(...entries);
    this.stamps.length = 0;
    if (stamps !== undefined) this.stamps.push(...stamps);
    else for (let i = 0; i < entries.length; i++) this.stamps.push(this.nextStamp++);
    // A state without turns (a save written before they were recorded) puts every entry in turn 0.
    this.turns.length = 0;
    if (turns !== undefined) this.turns.push(...turns);
    else for (let i = 0; i < entries.length; i++) this.turns.push(0);
    this.nextTurn = firstQuery ? 0 : (this.turns.length === 0 ? 0 : this.turns[this.turns.length - 1]) + 1;
    this.carried = carried;
    this.firstQuery = firstQuery;
  }

  private pushEntry(key: EntryKey, turn: number): void {
    this.kvTokens.push(key);
    this.stamps.push(this.nextStamp++);
    this.turns.push(turn);
  }

  /**
   * The tokens a turn feeds: the carried-over token, EOS between turns, then (for a token prompt)
   * BOS and the prompt. An embedding prompt brings its own BOS row, if any.
   */
  private turnTokens(prompt: TurnPrompt): EntryKey[] {
    const tokens: EntryKey[] = [];
    if (this.carried !== null) tokens.push(this.carried);
    if (!this.firstQuery) tokens.push(this.primaryEos);
    if (prompt.kind !== 'embeddings') tokens.push(...this.firstTurnTokens(prompt.kind === 'tokens' ? prompt.ids : prompt.keys));
    return tokens;
  }

  /** BOS when configured, then the entries: a fresh first turn's. */
  private firstTurnTokens(keys: readonly EntryKey[]): EntryKey[] {
    return this.bosToken === null ? [...keys] : [this.bosToken, ...keys];
  }
}

/** A ledger's state: the key of every KV entry, the carried-over token, whether no turn was fed yet, the penalty history. */
export interface LedgerState {
  readonly entries: readonly EntryKey[];
  /** The turn of each entry (absent in saves written before turns were recorded: all turn 0). */
  readonly turns?: readonly number[];
  readonly carried: number | null;
  readonly firstQuery: boolean;
  readonly history: TokenHistoryState;
}

/** The token ids among `keys` (image row keys are not tokens). */
export function tokenIds(keys: readonly EntryKey[]): number[] {
  return keys.filter((k): k is number => typeof k === 'number');
}

function isTokenId(value: number): boolean {
  return Number.isInteger(value) && value >= 0;
}
