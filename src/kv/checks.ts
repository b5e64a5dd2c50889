import { InvalidArgumentError } from '../errors.js';
import type { ElementArray } from '../tensor/dtype.js';

/** Throws unless `value` is an integer in [min, max]; messages name the argument and its value. */
export function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
}

/** Whether `value` survives a store into `array` unchanged (float32: finite after rounding). */
export function isStorable(array: ElementArray, value: number): boolean {
  if (array instanceof Float32Array) return Number.isFinite(Math.fround(value));
  if (!Number.isInteger(value)) return false;
  const bits = array.BYTES_PER_ELEMENT * 8;
  const signed = array instanceof Int8Array || array instanceof Int16Array || array instanceof Int32Array;
  return signed ? value >= -(2 ** (bits - 1)) && value < 2 ** (bits - 1) : value >= 0 && value < 2 ** bits;
}

export function checkStorable(name: string, array: ElementArray, value: number): void {
  if (!isStorable(array, value)) {
    throw new InvalidArgumentError(`${name} ${value} cannot be stored in a ${array.constructor.name}`);
  }
}
