/** One vision graph bound to its IO buffers, with the scratch its stages need, ready to run. */
import type { TensorSpec } from '../../graphs/spec.js';
import { floatInput, floatOutput, type FloatInput, type FloatOutput } from './io.js';
import { addInPlace, attention, linear, type AttentionShape } from './kernels.js';
import { geluInPlace, layerNorm, patchify, type PatchGeometry } from './vision-kernels.js';
import type { ReferenceVisionModel } from './vision-model.js';
import type { VisionGraphPlan } from './vision-plan.js';
import type { VisionLayerWeights, VisionWeights } from './vision-weights.js';

/**
 * Runs the stages of a vision graph: tower (patch embedding, position embedding, pre-LN blocks,
 * final LayerNorm) and/or projector (Linear, GELU, Linear). IO of any float-valued dtype is read
 * and written through io.ts, as a compiled HTP graph presents it.
 */
export class BoundVisionGraph {
  private readonly rows: number;
  private readonly pixels?: FloatInput;
  private readonly featuresIn?: FloatInput;
  private readonly output: FloatOutput;
  private readonly geometry?: PatchGeometry;
  private readonly attentionShape?: AttentionShape;
  // Scratch, [rows, ...] row-major; empty when the graph has no tower.
  private readonly patches: Float32Array;
  private readonly x: Float32Array;
  private readonly normed: Float32Array;
  private readonly q: Float32Array;
  private readonly k: Float32Array;
  private readonly v: Float32Array;
  private readonly attn: Float32Array;
  private readonly proj: Float32Array;
  private readonly inner: Float32Array;
  private readonly mask: Float32Array;
  private readonly scores: Float64Array;
  private readonly projected: Float32Array;

  /** `buffers` must have passed `checkBuffers(plan.spec, ...)` (program.ts). */
  constructor(
    private readonly plan: VisionGraphPlan,
    private readonly model: ReferenceVisionModel,
    private readonly weights: VisionWeights,
    buffers: ReadonlyMap<string, Uint8Array>,
  ) {
    const at = (spec: TensorSpec): Uint8Array => buffers.get(spec.name)!;
    const rows = plan.rows;
    this.rows = rows;
    this.output = floatOutput(plan.output, at(plan.output));
    if (plan.featuresIn) this.featuresIn = floatInput(plan.featuresIn, at(plan.featuresIn));
    const tower = plan.pixels === undefined ? undefined : model.tower!;
    const scratch = (width: number): Float32Array => new Float32Array(tower === undefined ? 0 : rows * width);
    if (tower !== undefined) {
      this.pixels = floatInput(plan.pixels!.spec, at(plan.pixels!.spec));
      const [height, width] = tower.imageSize;
      this.geometry = { channels: tower.channels, height, width, patch: tower.patchSize, layout: plan.pixels!.layout };
      this.attentionShape = { ar: rows, cl: rows, heads: tower.heads, kvHeads: tower.heads, headDim: tower.hidden / tower.heads };
    }
    const d = tower?.hidden ?? 0;
    this.patches = scratch(tower === undefined ? 0 : tower.channels * tower.patchSize * tower.patchSize);
    this.x = scratch(d);
    this.normed = scratch(d);
    this.q = scratch(d);
    this.k = scratch(d);
    this.v = scratch(d);
    this.attn = scratch(d);
    this.proj = scratch(d);
    this.inner = scratch(tower?.intermediate ?? 0);
    this.mask = scratch(rows);
    this.scores = new Float64Array(tower === undefined ? 0 : rows);
    this.projected = new Float32Array(plan.projector ? rows * model.projector.hidden : 0);
  }

  /** Reads the bound inputs, runs the graph's stages, writes the bound output. */
  run(): void {
    let features: Float32Array;
    if (this.pixels !== undefined) {
      this.runTower(this.pixels);
      features = this.normed;
    } else {
      this.featuresIn!.load();
      features = this.featuresIn!.values;
    }
    const out = this.output.values;
    if (this.plan.projector) this.runProjector(features, out);
    else out.set(features.subarray(0, out.length));
    this.output.store();
  }

  /** Leaves the final LayerNorm's output, the image features `[rows, Dv]`, in `normed`. */
  private runTower(pixels: FloatInput): void {
    const tower = this.model.tower!;
    const w = this.weights.tower!;
    const { rows, x, normed, patches } = this;
    const d = tower.hidden;
    pixels.load();
    patchify(pixels.values, this.geometry!, patches);
    const cols = tower.channels * tower.patchSize * tower.patchSize;
    linear(patches, rows, cols, w.patchWeight, w.patchBias, d, x);
    addInPlace(x, w.position, rows * d);
    for (const layer of w.layers) this.block(layer);
    layerNorm(x, rows, d, w.postNormWeight, w.postNormBias, tower.layerNormEps, normed);
  }

  /** One pre-LN block: `x += attn(LN1(x))`, `x += fc2(gelu(fc1(LN2(x))))`. */
  private block(w: VisionLayerWeights): void {
    const tower = this.model.tower!;
    const { rows, x, normed, q, k, v, attn, proj, inner } = this;
    const d = tower.hidden;
    const i = tower.intermediate;
    const eps = tower.layerNormEps;
    layerNorm(x, rows, d, w.norm1Weight, w.norm1Bias, eps, normed);
    linear(normed, rows, d, w.qWeight, w.qBias, d, q);
    linear(normed, rows, d, w.kWeight, w.kBias, d, k);
    linear(normed, rows, d, w.vWeight, w.vBias, d, v);
    // Full attention: every row sees every row (no past, an all-zero additive mask).
    attention(this.attentionShape!, q, k, v, EMPTY, EMPTY, this.mask, this.scores, attn);
    linear(attn, rows, d, w.oWeight, w.oBias, d, proj);
    addInPlace(x, proj, rows * d);
    layerNorm(x, rows, d, w.norm2Weight, w.norm2Bias, eps, normed);
    linear(normed, rows, d, w.fc1Weight, w.fc1Bias, i, inner);
    geluInPlace(inner, rows * i);
    linear(inner, rows, i, w.fc2Weight, w.fc2Bias, d, proj);
    addInPlace(x, proj, rows * d);
  }

  private runProjector(features: Float32Array, out: Float32Array): void {
    const { inputSize, hidden } = this.model.projector;
    const w = this.weights.projector!;
    linear(features, this.rows, inputSize, w.w1, w.b1, hidden, this.projected);
    geluInPlace(this.projected, this.rows * hidden);
    linear(this.projected, this.rows, hidden, w.w2, w.b2, hidden, out);
  }
}

const EMPTY = new Float32Array(0);
