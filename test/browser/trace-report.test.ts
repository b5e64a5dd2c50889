/**
 * The trace diff's HTML report in a real headless browser (Debian's chromium, driven by
 * playwright-core): it renders with no console message, no page error and no request (it is
 * self-contained), and its charts draw the expected series and cells. Skipped, saying why, where no
 * chromium is installed (`apt-get install -y chromium`); test/cli/trace-diff.test.ts checks the
 * same page structurally everywhere.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { diffToHtml } from '../../src/runtime/trace/diff-html.js';
import { diffTraces } from '../../src/runtime/trace/trace-diff.js';
import { readTrace } from '../../src/runtime/trace/trace-reader.js';
import { tempRoot, writeHandTrace, type HandStep } from '../runtime/trace/fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
if (!available) console.warn(`test/browser: skipped, no browser at ${CHROMIUM} (apt-get install -y chromium)`);

/** Three steps, two roles of value tensors, a mask, logits whose argmax differs at step 2. */
function steps(noise: number, lastTop: number): HandStep[] {
  const hidden = (k: number): number[] => [0.5, -1, 2, 0.25].map((v, i) => v * (k + 1) + (i % 2 ? noise : -noise));
  return [0, 1, 2].map((k) => ({
    tokens: [k + 1],
    tensors: [
      { name: 'attention_mask', role: 'attention_mask', dtype: 'FLOAT_32', shape: [1, 4], values: [0, 0, -1000, -1000] },
      { name: 'past_key_0_out', role: 'kv', direction: 'output', dtype: 'FLOAT_32', shape: [1, 4], values: hidden(k) },
      { name: 'logits', role: 'logits', dtype: 'FLOAT_32', shape: [1, 3], values: k === 2 ? [0, 1, lastTop] : [0, 1, 0.5] },
    ],
  }));
}

describe.skipIf(!available)('trace diff HTML report in chromium', () => {
  it('renders with no console message and no request; the charts have the expected series and cells', async () => {
    const root = tempRoot('browser-report');
    const a = await readTrace(writeHandTrace(join(root, 'a'), steps(0, 0.5)));
    const b = await readTrace(writeHandTrace(join(root, 'b'), steps(0.05, 2)));
    const diff = await diffTraces(a, b);
    const file = join(root, 'report.html');
    writeFileSync(file, diffToHtml(diff));

    // A fresh profile per run (playwright passes it as --user-data-dir).
    const browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'genie-ts-chromium-')), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync',
      ],
    });
    try {
      const page = await browser.newPage();
      const messages: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => messages.push(`${m.type()}: ${m.text()}`));
      page.on('pageerror', (e) => messages.push(`pageerror: ${e.message}`));
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
      expect(messages).toEqual([]);
      expect(requests).toEqual([pathToFileURL(file).href]);

      const seen = await page.evaluate(() => {
        // Runs in the page; the project compiles without DOM types, so the page's objects are untyped here.
        const document = (globalThis as any).document;
        const box = (el: any): { width: number; height: number } => {
          const r = el.getBoundingClientRect();
          return { width: Math.round(r.width), height: Math.round(r.height) };
        };
        const chart = document.querySelector('#sqnr-per-step');
        return {
          title: document.title,
          verdict: document.querySelector('#verdict').textContent,
          chart: box(chart),
          series: [...chart.querySelectorAll('g.series')].map((g: any) => ({
            name: g.getAttribute('data-series'),
            points: g.querySelectorAll('circle').length,
            drawn: g.querySelector('polyline').getTotalLength() > 0,
          })),
          argmax: [...chart.querySelectorAll('g.argmax path')].map((p: any) => p.querySelector('title').textContent),
          cells: [...document.querySelectorAll('#sqnr-heatmap rect.cell')].map((r: any) => `${r.getAttribute('data-step')}/${r.getAttribute('data-tensor')}`),
          heatmap: box(document.querySelector('#sqnr-heatmap')),
          outlined: [...document.querySelectorAll('rect.first-parting')].map((r: any) => r.getAttribute('data-tensor')),
        };
      });
      expect(seen.title).toBe('genie-ts trace diff');
      expect(seen.verdict).toBe(`The runs part at step 2, tensor logits: ${diff.firstParting!.why}.`);
      expect(seen.chart.width).toBeGreaterThan(300);
      expect(seen.chart.height).toBeGreaterThan(100);
      expect(seen.heatmap.width).toBeGreaterThan(100);
      // Masks have no SQNR series; kv and logits one point per step each.
      expect(seen.series).toEqual([{ name: 'kv', points: 3, drawn: true }, { name: 'logits', points: 3, drawn: true }]);
      expect(seen.argmax).toEqual(["step 2: the logits' argmax differs"]);
      expect(seen.cells.sort()).toEqual([0, 1, 2].flatMap((s) => ['attention_mask', 'logits', 'past_key_0_out'].map((t) => `${s}/${t}`)).sort());
      expect(seen.outlined).toEqual(['logits']);
    } finally {
      await browser.close();
    }
  });
});
