import { InvalidArgumentError } from '../../errors.js';

/** The smallest and largest value seen in a tensor. */
export interface ValueRange {
  readonly min: number;
  readonly max: number;
}

/** Running min/max per tensor name, the raw material of calibrated encodings. */
export class TensorRanges {
  private readonly ranges = new Map<string, { min: number; max: number }>();

  /**
   * Widens `name`'s range by `values[0, count)`.
   * @throws InvalidArgumentError naming the tensor and index of a NaN or infinite value (nothing is recorded then).
   */
  observe(name: string, values: ArrayLike<number>, count = values.length): void {
    if (!Number.isSafeInteger(count) || count < 0 || count > values.length) {
      throw new InvalidArgumentError(`count must be an integer in [0, ${values.length}], got ${count}`);
    }
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < count; i++) {
      const x = values[i];
      if (!Number.isFinite(x)) throw new InvalidArgumentError(`tensor "${name}"[${i}] is ${x}: a calibration run must stay finite`);
      if (x < min) min = x;
      if (x > max) max = x;
    }
    if (count === 0) return;
    const range = this.ranges.get(name);
    if (range === undefined) {
      this.ranges.set(name, { min, max });
    } else {
      range.min = Math.min(range.min, min);
      range.max = Math.max(range.max, max);
    }
  }

  get(name: string): ValueRange | undefined {
    const range = this.ranges.get(name);
    return range && { min: range.min, max: range.max };
  }

  /** Tensor names with a range, in first-observed order. */
  names(): string[] {
    return [...this.ranges.keys()];
  }
}
