/**
 * The encoder's `pixel_values` tensor as preprocessing sees it: which dimension is which (NCHW or
 * NHWC), the image size it wants, and the element type the pixels are written in.
 */
import { InvalidArgumentError, NotSupportedError } from '../errors.js';
import type { TensorSpec } from '../graphs/spec.js';
import { byteSize, isDataTypeName, isFixedPoint, type DataTypeName, type Encoding } from '../tensor/dtype.js';
import { validateEncoding } from '../tensor/encoding.js';
import { elementCount } from '../tensor/shape.js';

/** Channel-first `[1, 3, H, W]` or channel-last `[1, H, W, 3]` (a rank-3 shape drops the batch). */
export type PixelLayout = 'NCHW' | 'NHWC';

/**
 * The spec of the encoder's `pixel_values` input: a graph's `TensorSpec` fits, as does any object
 * with its `shape`, `dtype` and (for fixed-point dtypes) `encoding`. An encoding on a float dtype is
 * ignored: float elements carry none.
 */
export type PixelTensorTarget = Pick<TensorSpec, 'shape' | 'dtype' | 'encoding'>;

/** A checked target: the layout, the image size, the element type and the tensor's byte size. */
export interface ResolvedTarget {
  readonly shape: readonly number[];
  readonly layout: PixelLayout;
  readonly height: number;
  readonly width: number;
  readonly dtype: DataTypeName;
  /** Present exactly when `dtype` is fixed-point. */
  readonly encoding?: Encoding;
  readonly elementCount: number;
  readonly byteLength: number;
}

/** The element types a pixel tensor can be written in. */
const FLOAT_DTYPES: readonly DataTypeName[] = ['FLOAT_32', 'FLOAT_16'];

function shapeText(shape: unknown): string {
  return Array.isArray(shape) ? `[${shape.map((d) => String(d)).join(', ')}]` : String(shape);
}

/**
 * The layout a shape says, or both when it cannot tell ([1, 3, H, 3] is NCHW with W = 3 and NHWC
 * with H = 3); none when it is not an RGB image tensor.
 */
function layoutsOf(shape: readonly number[]): PixelLayout[] {
  const dims = shape.length === 4 && shape[0] === 1 ? shape.slice(1) : shape.length === 3 ? shape : undefined;
  if (dims === undefined) return [];
  const layouts: PixelLayout[] = [];
  if (dims[0] === 3) layouts.push('NCHW');
  if (dims[2] === 3) layouts.push('NHWC');
  return layouts;
}

/**
 * Checks a `pixel_values` spec and reads its layout and image size from the shape.
 * @param layout decides a shape that fits both layouts (an image 3 pixels high or wide); otherwise it
 *   must agree with the shape.
 * @throws InvalidArgumentError naming the shape, the dtype or the encoding; NotSupportedError for a
 *   QNN dtype pixels are not written in (integers, BFLOAT_16, BOOL_8)
 */
export function resolveTarget(target: PixelTensorTarget, layout?: PixelLayout): ResolvedTarget {
  if (typeof target !== 'object' || target === null) {
    throw new InvalidArgumentError(`target must be the pixel_values tensor spec {shape, dtype, encoding?}, got ${String(target)}`);
  }
  const { shape, dtype } = target;
  const expected = 'expected [1, 3, H, W] (NCHW), [1, H, W, 3] (NHWC), [3, H, W] or [H, W, 3]';
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw new InvalidArgumentError(`target.shape ${shapeText(shape)} is not an image tensor shape: ${expected}, with positive integer sizes`);
  }
  const layouts = layoutsOf(shape);
  if (layouts.length === 0) throw new InvalidArgumentError(`target.shape ${shapeText(shape)} is not an RGB image tensor: ${expected}`);
  if (layout !== undefined && layout !== 'NCHW' && layout !== 'NHWC') {
    throw new InvalidArgumentError(`layout must be "NCHW" or "NHWC", got ${String(layout)}`);
  }
  let resolved: PixelLayout;
  if (layout !== undefined) {
    if (!layouts.includes(layout)) throw new InvalidArgumentError(`target.shape ${shapeText(shape)} is not ${layout} (it is ${layouts[0]})`);
    resolved = layout;
  } else if (layouts.length === 2) {
    throw new InvalidArgumentError(`target.shape ${shapeText(shape)} reads as NCHW and as NHWC: pass layout "NCHW" or "NHWC"`);
  } else {
    resolved = layouts[0];
  }
  const dims = shape.length === 4 ? shape.slice(1) : shape;
  const [height, width] = resolved === 'NCHW' ? [dims[1], dims[2]] : [dims[0], dims[1]];

  if (typeof dtype !== 'string' || !isDataTypeName(dtype)) {
    throw new InvalidArgumentError(`target.dtype must be a QNN data type name such as FLOAT_32, got ${String(dtype)}`);
  }
  let encoding: Encoding | undefined;
  if (isFixedPoint(dtype)) {
    if (target.encoding === undefined) {
      throw new InvalidArgumentError(`target.encoding is required for ${dtype} pixel_values: {scale, offset} with float = (q + offset) * scale`);
    }
    validateEncoding(target.encoding, 'target.encoding');
    encoding = { scale: target.encoding.scale, offset: target.encoding.offset };
  } else if (!FLOAT_DTYPES.includes(dtype)) {
    throw new NotSupportedError(
      `target.dtype ${dtype} is not supported for pixel_values: expected FLOAT_32, FLOAT_16 or a UFIXED_POINT_*/SFIXED_POINT_* type with an encoding`,
    );
  }
  const count = elementCount(shape);
  return {
    shape: [...shape],
    layout: resolved,
    height,
    width,
    dtype,
    ...(encoding === undefined ? {} : { encoding }),
    elementCount: count,
    byteLength: count * byteSize(dtype),
  };
}

/** `[1, 3, 1024, 1024] FLOAT_32`, as messages name a target. */
export function describeTarget(target: ResolvedTarget): string {
  return `${shapeText(target.shape)} ${target.dtype}`;
}
