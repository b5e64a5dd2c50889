/**
 * A trace diff as text for a terminal (a table per step, a table per tensor) and as JSON (the whole
 * `TraceDiff`; non-finite numbers as the strings "inf", "-inf", "nan", which JSON cannot hold).
 */
import { formatDb, type StepDiff, type TensorDiff, type TraceDiff } from './trace-diff.js';

/** The value tensors of a step (masks and exact tensors have no meaningful SQNR) with the lowest SQNR first. */
function worstValueTensor(step: StepDiff): TensorDiff | undefined {
  let worst: TensorDiff | undefined;
  for (const t of step.tensors) if (t.comparison === 'values' && (worst === undefined || t.sqnrDb < worst.sqnrDb)) worst = t;
  return worst;
}

/** Per tensor name, over the compared steps: the lowest SQNR and its step, the largest error, the lowest cosine. */
export interface TensorSummary {
  readonly name: string;
  readonly role: string;
  readonly comparison: TensorDiff['comparison'];
  readonly steps: number;
  readonly minSqnrDb: number;
  readonly minSqnrStep: number;
  readonly maxAbsError: number;
  readonly minCosine: number;
  readonly mismatches: number;
}

export function summarizeTensors(diff: TraceDiff): TensorSummary[] {
  const byName = new Map<string, TensorSummary>();
  for (const step of diff.steps) {
    for (const t of step.tensors) {
      const seen = byName.get(t.name);
      byName.set(t.name, seen === undefined
        ? { name: t.name, role: t.role, comparison: t.comparison, steps: 1, minSqnrDb: t.sqnrDb, minSqnrStep: step.index, maxAbsError: t.maxAbsError, minCosine: t.cosine, mismatches: t.mismatches }
        : {
          ...seen,
          steps: seen.steps + 1,
          ...(t.sqnrDb < seen.minSqnrDb && { minSqnrDb: t.sqnrDb, minSqnrStep: step.index }),
          maxAbsError: Math.max(seen.maxAbsError, t.maxAbsError),
          minCosine: Math.min(seen.minCosine, t.cosine),
          mismatches: seen.mismatches + t.mismatches,
        });
    }
  }
  return [...byName.values()];
}

const num = (x: number): string => (Number.isFinite(x) ? (Math.abs(x) >= 1e4 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(2) : x.toFixed(4)) : String(x));

/** Columns before `textColumns` are text (left-aligned), the others numbers (right-aligned). */
function table(header: readonly string[], rows: readonly (readonly string[])[], textColumns: number): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: readonly string[]): string => cells.map((cell, c) => (c < textColumns ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function diffToText(diff: TraceDiff): string {
  const out: string[] = [`trace diff: A ${diff.a}  vs  B ${diff.b}  (${diff.steps.length} steps compared, parting below ${diff.minSqnrDb} dB)`, ''];
  const stepRows = diff.steps.map((step) => {
    const worst = worstValueTensor(step);
    const logits = step.tensors.find((t) => t.role === 'logits');
    const masks = step.tensors.filter((t) => t.comparison === 'mask').reduce((n, t) => n + t.mismatches, 0);
    return [
      String(step.index), step.kind, step.variant, `${step.positions.first}..${step.positions.end - 1}`,
      worst === undefined ? '-' : `${formatDb(worst.sqnrDb)} ${worst.name}`,
      logits === undefined ? '-' : formatDb(logits.sqnrDb),
      logits === undefined ? '-' : num(logits.cosine),
      logits?.argmax === undefined ? '-' : logits.argmax.a === logits.argmax.b ? `yes ${logits.argmax.a}` : `NO ${logits.argmax.a}/${logits.argmax.b}`,
      String(masks),
    ];
  });
  out.push(table(['step', 'kind', 'variant', 'positions', 'min SQNR dB (tensor)', 'logits dB', 'logits cos', 'argmax', 'mask diffs'], stepRows, 5), '');
  const tensorRows = summarizeTensors(diff).map((t) => [
    t.name, t.role, t.comparison, String(t.steps), formatDb(t.minSqnrDb), String(t.minSqnrStep), num(t.maxAbsError), num(t.minCosine), String(t.mismatches),
  ]);
  out.push(table(['tensor', 'role', 'compared as', 'steps', 'min SQNR dB', 'at step', 'max abs err', 'min cosine', 'mismatches'], tensorRows, 3), '');
  out.push(diff.firstParting === null
    ? 'the runs do not part: every compared tensor agrees within the threshold'
    : `first parting: step ${diff.firstParting.step}, tensor "${diff.firstParting.tensor}": ${diff.firstParting.why}`);
  for (const note of diff.notes) out.push(`note: ${note}`);
  return `${out.join('\n')}\n`;
}

/** The diff as JSON text: infinite SQNRs as "inf" / "-inf", NaN as "nan". */
export function diffToJson(diff: TraceDiff): string {
  return `${JSON.stringify(diff, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? (Number.isNaN(value) ? 'nan' : value > 0 ? 'inf' : '-inf') : value), 2)}\n`;
}
