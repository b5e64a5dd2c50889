/**
 * Checks that a graph's IO fits its kind and resolves each tensor to its role, once at open time,
 * so the executor never looks at names or shapes again.
 */
import { ModelLayoutError } from '../../graphs/errors.js';
import { kvTensorName, tensorRole, TensorNames, type TensorRole } from '../../graphs/names.js';
import type { GraphSpec, TensorSpec } from '../../graphs/spec.js';
import { CtxBinError } from './errors.js';
import { floatIoProblem, tokenIdsProblem } from './io.js';
import type { ReferenceGraphMeta } from './metadata.js';
import { sameShape, type ReferenceModel } from './model.js';

export interface LayerIo {
  readonly layer: number;
  readonly keyIn: TensorSpec;
  readonly valueIn: TensorSpec;
  readonly keyOut: TensorSpec;
  readonly valueOut: TensorSpec;
}

export interface DecoderIo {
  readonly cl: number;
  readonly mask: TensorSpec;
  readonly cos: TensorSpec;
  readonly sin: TensorSpec;
  readonly layers: readonly LayerIo[];
}

export interface GraphPlan {
  readonly spec: GraphSpec;
  readonly ar: number;
  /** Exactly one of `tokenIds` (embedding stage) and `hiddenIn`. */
  readonly tokenIds?: TensorSpec;
  readonly hiddenIn?: TensorSpec;
  readonly decoder?: DecoderIo;
  /** Exactly one of `logits` (LM-head stage) and `hiddenOut`. */
  readonly logits?: TensorSpec;
  readonly hiddenOut?: TensorSpec;
}

/** The roles the executor reads by name; a tensor of any other role may be the hidden-state handoff. */
const NAMED_ROLES: ReadonlySet<TensorRole['kind']> = new Set([
  'input_ids', 'attention_mask', 'position_ids_cos', 'position_ids_sin', 'logits', 'kv',
]);

/** Picks tensors by name and reports what is left over. */
class TensorPicker {
  private readonly left = new Map<string, TensorSpec>();

  constructor(
    private readonly fail: (what: string) => never,
    private readonly side: 'inputs' | 'outputs',
    tensors: readonly TensorSpec[],
  ) {
    for (const t of tensors) {
      if (this.left.has(t.name)) fail(`${side}: tensor "${t.name}" is listed twice`);
      this.left.set(t.name, t);
    }
  }

  take(name: string, shape: readonly number[], dtypeProblem: (t: TensorSpec) => string | null): TensorSpec {
    const t = this.left.get(name);
    if (t === undefined) return this.fail(`${this.side}: missing tensor "${name}"`);
    this.check(t, shape, dtypeProblem);
    this.left.delete(name);
    return t;
  }

  get(name: string): TensorSpec | undefined {
    return this.left.get(name);
  }

  /** The one left-over tensor that is neither KV nor a named role: the hidden-state handoff. */
  takeHandoff(shapeOf: (t: TensorSpec) => readonly number[]): TensorSpec {
    const others = [...this.left.values()].filter((t) => !NAMED_ROLES.has(this.roleOf(t.name)));
    if (others.length !== 1) {
      const found = others.map((t) => `"${t.name}"`).join(', ');
      this.fail(
        `${this.side}: expected exactly one hidden-state tensor besides the named roles, found ${others.length}` +
          (others.length > 0 ? ` (${found})` : ''),
      );
    }
    const t = others[0];
    return this.take(t.name, shapeOf(t), floatIoProblem);
  }

  assertEmpty(): void {
    const extra = [...this.left.keys()];
    if (extra.length > 0) this.fail(`${this.side}: unexpected tensor "${extra[0]}" for this graph kind and layer range`);
  }

  private roleOf(name: string): TensorRole['kind'] {
    try {
      return tensorRole(name).kind;
    } catch (error) {
      if (error instanceof ModelLayoutError) return this.fail(`${this.side}: ${error.message}`);
      throw error;
    }
  }

  private check(t: TensorSpec, shape: readonly number[], dtypeProblem: (t: TensorSpec) => string | null): void {
    if (!sameShape(t.shape, shape)) {
      this.fail(`${this.side}: tensor "${t.name}" has shape [${t.shape}], expected [${shape}]`);
    }
    const problem = dtypeProblem(t);
    if (problem !== null) this.fail(`${this.side}: tensor "${t.name}": ${problem}`);
  }
}

/** Validates graph `index` of ctx-bin `file` against `model`; throws `CtxBinError` naming file and key. */
export function planGraph(
  meta: ReferenceGraphMeta,
  index: number,
  ctxBin: number,
  model: ReferenceModel,
  file: string,
): GraphPlan {
  const fail = (what: string): never => {
    throw new CtxBinError(`reference ctx-bin "${file}": key graphs[${index}] ("${meta.name}"): ${what}`);
  };
  const stages = meta.kind.split('+');
  const embedding = stages.includes('embedding');
  const hasDecoder = stages.includes('decoder');
  const lmHead = stages.includes('lm-head');
  const [first, end] = meta.layers;
  if (end > model.layers || first > end) {
    fail(`layers: [${first}, ${end}] is not a range within the model's ${model.layers} layers`);
  }
  if (hasDecoder !== first < end) {
    fail(`layers: [${first}, ${end}] ${hasDecoder ? 'is empty but kind' : 'is not empty but kind'} is "${meta.kind}"`);
  }

  const inputs = new TensorPicker(fail, 'inputs', meta.inputs);
  const outputs = new TensorPicker(fail, 'outputs', meta.outputs);
  const { hidden, kvHeads, headDim, vocab } = model;

  // AR comes from the token-id or hidden-state input; every other shape is checked against it.
  const arOf = (t: TensorSpec | undefined): number => t?.shape[1] ?? 0;
  let tokenIds: TensorSpec | undefined;
  let hiddenIn: TensorSpec | undefined;
  if (embedding) tokenIds = inputs.take(TensorNames.inputIds, [1, arOf(inputs.get(TensorNames.inputIds))], tokenIdsProblem);
  else hiddenIn = inputs.takeHandoff((t) => [1, arOf(t), hidden]);
  const ar = arOf(tokenIds ?? hiddenIn);

  let decoder: DecoderIo | undefined;
  if (hasDecoder) {
    const maskSpec = inputs.get(TensorNames.attentionMask);
    const cl = maskSpec?.shape[3] ?? 0;
    if (maskSpec !== undefined && cl <= ar) {
      fail(`inputs: tensor "${TensorNames.attentionMask}" has context length ${cl}, which must exceed AR ${ar}`);
    }
    const mask = inputs.take(TensorNames.attentionMask, [1, 1, ar, cl], floatIoProblem);
    const cos = inputs.take(TensorNames.positionCos, [1, 1, ar, headDim / 2], floatIoProblem);
    const sin = inputs.take(TensorNames.positionSin, [1, 1, ar, headDim / 2], floatIoProblem);
    const past = cl - ar;
    const layers: LayerIo[] = [];
    for (let l = first; l < end; l++) {
      layers.push({
        layer: l,
        keyIn: inputs.take(kvTensorName('key', l, 'in'), [kvHeads, 1, headDim, past], floatIoProblem),
        valueIn: inputs.take(kvTensorName('value', l, 'in'), [kvHeads, 1, past, headDim], floatIoProblem),
        keyOut: outputs.take(kvTensorName('key', l, 'out'), [kvHeads, 1, headDim, ar], floatIoProblem),
        valueOut: outputs.take(kvTensorName('value', l, 'out'), [kvHeads, 1, ar, headDim], floatIoProblem),
      });
    }
    decoder = { cl, mask, cos, sin, layers };
  }
  inputs.assertEmpty();

  let logits: TensorSpec | undefined;
  let hiddenOut: TensorSpec | undefined;
  if (lmHead) logits = outputs.take(TensorNames.logits, [1, ar, vocab], floatIoProblem);
  else hiddenOut = outputs.takeHandoff(() => [1, ar, hidden]);
  outputs.assertEmpty();

  return {
    spec: { name: meta.name, ctxBin, inputs: meta.inputs, outputs: meta.outputs },
    ar,
    tokenIds,
    hiddenIn,
    decoder,
    logits,
    hiddenOut,
  };
}
