import type { Engine } from '../../../src/runtime/engine/index.js';

/** The bits of the engine's logits row, dequantized into float32, as hex (for exact comparisons). */
export function logitsHex(engine: Engine): string {
  const row = new Float32Array(engine.vocabSize);
  engine.logits.dequantizeInto(row);
  return Buffer.from(row.buffer).toString('hex');
}
