/** One graph bound to its IO buffers, with the scratch its stages need, ready to run. */
import { InvalidArgumentError } from '../../errors.js';
import type { TensorSpec } from '../../graphs/spec.js';
import { floatInput, floatOutput, tokenIds, type FloatInput, type FloatOutput } from './io.js';
import { addInPlace, applyRope, attention, linear, rmsNorm, swiGlu, type AttentionShape } from './kernels.js';
import type { ReferenceModel } from './model.js';
import type { GraphPlan } from './plan.js';
import type { LinearPool } from './thread-pool.js';
import type { LayerWeights, PartWeights } from './weights.js';

/** Rows per LM-head product on a thread pool (one row block of `linear`). */
const LM_HEAD_ROWS = 16;

interface BoundLayer {
  readonly weights: LayerWeights;
  readonly keyIn: FloatInput;
  readonly valueIn: FloatInput;
  readonly keyOut: FloatOutput;
  readonly valueOut: FloatOutput;
}

export class BoundGraph {
  private readonly ar: number;
  private readonly ids?: Int32Array;
  private readonly hiddenIn?: FloatInput;
  private readonly mask?: FloatInput;
  private readonly cos?: FloatInput;
  private readonly sin?: FloatInput;
  private readonly layers: readonly BoundLayer[];
  private readonly logits?: FloatOutput;
  private readonly hiddenOut?: FloatOutput;
  private readonly attentionShape: AttentionShape;
  // Scratch, [ar, ...] row-major.
  private readonly x: Float32Array;
  private readonly normed: Float32Array;
  private readonly q: Float32Array;
  private readonly k: Float32Array;
  private readonly v: Float32Array;
  private readonly attn: Float32Array;
  private readonly proj: Float32Array;
  private readonly gate: Float32Array;
  private readonly up: Float32Array;
  private readonly scores: Float64Array;
  /** The LM head's output rows, shared with the pool's workers (the bound logits buffer is not). */
  private readonly logitsRows: Float32Array;
  private readonly linear: typeof linear;
  private readonly attention: typeof attention;

  /**
   * `buffers` must have passed `checkBuffers(plan.spec, ...)` (program.ts). With `pool`, matrix
   * products and attention run on its threads (`weights` must then have come through `pool.share`).
   */
  constructor(
    private readonly plan: GraphPlan,
    private readonly model: ReferenceModel,
    private readonly weights: PartWeights,
    buffers: ReadonlyMap<string, Uint8Array>,
    pool?: LinearPool,
  ) {
    const at = (spec: TensorSpec): Uint8Array => buffers.get(spec.name)!;
    const { ar, decoder } = plan;
    const { hidden, heads, kvHeads, headDim, intermediate } = model;
    this.ar = ar;
    if (plan.tokenIds) this.ids = tokenIds(plan.tokenIds, at(plan.tokenIds));
    if (plan.hiddenIn) this.hiddenIn = floatInput(plan.hiddenIn, at(plan.hiddenIn));
    if (plan.logits) this.logits = floatOutput(plan.logits, at(plan.logits));
    if (plan.hiddenOut) this.hiddenOut = floatOutput(plan.hiddenOut, at(plan.hiddenOut));
    const cl = decoder?.cl ?? 0;
    if (decoder) {
      this.mask = floatInput(decoder.mask, at(decoder.mask));
      this.cos = floatInput(decoder.cos, at(decoder.cos));
      this.sin = floatInput(decoder.sin, at(decoder.sin));
    }
    this.layers = (decoder?.layers ?? []).map((io) => ({
      weights: weights.layers.get(io.layer)!,
      keyIn: floatInput(io.keyIn, at(io.keyIn)),
      valueIn: floatInput(io.valueIn, at(io.valueIn)),
      keyOut: floatOutput(io.keyOut, at(io.keyOut)),
      valueOut: floatOutput(io.valueOut, at(io.valueOut)),
    }));
    this.attentionShape = { ar, cl, heads, kvHeads, headDim };
    const hasLayers = this.layers.length > 0;
    const rowsIf = (needed: boolean, width: number): Float32Array => (pool === undefined ? new Float32Array(needed ? ar * width : 0) : pool.scratch(needed ? ar * width : 0));
    this.linear = pool === undefined ? linear : (...args) => pool.linear(...args);
    this.attention = pool === undefined ? attention : (...args) => pool.attention(...args);
    this.logitsRows = pool === undefined || plan.logits === undefined ? new Float32Array(0) : pool.scratch(Math.min(ar, LM_HEAD_ROWS) * model.vocab);
    this.x = new Float32Array(ar * hidden);
    this.normed = rowsIf(hasLayers || plan.logits !== undefined, hidden);
    this.q = rowsIf(hasLayers, heads * headDim);
    this.k = rowsIf(hasLayers, kvHeads * headDim);
    this.v = rowsIf(hasLayers, kvHeads * headDim);
    this.attn = rowsIf(hasLayers, heads * headDim);
    this.proj = rowsIf(hasLayers, hidden);
    this.gate = rowsIf(hasLayers, intermediate);
    this.up = rowsIf(hasLayers, intermediate);
    this.scores = new Float64Array(cl);
  }

  /** Reads the bound inputs, runs the graph's stages, writes the bound outputs. */
  run(): void {
    if (this.ids) this.embed(this.ids);
    else this.copyHiddenIn(this.hiddenIn!);
    if (this.layers.length > 0) {
      this.mask!.load();
      this.cos!.load();
      this.sin!.load();
      for (const layer of this.layers) this.decoderLayer(layer);
    }
    if (this.logits) this.lmHead(this.logits);
    else this.copyHiddenOut(this.hiddenOut!);
  }

  private embed(ids: Int32Array): void {
    const { vocab, hidden } = this.model;
    const ar = this.ar;
    for (let r = 0; r < ar; r++) {
      const id = ids[r];
      if (id < 0 || id >= vocab) {
        throw new InvalidArgumentError(
          `execute "${this.plan.spec.name}": input_ids[${r}] = ${id} is outside the vocabulary [0, ${vocab})`,
        );
      }
    }
    const table = this.weights.embedding!;
    const x = this.x;
    for (let r = 0; r < ar; r++) {
      const src = ids[r] * hidden;
      const dst = r * hidden;
      for (let i = 0; i < hidden; i++) x[dst + i] = table[src + i];
    }
  }

  private copyHiddenIn(input: FloatInput): void {
    input.load();
    const x = this.x;
    const values = input.values;
    for (let i = 0; i < x.length; i++) x[i] = values[i];
  }

  private copyHiddenOut(output: FloatOutput): void {
    const x = this.x;
    const values = output.values;
    for (let i = 0; i < x.length; i++) values[i] = x[i];
    output.store();
  }

  private decoderLayer(layer: BoundLayer): void {
    const { hidden, heads, kvHeads, headDim, intermediate, rmsEps } = this.model;
    const { ar, x, normed, q, k, v, attn, proj, gate, up } = this;
    const w = layer.weights;
    const cos = this.cos!.values;
    const sin = this.sin!.values;
    layer.keyIn.load();
    layer.valueIn.load();

    rmsNorm(x, ar, hidden, w.inputNorm, rmsEps, normed);
    const linear = this.linear;
    linear(normed, ar, hidden, w.qWeight, w.qBias, heads * headDim, q);
    linear(normed, ar, hidden, w.kWeight, w.kBias, kvHeads * headDim, k);
    linear(normed, ar, hidden, w.vWeight, w.vBias, kvHeads * headDim, v);
    applyRope(q, ar, heads, headDim, cos, sin);
    applyRope(k, ar, kvHeads, headDim, cos, sin);
    this.writeNewKv(layer);
    const { keyIn, valueIn } = layer;
    this.attention(this.attentionShape, q, k, v, keyIn.values, valueIn.values, this.mask!.values, this.scores, attn);
    linear(attn, ar, heads * headDim, w.oWeight, null, hidden, proj);
    addInPlace(x, proj, ar * hidden);

    rmsNorm(x, ar, hidden, w.postNorm, rmsEps, normed);
    linear(normed, ar, hidden, w.gateWeight, null, intermediate, gate);
    linear(normed, ar, hidden, w.upWeight, null, intermediate, up);
    swiGlu(gate, up, ar * intermediate);
    linear(gate, ar, intermediate, w.downWeight, null, hidden, proj);
    addInPlace(x, proj, ar * hidden);
  }

  /**
   * New keys go out transposed `[kvHeads, headDim, ar]`, new values `[kvHeads, ar, headDim]`. When
   * the KV outputs round (quantized or float16), attention also uses the rounded new entries: in an
   * exported graph the KV output and the attention's concat are one tensor with one encoding, and
   * later steps see exactly these values through KV-in.
   */
  private writeNewKv(layer: BoundLayer): void {
    const { kvHeads, headDim } = this.model;
    const { ar, k, v } = this;
    const { keyOut, valueOut } = layer;
    const keys = keyOut.values;
    const values = valueOut.values;
    for (let r = 0; r < ar; r++) {
      for (let h = 0; h < kvHeads; h++) {
        const src = (r * kvHeads + h) * headDim;
        for (let d = 0; d < headDim; d++) {
          keys[(h * headDim + d) * ar + r] = k[src + d];
          values[(h * ar + r) * headDim + d] = v[src + d];
        }
      }
    }
    if (keyOut.exact && valueOut.exact) {
      keyOut.store();
      valueOut.store();
      return;
    }
    keyOut.storeRounded();
    valueOut.storeRounded();
    for (let r = 0; r < ar; r++) {
      for (let h = 0; h < kvHeads; h++) {
        const dst = (r * kvHeads + h) * headDim;
        for (let d = 0; d < headDim; d++) {
          k[dst + d] = keys[(h * headDim + d) * ar + r];
          v[dst + d] = values[(h * ar + r) * headDim + d];
        }
      }
    }
  }

  private lmHead(logits: FloatOutput): void {
    const { hidden, vocab, rmsEps } = this.model;
    const { ar, normed, logitsRows } = this;
    rmsNorm(this.x, ar, hidden, this.weights.finalNorm!, rmsEps, normed);
    if (logitsRows.length === 0) {
      this.linear(normed, ar, hidden, this.weights.lmHead!, null, vocab, logits.values);
    } else {
      // LM_HEAD_ROWS rows at a time through shared scratch, then into the bound output.
      for (let r = 0; r < ar; r += LM_HEAD_ROWS) {
        const rows = Math.min(LM_HEAD_ROWS, ar - r);
        this.linear(normed.subarray(r * hidden, (r + rows) * hidden), rows, hidden, this.weights.lmHead!, null, vocab, logitsRows);
        logits.values.set(logitsRows.subarray(0, rows * vocab), r * vocab);
      }
    }
    logits.store();
  }
}
