/**
 * Streaming text for the dialog. Per generated token:
 *
 *   const scan = stops.push(detok.push(id));
 *   emit(scan.text);
 *   if (scan.stop !== null) {
 *     const k = detok.tokensCoveringLast(scan.stopTail);   // remove these k tokens from the KV cache
 *     detok.truncate(detok.tokenCount - k);
 *   }
 *
 * At the end of a turn without a stop: `const scan = stops.push(detok.flush())` (the flushed text can
 * still complete a stop), then, if no stop, `emit(scan.text + stops.flush())`.
 */
export { IncrementalDetokenizer } from './incremental-detokenizer.js';
export { StopSequenceMatcher, type StopScan } from './stop-sequence-matcher.js';
export { StreamStateError } from './errors.js';
