import type { ModelLayout } from '../../graphs/layout.js';
import type { DialogState } from '../dialog-state.js';
import { SaveModelMismatchError } from './errors.js';

/**
 * What a save records of the model it was taken on, and a restore compares: every graph's IO specs
 * (names, dtypes, shapes, encodings), the KV layout, the model input, vocabulary and context. Plain
 * JSON (a round trip through JSON.stringify leaves it equal).
 */
export function modelIdentity(state: DialogState): unknown {
  const layout: ModelLayout = state.engine.layout;
  return JSON.parse(
    JSON.stringify({
      contextSize: state.settings.contextSize,
      contextLimit: state.contextLimit,
      vocabSize: state.engine.vocabSize,
      eosTokens: state.settings.eosTokens,
      kvMode: layout.kvMode,
      maxContextLength: layout.maxContextLength,
      input: layout.input,
      kv: layout.kv,
      variants: layout.variants.map((v) => ({ id: v.id, ar: v.ar, cl: v.cl, pastDim: v.pastDim, parts: v.parts.map((p) => p.name) })),
      graphs: [...layout.graphs.values()].map(({ graph }) => ({ name: graph.name, inputs: graph.inputs, outputs: graph.outputs })),
    }),
  );
}

/** Throws `SaveModelMismatchError` naming the first key where the saved identity and the model's differ. */
export function checkIdentity(saved: unknown, current: unknown, file: string): void {
  const at = firstDifference(saved, current, 'model');
  if (at === undefined) return;
  throw new SaveModelMismatchError(
    at.path,
    `${file} was saved on another model: ${at.path} differs (the save has ${preview(at.saved)}, this dialog's model has ${preview(at.current)})`,
  );
}

interface Difference {
  readonly path: string;
  readonly saved: unknown;
  readonly current: unknown;
}

function firstDifference(a: unknown, b: unknown, path: string): Difference | undefined {
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d !== undefined) return d;
    }
    return a.length === b.length ? undefined : { path: `${path}.length`, saved: a.length, current: b.length };
  }
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])];
    for (const key of keys) {
      const d = firstDifference(a[key], b[key], `${path}.${key}`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  return Object.is(a, b) ? undefined : { path, saved: a, current: b };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function preview(v: unknown): string {
  if (v === undefined) return 'nothing';
  const text = JSON.stringify(v);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
