/**
 * The same quantized bundle on QnnHtp (the QNN binding over the simulated HTP provider) and on the
 * Reference backend: the quantized IO crosses the C ABI as uint8/uint16 tensors with their scale and
 * offset, so tokens and logits rows must be identical.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSimulatedQnn } from '../../../src/simulator/index.js';
import { Dialog } from '../../../src/runtime/dialog.js';
import { writeDemoBundle, type DemoBundle } from '../../../src/demo/index.js';
import { tempDir, TINY } from './fixtures.js';

const root = tempDir('quant-qnn-sim');
const PROMPT = [9707, 11, 1879, 0, 151644, 872, 77, 1000, 2];
const QNN_HTP = { version: 1, 'spill-fill-bufsize': 0, 'mmap-budget': 0, 'use-mmap': true, 'cpu-mask': '0xe0', poll: false };

interface Run {
  readonly tokens: number[];
  readonly rows: Float32Array[];
}

async function greedy(dialog: Dialog): Promise<Run> {
  dialog.configureSampler({ temp: 0 });
  const tokens: number[] = [];
  const rows: Float32Array[] = [];
  const generator = dialog.tokenQuery(PROMPT, { maxTokens: 5, onLogits: (row, token) => void (tokens.push(token), rows.push(row.slice())) });
  for (let next = await generator.next(); !next.done; next = await generator.next());
  return { tokens, rows };
}

async function onQnnHtp(bundle: DemoBundle): Promise<Run> {
  const config = JSON.parse(readFileSync(bundle.configPath, 'utf8'));
  config.dialog.engine.backend = { version: 1, type: 'QnnHtp', QnnHtp: QNN_HTP };
  const simulated = createSimulatedQnn();
  try {
    await using dialog = await Dialog.create(config, { baseDir: bundle.dir, backend: { qnn: { provider: 'simulated', simulated } } });
    return await greedy(dialog);
  } finally {
    simulated.dispose();
  }
}

describe('quantized bundles on QnnHtp + the simulated provider', () => {
  let bundles: DemoBundle[];
  beforeAll(async () => {
    bundles = [
      await writeDemoBundle(join(root, 'htp-ids'), { ...TINY, quant: 'htp' }),
      await writeDemoBundle(join(root, 'htp-embeds'), { ...TINY, quant: 'htp', input: 'embeds' }),
      await writeDemoBundle(join(root, 'fp16-ids'), { ...TINY, quant: 'fp16' }),
    ];
  });

  for (const [i, name] of ['htp ids', 'htp embeds', 'fp16 ids'].entries()) {
    it(`${name}: the same greedy tokens and bit-identical logits rows as the Reference backend`, async () => {
      await using reference = await Dialog.create(bundles[i].configPath);
      const want = await greedy(reference);
      const got = await onQnnHtp(bundles[i]);
      expect(got.tokens).toEqual(want.tokens);
      expect(got.tokens.length).toBeGreaterThan(1);
      got.rows.forEach((row, s) => expect(Buffer.from(row.buffer).equals(Buffer.from(want.rows[s].buffer)), `row ${s}`).toBe(true));
    });
  }
});
