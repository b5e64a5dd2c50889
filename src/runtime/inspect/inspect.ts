/**
 * What a Genie config or a ctx-bin holds (`genie-ts inspect`): its graphs with every input and
 * output (shape, dtype, encoding, role), and, when the graphs form a model genie-ts can drive, the
 * AR/CL variants and their split order, the KV layout (concat or scatter) and the buffer plan with
 * its memory. The graphs come through the factory: a reference ctx-bin is read by the Reference
 * backend; any other file (and every ctx-bin of a QnnHtp config) is a QNN context binary, read from
 * QnnSystem's binary info alone: only libQnnSystem is loaded (the simulated provider's system part
 * with GENIE_TS_QNN_PROVIDER=simulated), no QNN context is created and HTP is never touched.
 */
import { open } from 'node:fs/promises';
import { GenieError, NotSupportedError, systemErrorReason } from '../../errors.js';
import { SafetensorsReader } from '../../formats/safetensors.js';
import { discoverModelLayout } from '../../graphs/discover.js';
import { planBuffers } from '../../graphs/buffer-plan.js';
import type { ModelLayout } from '../../graphs/layout.js';
import { DEFAULT_CACHE_GROUP, tensorRole } from '../../graphs/names.js';
import { graphSpecsToJson, type GraphSpecJson } from '../../graphs/spec-json.js';
import type { GraphSpec, TensorSpec } from '../../graphs/spec.js';
import { tensorByteLength } from '../../graphs/sizes.js';
import { openBackend, readQnnCtxBinGraphs, type BackendTarget, type QnnSystemReadOptions } from '../backend-factory.js';
import { checkOptionKeys } from '../check-options.js';
import { deriveDialog, isDialogRoot, loadConfigFile } from '../config/index.js';

export type InspectedKind = 'genie-config' | 'reference-ctx-bin' | 'qnn-ctx-bin';

/** One variant of the layout: its AR/CL and its parts in split order. */
export interface InspectedVariant {
  readonly id: string;
  readonly ar: number;
  readonly cl: number;
  readonly pastDim: number;
  readonly parts: readonly { readonly graph: string; readonly kind: string }[];
  readonly hasLogits: boolean;
  readonly logitsRows: number;
}

export interface InspectedLayout {
  readonly variants: readonly InspectedVariant[];
  readonly contextLengths: readonly number[];
  readonly splitCount: number;
  readonly kvMode: ModelLayout['kvMode'];
  readonly kvSlots: number;
  readonly cacheGroups: readonly string[];
  readonly input: { readonly kind: ModelLayout['input']['kind']; readonly tensor: string; readonly dtype: string };
  readonly vocabSize: number;
  readonly hiddenSize: number | null;
  readonly bufferPlan: {
    readonly totalBytes: number;
    readonly buffers: readonly { readonly kind: 'tensor' | 'kv-region'; readonly name: string; readonly byteLength: number }[];
  };
}

/** What `inspect --json` writes: `graphs` readable with `parseGraphSpecsJson`. */
export interface InspectReport {
  readonly file: string;
  readonly kind: InspectedKind;
  readonly backend: string;
  readonly graphs: GraphSpecJson[];
  /** Per graph, per tensor name: its role to the runtime (`kv`, `attention_mask`, `logits`, ...). */
  readonly roles: Record<string, Record<string, string>>;
  /** The model the graphs form (variants, KV layout, buffer plan), or null when they form none. */
  readonly layout: InspectedLayout | null;
  /** Why there is no layout (e.g. one part of a split model alone), or null. */
  readonly layoutProblem: string | null;
}

/** A file `inspect` cannot read; the message names it and why. */
export class InspectError extends GenieError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('FILE', message, options);
  }
}

export interface InspectOptions {
  /** Where QNN context binaries' binary info comes from (libQnnSystem or the simulated provider). */
  readonly qnn?: QnnSystemReadOptions;
}

const INSPECT_OPTION_KEYS = { qnn: true } as const satisfies Record<keyof InspectOptions, true>;
const QNN_OPTION_KEYS = {
  provider: true, simulated: true, simulatedOptions: true, systemLibrary: true, env: true,
} as const satisfies Record<keyof QnnSystemReadOptions, true>;

/** Inspects `file`: a Genie config (JSON) or a ctx-bin. */
export async function inspectFile(file: string, options: InspectOptions = {}): Promise<InspectReport> {
  checkOptionKeys('inspectFile options', options, INSPECT_OPTION_KEYS);
  checkOptionKeys('inspectFile options.qnn', options.qnn, QNN_OPTION_KEYS);
  const kind = await kindOf(file);
  let target: BackendTarget;
  if (kind === 'genie-config') {
    const { config } = await loadConfigFile(file);
    if (!isDialogRoot(config)) throw new NotSupportedError(`config "${file}" has root "${config.root}"; inspect reads dialog and text-generator configs and ctx-bins`);
    target = deriveDialog(config);
  } else {
    target = { backendType: kind === 'reference-ctx-bin' ? 'Reference' : 'QnnHtp', ctxBins: [file], extensionsPath: null, htp: null };
  }
  const { backend, graphs, executesOffThread } = await graphsOf(target, options);
  const cacheGroups = [DEFAULT_CACHE_GROUP];
  const roles = Object.fromEntries(graphs.map((g) => [g.name, Object.fromEntries([...g.inputs, ...g.outputs].map((t) => [t.name, tensorRole(t.name, cacheGroups).kind]))]));
  let layout: InspectedLayout | null = null;
  let layoutProblem: string | null = null;
  try {
    layout = describeLayout(discoverModelLayout(graphs, { cacheGroups }), executesOffThread);
  } catch (error) {
    if (!(error instanceof GenieError)) throw error;
    layoutProblem = `${error.name}: ${error.message}`;
  }
  return { file, kind, backend, graphs: graphSpecsToJson(graphs), roles, layout, layoutProblem };
}

/**
 * The graphs, the backend type that reports them and whether it executes off the JS thread (the
 * engine's buffer plan depends on it): QnnHtp ctx-bins through QnnSystem's binary info (no context;
 * its default execute mode, async, runs off the JS thread); any other backend opened and disposed.
 */
async function graphsOf(target: BackendTarget, options: InspectOptions): Promise<{ backend: string; graphs: readonly GraphSpec[]; executesOffThread: boolean }> {
  if (target.backendType === 'QnnHtp') return { backend: 'QnnHtp', graphs: await readQnnCtxBinGraphs(target.ctxBins, options.qnn), executesOffThread: true };
  const backend = await openBackend(target);
  try {
    return { backend: backend.type, graphs: backend.graphs, executesOffThread: backend.executesOffThread === true };
  } finally {
    await backend.dispose();
  }
}

function describeLayout(layout: ModelLayout, executesOffThread: boolean): InspectedLayout {
  const plan = planBuffers(layout, { firstPartCopies: executesOffThread });
  return {
    variants: layout.variants.map((v) => ({
      id: v.id, ar: v.ar, cl: v.cl, pastDim: v.pastDim, parts: v.parts.map((g, i) => ({ graph: g.name, kind: v.kinds[i] })), hasLogits: v.hasLogits, logitsRows: v.logitsRows,
    })),
    contextLengths: layout.contextLengths,
    splitCount: layout.splitCount,
    kvMode: layout.kvMode,
    kvSlots: layout.kv.length,
    cacheGroups: layout.cacheGroups,
    input: { kind: layout.input.kind, tensor: layout.input.tensor.name, dtype: layout.input.tensor.dtype },
    vocabSize: layout.vocabSize,
    hiddenSize: layout.hiddenSize ?? null,
    bufferPlan: { totalBytes: plan.totalBytes, buffers: plan.buffers.map((b) => ({ kind: b.kind, name: b.name, byteLength: b.byteLength })) },
  };
}

/** A JSON text (first non-space byte `{`) is a config; a safetensors image a reference ctx-bin; anything else a QNN ctx-bin. */
async function kindOf(file: string): Promise<InspectedKind> {
  let first: number | undefined;
  try {
    const handle = await open(file, 'r');
    try {
      if (!(await handle.stat()).isFile()) throw new InspectError(`"${file}" is not a regular file (inspect reads a config or a ctx-bin)`);
      const head = new Uint8Array(64);
      const { bytesRead } = await handle.read(head, 0, head.length, 0);
      first = head.subarray(0, bytesRead).find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (error instanceof GenieError) throw error;
    throw new InspectError(`cannot read "${file}": ${systemErrorReason(error)}`, { cause: error });
  }
  if (first === undefined) throw new InspectError(`"${file}" is empty (neither a config nor a ctx-bin)`);
  if (first === 0x7b) return 'genie-config';
  try {
    await (await SafetensorsReader.open(file)).close();
    return 'reference-ctx-bin';
  } catch {
    return 'qnn-ctx-bin';
  }
}

/** `[1, 1, 8, 64] UFIXED_POINT_16 scale=... offset=...`. */
function describeTensor(t: TensorSpec, role: string): string {
  const encoding = t.encoding === undefined ? '' : ` scale=${t.encoding.scale.toPrecision(6)} offset=${t.encoding.offset}`;
  return `${t.name}  [${t.shape.join(', ')}] ${t.dtype}${encoding}  ${role}  ${tensorByteLength(t)} B`;
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(2)} MiB`;

/** The report as text for a terminal. */
export function inspectToText(report: InspectReport): string {
  const out: string[] = [`${report.file}: ${report.kind} (backend ${report.backend}), ${report.graphs.length} graphs`];
  const layout = report.layout;
  if (layout !== null) {
    out.push(
      `model: input ${layout.input.kind} (${layout.input.tensor}, ${layout.input.dtype}), vocab ${layout.vocabSize}` +
        `${layout.hiddenSize === null ? '' : `, hidden ${layout.hiddenSize}`}, KV ${layout.kvMode} (${layout.kvSlots} slots, cache groups ${layout.cacheGroups.join(', ')})`,
      `context lengths: ${layout.contextLengths.join(', ')}; ${layout.splitCount} splits per variant`,
      'variants:',
      ...layout.variants.map((v) => `  ${v.id}  AR ${v.ar} CL ${v.cl} past ${v.pastDim}${v.hasLogits ? ` logits rows ${v.logitsRows}` : ' (no logits: prefill only)'}: ${v.parts.map((p) => `${p.graph} (${p.kind})`).join(' -> ')}`),
      `buffer plan: ${layout.bufferPlan.buffers.length} buffers, ${layout.bufferPlan.totalBytes} bytes (${mib(layout.bufferPlan.totalBytes)})`,
      ...layout.bufferPlan.buffers.map((b) => `  ${b.kind === 'kv-region' ? 'kv  ' : '    '}${b.name}  ${b.byteLength} B`),
    );
  } else {
    out.push(`no model layout: ${report.layoutProblem}`);
  }
  out.push('graphs:');
  for (const graph of report.graphs) {
    const roles = report.roles[graph.name];
    out.push(`  ${graph.name} (ctx-bin ${graph.ctxBin})`, '    inputs:', ...graph.inputs.map((t) => `      ${describeTensor(t, roles[t.name])}`),
      '    outputs:', ...graph.outputs.map((t) => `      ${describeTensor(t, roles[t.name])}`));
  }
  return `${out.join('\n')}\n`;
}
