/**
 * Where the pixels go: LLaVA's expand2square, then Hugging Face's resize and centre crop, as sizes
 * and offsets computed the way those functions compute them (Python's floor division, int()).
 */
import { InvalidArgumentError } from '../errors.js';
import { padColour, type Extent, type ResolvedProcessor, type Rgb } from './processor.js';

/** The square expand2square pastes the image on: its side, the image's offset in it, the colour. */
export interface PadPlacement {
  readonly size: number;
  readonly left: number;
  readonly top: number;
  readonly colour: Rgb;
}

/** A window of the resized image; parts outside it read as pixel value 0 (HF's centre crop pads with zeros). */
export interface CropWindow {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/** The geometry of one image through the processor. */
export interface GeometryPlan {
  /** The image as displayed (after EXIF orientation). */
  readonly image: Extent;
  /** expand2square's square, when the mode pads and the image is not square already. */
  readonly pad?: PadPlacement;
  /** What gets resampled: the square when padded, else the image. */
  readonly canvas: Extent;
  /** The canvas after resizing (the canvas itself when the processor does not resize). */
  readonly resized: Extent;
  readonly crop: CropWindow;
}

function floorDiv2(n: number): number {
  return Math.floor(n / 2);
}

/**
 * HF's `get_resize_output_image_size(size=shortest_edge, default_to_square=False)`: the short side
 * becomes `edge`, the long side `int(edge * long / short)`.
 */
function shortestEdgeSize(canvas: Extent, edge: number): Extent {
  const { width, height } = canvas;
  const [short, long] = width <= height ? [width, height] : [height, width];
  const newLong = Math.trunc((edge * long) / short);
  return width <= height ? { width: edge, height: newLong } : { width: newLong, height: edge };
}

/**
 * The plan for an image of `image` size (as displayed).
 * @throws InvalidArgumentError when the processor's output size is not the target's (e.g. no centre
 *   crop after a shortest-edge resize of a non-square image)
 */
export function planGeometry(image: Extent, processor: ResolvedProcessor, target: Extent): GeometryPlan {
  let pad: PadPlacement | undefined;
  if (processor.padMode === 'pad' && image.width !== image.height) {
    const size = Math.max(image.width, image.height);
    pad = { size, left: floorDiv2(size - image.width), top: floorDiv2(size - image.height), colour: padColour(processor) };
  }
  const canvas = pad === undefined ? image : { width: pad.size, height: pad.size };
  if (processor.padMode === 'none') {
    const resized = { width: target.width, height: target.height };
    return { image, canvas, resized, crop: { left: 0, top: 0, ...resized } };
  }
  let resized: Extent = canvas;
  if (processor.doResize) {
    const size = processor.size;
    resized = 'shortestEdge' in size ? shortestEdgeSize(canvas, size.shortestEdge) : { width: size.width, height: size.height };
  }
  const crop: CropWindow = processor.doCenterCrop
    ? {
        left: floorDiv2(resized.width - processor.cropSize.width),
        top: floorDiv2(resized.height - processor.cropSize.height),
        width: processor.cropSize.width,
        height: processor.cropSize.height,
      }
    : { left: 0, top: 0, width: resized.width, height: resized.height };
  if (crop.width !== target.width || crop.height !== target.height) {
    const steps = [
      pad === undefined ? undefined : `padded to ${canvas.width}x${canvas.height}`,
      processor.doResize ? `resized to ${resized.width}x${resized.height}` : 'not resized',
      processor.doCenterCrop ? `cropped to ${crop.width}x${crop.height}` : 'not cropped',
    ].filter((s) => s !== undefined);
    throw new InvalidArgumentError(
      `the image processor turns this ${image.width}x${image.height} image into ${crop.width}x${crop.height} pixels ` +
        `(${steps.join(', ')}), but pixel_values takes ${target.width}x${target.height} (width x height)`,
    );
  }
  return { image, ...(pad === undefined ? {} : { pad }), canvas, resized, crop };
}
