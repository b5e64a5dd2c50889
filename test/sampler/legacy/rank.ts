/**
 * The sampling order of tokens: higher logit first, lower token id on ties. It is a total order, so
 * every survivor set is a prefix of it and every draw walks it deterministically.
 */
export function ranksBefore(values: Float32Array, a: number, b: number): boolean {
  const va = values[a];
  const vb = values[b];
  return va > vb || (va === vb && a < b);
}

/** Sorts `tokens[from, to)` into sampling order, in place (quicksort, insertion sort for short runs). */
export function sortByRank(tokens: Int32Array, from: number, to: number, values: Float32Array): void {
  while (to - from > 16) {
    const pivot = medianOfThree(values, tokens[from], tokens[(from + to) >>> 1], tokens[to - 1]);
    let i = from;
    let j = to - 1;
    while (i <= j) {
      while (ranksBefore(values, tokens[i], pivot)) i++;
      while (ranksBefore(values, pivot, tokens[j])) j--;
      if (i <= j) {
        const t = tokens[i];
        tokens[i] = tokens[j];
        tokens[j] = t;
        i++;
        j--;
      }
    }
    // Recurse into the shorter side, loop on the longer: stack depth stays O(log n).
    if (j + 1 - from < to - i) {
      sortByRank(tokens, from, j + 1, values);
      from = i;
    } else {
      sortByRank(tokens, i, to, values);
      to = j + 1;
    }
  }
  for (let i = from + 1; i < to; i++) {
    const t = tokens[i];
    let j = i - 1;
    while (j >= from && ranksBefore(values, t, tokens[j])) {
      tokens[j + 1] = tokens[j];
      j--;
    }
    tokens[j + 1] = t;
  }
}

function medianOfThree(values: Float32Array, a: number, b: number, c: number): number {
  if (ranksBefore(values, a, b)) {
    if (ranksBefore(values, b, c)) return b;
    return ranksBefore(values, a, c) ? c : a;
  }
  if (ranksBefore(values, a, c)) return a;
  return ranksBefore(values, b, c) ? c : b;
}

/** Element storage `selectTopK` can rank directly: float32 values, or fixed-point codes (monotonic in value). */
export type RankKeys = Float32Array | Uint16Array | Uint8Array;

/**
 * Writes the `k` best tokens of `keys[from, from + n)` (token t at `keys[from + t]`) into `out[0, k)` in
 * heap order (not sorted), with a heap of size k whose root is the worst kept token. Most tokens only
 * meet one comparison, in `firstAbove`'s tight loop.
 */
export function selectTopK(keys: RankKeys, from: number, n: number, k: number, out: Int32Array): void {
  for (let i = 0; i < k; i++) out[i] = i;
  for (let i = (k >>> 1) - 1; i >= 0; i--) siftDown(keys, from, out, k, i);
  const end = from + n;
  for (let i = firstAbove(keys, from, from + k, end, out); i < end; i = firstAbove(keys, from, i + 1, end, out)) {
    out[0] = i - from;
    siftDown(keys, from, out, k, 0);
  }
}

/**
 * The first position in `[start, end)` whose key beats the heap's root, or `end`. A later token with an
 * equal key ranks after every kept one, so only a strictly greater key enters. A separate function keeps
 * the scan loop free of the sift (twice as fast in V8).
 */
function firstAbove(keys: RankKeys, from: number, start: number, end: number, heap: Int32Array): number {
  const worst = keys[from + heap[0]];
  for (let i = start; i < end; i++) if (keys[i] > worst) return i;
  return end;
}

function keyRanksBefore(keys: RankKeys, from: number, a: number, b: number): boolean {
  const ka = keys[from + a];
  const kb = keys[from + b];
  return ka > kb || (ka === kb && a < b);
}

/** Restores the heap below `pos`: every parent ranks after (is worse than) its children. */
function siftDown(keys: RankKeys, from: number, heap: Int32Array, size: number, pos: number): void {
  const token = heap[pos];
  for (;;) {
    let child = 2 * pos + 1;
    if (child >= size) break;
    if (child + 1 < size && keyRanksBefore(keys, from, heap[child], heap[child + 1])) child++;
    if (!keyRanksBefore(keys, from, token, heap[child])) break;
    heap[pos] = heap[child];
    pos = child;
  }
  heap[pos] = token;
}
