/**
 * Fidelity of the quantized demo bundles: `--quant htp` and `--quant fp16` against the float bundle
 * of the same seed (demo defaults), teacher forced over 64 steps for a short prompt, a multi-chunk
 * prompt and two turns. Each row names the logits SQNR (min / mean over the steps) and the top-1
 * agreement on the decisive steps (float top-1 margin above two logits quantization steps; the
 * others are counted as ties); `medianUs` is the time of that comparison (one run).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deriveDialog, loadConfigFile } from '../src/runtime/config/index.js';
import { writeDemoBundle, type DemoQuant } from '../src/demo/index.js';
import { openEngine, type Engine } from '../src/runtime/engine/index.js';
import { teacherForcedFidelity, type FidelityReport, type FidelityTurn } from '../src/runtime/quant/index.js';
import { demoTokenizerPath, loadTokenizer } from '../src/runtime/tokenizer/index.js';
import type { Measurement } from './harness.js';

export const FIDELITY_TARGET = 'SQNR >= 20 dB, top-1 >= 90% of decisive steps';

/** The scripts: 64 compared steps each. */
export async function fidelityScripts(): Promise<Record<string, FidelityTurn[]>> {
  const tokenizer = await loadTokenizer(demoTokenizerPath());
  const chat = (text: string): number[] =>
    Array.from(tokenizer.encode(`<|im_start|>user\n${text}<|im_end|>\n<|im_start|>assistant\n`));
  return {
    short: [{ prompt: chat('Hi!'), steps: 64 }],
    'multi-chunk': [{
      prompt: chat(
        'Please explain in detail how a refrigerator moves heat from its cold inside to the warm kitchen around it, ' +
          'mentioning the compressor, the condenser coils at the back, the expansion valve and the evaporator, and why ' +
          'the refrigerant must change phase twice on every cycle.',
      ),
      steps: 64,
    }],
    'multi-turn': [{ prompt: chat('Name three colours.'), steps: 32 }, { prompt: chat('And three animals?'), steps: 32 }],
  };
}

export interface FidelityEngines {
  readonly float: Engine;
  readonly htp: Engine;
  readonly fp16: Engine;
  /** The configs' primary EOS (fed between turns). */
  readonly eos: number;
  dispose(): Promise<void>;
}

/** Writes the none / htp / fp16 demo bundles (demo defaults) under `root` and opens an Engine on each. */
export async function openFidelityEngines(root: string): Promise<FidelityEngines> {
  const quants: readonly DemoQuant[] = ['none', 'htp', 'fp16'];
  const configs = await Promise.all(
    quants.map(async (quant) => deriveDialog((await loadConfigFile((await writeDemoBundle(join(root, quant), { quant })).configPath)).config)),
  );
  const [float, htp, fp16] = await Promise.all(configs.map((config) => openEngine(config)));
  return {
    float,
    htp,
    fp16,
    eos: configs[0].primaryEos,
    async dispose() {
      for (const engine of [float, htp, fp16]) await engine.dispose();
    },
  };
}

const describe = (quant: string, script: string, r: FidelityReport): string =>
  `${quant} vs float, ${script}: SQNR min ${r.minSqnrDb.toFixed(1)} / mean ${r.meanSqnrDb.toFixed(1)} dB, ` +
  `top-1 ${r.decisiveAgreements}/${r.decisiveSteps} decisive (${r.ties} ties), ${r.agreements}/${r.steps} all`;

export async function run(): Promise<Measurement[]> {
  const root = await mkdtemp(join(tmpdir(), 'genie-ts-bench-fidelity-'));
  try {
    const engines = await openFidelityEngines(root);
    try {
      const rows: Measurement[] = [];
      for (const [script, turns] of Object.entries(await fidelityScripts())) {
        const start = process.hrtime.bigint();
        const [htp, fp16] = await teacherForcedFidelity(engines.float, [engines.htp, engines.fp16], turns, engines.eos);
        const us = Number(process.hrtime.bigint() - start) / 1e3;
        rows.push({ name: describe('htp', script, htp), medianUs: us, target: FIDELITY_TARGET });
        rows.push({ name: describe('fp16', script, fp16), medianUs: us, target: 'near-identical' });
      }
      return rows;
    } finally {
      await engines.dispose();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
