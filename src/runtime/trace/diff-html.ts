/**
 * A trace diff as one self-contained HTML page (`trace diff --html FILE`): inline CSS and inline SVG,
 * no script, no external asset, no network access. A summary (where the runs part), a line chart of
 * the lowest SQNR per step for each tensor role (argmax disagreements marked under it), a heat map of
 * SQNR per step and tensor, and the per-tensor table. Every plotted value has a `<title>` tooltip;
 * series carry `data-series`, heat-map cells `data-tensor` / `data-step`, so tests and scripts read
 * the page structurally.
 */
import { summarizeTensors } from './diff-text.js';
import { formatDb, type TensorDiff, type TraceDiff } from './trace-diff.js';

const escape = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Series colours (Tableau 10), one per role in order of first appearance. */
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

/** The lowest SQNR per step of each role's value tensors: role -> (step -> dB). */
export function sqnrSeries(diff: TraceDiff): Map<string, Map<number, number>> {
  const series = new Map<string, Map<number, number>>();
  for (const step of diff.steps) {
    for (const t of step.tensors) {
      if (t.comparison !== 'values') continue;
      const points = series.get(t.role) ?? new Map<number, number>();
      series.set(t.role, points);
      const seen = points.get(step.index);
      if (seen === undefined || t.sqnrDb < seen) points.set(step.index, t.sqnrDb);
    }
  }
  return series;
}

/** The y range of the line chart: finite SQNRs and the threshold, padded, rounded to 10 dB. */
function yRange(diff: TraceDiff, series: Map<string, Map<number, number>>): { low: number; high: number } {
  const finite = [...series.values()].flatMap((points) => [...points.values()]).filter(Number.isFinite);
  const low = Math.floor((Math.min(diff.minSqnrDb, ...finite) - 5) / 10) * 10;
  const high = Math.ceil((Math.max(diff.minSqnrDb, ...finite) + 5) / 10) * 10;
  return { low, high };
}

function lineChart(diff: TraceDiff): string {
  const series = sqnrSeries(diff);
  const W = 900;
  const H = 320;
  const left = 56;
  const right = 150;
  const top = 24;
  const bottom = 52;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const steps = diff.steps.length;
  const { low, high } = yRange(diff, series);
  const x = (step: number): number => left + (steps <= 1 ? plotW / 2 : (step / (steps - 1)) * plotW);
  /** Infinite SQNR (identical tensors) sits on the top edge, -inf on the bottom one. */
  const y = (db: number): number => top + plotH * (1 - (Math.min(Math.max(db, low), high) - low) / (high - low));
  const parts: string[] = [];
  for (let tick = low; tick <= high; tick += 10) {
    parts.push(`<line class="grid" x1="${left}" x2="${left + plotW}" y1="${y(tick)}" y2="${y(tick)}"/>`,
      `<text class="tick" x="${left - 6}" y="${y(tick) + 4}" text-anchor="end">${tick}</text>`);
  }
  const xTicks = Math.min(steps, 10);
  for (let k = 0; k < xTicks; k++) {
    const step = steps <= 1 ? 0 : Math.round((k / Math.max(1, xTicks - 1)) * (steps - 1));
    parts.push(`<text class="tick" x="${x(step)}" y="${top + plotH + 16}" text-anchor="middle">${step}</text>`);
  }
  parts.push(`<text class="axis" x="${left + plotW / 2}" y="${H - 6}" text-anchor="middle">step</text>`,
    `<text class="axis" transform="translate(14 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">SQNR dB (top edge: identical)</text>`,
    `<line class="threshold" x1="${left}" x2="${left + plotW}" y1="${y(diff.minSqnrDb)}" y2="${y(diff.minSqnrDb)}"><title>parting threshold ${diff.minSqnrDb} dB</title></line>`);
  if (diff.firstParting !== null) {
    const px = x(diff.firstParting.step);
    parts.push(`<line class="parting" x1="${px}" x2="${px}" y1="${top}" y2="${top + plotH}"><title>first parting: step ${diff.firstParting.step}, ${escape(diff.firstParting.tensor)}</title></line>`);
  }
  let legendY = top + 8;
  [...series.entries()].forEach(([role, points], i) => {
    const colour = PALETTE[i % PALETTE.length];
    const coords = [...points.entries()].sort((p, q) => p[0] - q[0]);
    const dots = coords.map(([step, db]) => `<circle cx="${x(step)}" cy="${y(db)}" r="3" fill="${colour}"><title>${escape(role)}, step ${step}: ${formatDb(db)} dB</title></circle>`);
    parts.push(`<g class="series" data-series="${escape(role)}" data-points="${coords.length}">`,
      `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${coords.map(([s, db]) => `${x(s).toFixed(1)},${y(db).toFixed(1)}`).join(' ')}"/>`,
      ...dots, '</g>',
      `<rect x="${W - right + 12}" y="${legendY - 9}" width="12" height="12" fill="${colour}"/><text class="legend" x="${W - right + 30}" y="${legendY + 1}">${escape(role)}</text>`);
    legendY += 20;
  });
  const disagreements = diff.steps.flatMap((step) => step.tensors.filter((t) => t.argmax !== undefined && t.argmax.a !== t.argmax.b).map(() => step.index));
  parts.push(`<g class="argmax" data-series="argmax disagreement" data-points="${disagreements.length}">`,
    ...disagreements.map((step) => `<path d="M${x(step) - 5},${top + plotH + 30} l5,-8 l5,8 z" class="disagree"><title>step ${step}: the logits' argmax differs</title></path>`), '</g>');
  return `<svg class="chart" id="sqnr-per-step" role="img" aria-label="lowest SQNR per step for each tensor role" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">${parts.join('')}</svg>`;
}

/** Heat-map colour of a tensor comparison: red below the threshold to green at 60 dB and above; masks and exact tensors green or red. */
function cellColour(t: TensorDiff, minSqnrDb: number): string {
  if (t.comparison !== 'values') return t.mismatches === 0 ? '#59a14f' : '#e15759';
  if (t.sqnrDb === Number.POSITIVE_INFINITY) return '#2f6b2a';
  if (t.sqnrDb < minSqnrDb) return '#e15759';
  const f = Math.min(1, (t.sqnrDb - minSqnrDb) / Math.max(1, 60 - minSqnrDb));
  const hue = Math.round(45 + 75 * f);
  return `hsl(${hue} 60% 48%)`;
}

function heatMap(diff: TraceDiff): string {
  const names = summarizeTensors(diff).map((t) => t.name);
  const row = new Map(names.map((name, i) => [name, i]));
  const steps = diff.steps.length;
  const labelW = Math.min(320, 12 + 7 * Math.max(0, ...names.map((n) => n.length)));
  const cellW = Math.max(4, Math.min(24, Math.floor(880 / Math.max(1, steps))));
  const cellH = 14;
  const top = 20;
  const W = labelW + cellW * steps + 10;
  const H = top + cellH * names.length + 10;
  const parts: string[] = [];
  names.forEach((name, i) => parts.push(`<text class="label" x="${labelW - 6}" y="${top + i * cellH + 11}" text-anchor="end">${escape(name)}</text>`));
  for (let s = 0; s < steps; s += Math.max(1, Math.ceil(steps / 20))) {
    parts.push(`<text class="tick" x="${labelW + s * cellW + cellW / 2}" y="${top - 6}" text-anchor="middle">${s}</text>`);
  }
  for (const step of diff.steps) {
    for (const t of step.tensors) {
      const what = t.comparison === 'values'
        ? `SQNR ${formatDb(t.sqnrDb)} dB, max abs error ${t.maxAbsError.toPrecision(3)}, cosine ${t.cosine.toFixed(5)}`
        : `${t.mismatches} of ${t.elements} ${t.comparison === 'mask' ? 'mask elements differ (attend/masked)' : 'values differ'}`;
      const argmax = t.argmax === undefined ? '' : `, argmax ${t.argmax.a} / ${t.argmax.b}`;
      const parted = diff.firstParting?.step === step.index && diff.firstParting.tensor === t.name ? ' first-parting' : '';
      parts.push(`<rect class="cell${parted}" data-tensor="${escape(t.name)}" data-step="${step.index}" x="${labelW + step.index * cellW}" y="${top + row.get(t.name)! * cellH}" ` +
        `width="${cellW - 1}" height="${cellH - 1}" fill="${cellColour(t, diff.minSqnrDb)}"><title>step ${step.index}, ${escape(t.name)}: ${what}${argmax}</title></rect>`);
    }
  }
  return `<svg class="chart" id="sqnr-heatmap" role="img" aria-label="SQNR per step and tensor" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">${parts.join('')}</svg>`;
}

function tensorTable(diff: TraceDiff): string {
  const rows = summarizeTensors(diff).map((t) => `<tr${t.minSqnrDb < diff.minSqnrDb || t.mismatches > 0 && t.comparison !== 'values' ? ' class="bad"' : ''}>` +
    `<td>${escape(t.name)}</td><td>${escape(t.role)}</td><td>${t.comparison}</td><td>${t.steps}</td><td>${formatDb(t.minSqnrDb)}</td>` +
    `<td>${t.minSqnrStep}</td><td>${t.maxAbsError.toPrecision(3)}</td><td>${t.minCosine.toFixed(5)}</td><td>${t.mismatches}</td></tr>`);
  return '<table><thead><tr><th>tensor</th><th>role</th><th>compared as</th><th>steps</th><th>min SQNR dB</th><th>at step</th>' +
    `<th>max abs error</th><th>min cosine</th><th>mismatches</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1180px;color:#222;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.paths{color:#555;font-family:ui-monospace,monospace;font-size:12px}
.verdict{padding:12px 16px;border-radius:6px;margin:16px 0;font-size:15px}
.verdict.parts{background:#fdecea;border-left:5px solid #e15759}.verdict.same{background:#eaf5e8;border-left:5px solid #59a14f}
.notes{color:#7a5b00;background:#fff8e1;padding:8px 16px 8px 32px;border-radius:6px}
.chart{max-width:100%;height:auto;overflow:visible}
.grid{stroke:#e6e6e6}.tick,.label{font-size:11px;fill:#555}.axis,.legend{font-size:12px;fill:#333}
.threshold{stroke:#e15759;stroke-dasharray:6 4}.parting{stroke:#222;stroke-dasharray:2 3}
.disagree{fill:#e15759}.cell.first-parting{stroke:#000;stroke-width:2}
table{border-collapse:collapse;font-size:12px;font-variant-numeric:tabular-nums}
th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:right}th:first-child,td:first-child,th:nth-child(2),td:nth-child(2),th:nth-child(3),td:nth-child(3){text-align:left}
tr.bad td{color:#b3261e}.key{font-size:12px;color:#555}`;

/** The whole report page. */
export function diffToHtml(diff: TraceDiff): string {
  const verdict = diff.firstParting === null
    ? '<div class="verdict same" id="verdict">The runs do not part: every compared tensor agrees within the threshold.</div>'
    : `<div class="verdict parts" id="verdict">The runs part at <b>step ${diff.firstParting.step}</b>, tensor <b>${escape(diff.firstParting.tensor)}</b>: ${escape(diff.firstParting.why)}.</div>`;
  const notes = diff.notes.length === 0 ? '' : `<ul class="notes">${diff.notes.map((n) => `<li>${escape(n)}</li>`).join('')}</ul>`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>genie-ts trace diff</title><style>${STYLE}</style></head><body>
<h1>Trace diff</h1>
<div class="paths">A (reference): ${escape(diff.a)}<br>B: ${escape(diff.b)}</div>
${verdict}
<p>${diff.steps.length} steps compared; a value tensor parts below ${diff.minSqnrDb} dB SQNR, a mask when one element's attend/masked differs, ids and positions when one value differs, logits also when their argmax differs.</p>
${notes}
<h2>Lowest SQNR per step, by tensor role</h2>
<p class="key">Top edge: identical tensors (infinite SQNR). Dashed red: the threshold. Triangles: steps whose logits' argmax differs. Hover a point for its value.</p>
${lineChart(diff)}
<h2>SQNR per step and tensor</h2>
<p class="key">Green: close (60 dB and above darkest, identical darkest of all); yellow to red: approaching and below the threshold; masks and ids: green when equal, red otherwise. Outlined: the first parting.</p>
${heatMap(diff)}
<h2>Per tensor</h2>
${tensorTable(diff)}
</body></html>
`;
}
