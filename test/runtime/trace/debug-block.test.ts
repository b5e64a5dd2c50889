/**
 * Genie's `dialog.debug` block: dump-specs writes the graphs (read back with parseGraphSpecsJson and
 * compared with the ctx-bins), dump-tensors a trace of every step of every query (on disk and valid
 * while the dialog lives, complete once it is disposed, readable by trace diff), dump-outputs the
 * logits only, nothing without a dump flag, a new folder per dialog, and an unwritable path.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readCtxBinGraphs } from '../../../src/backends/reference/index.js';
import { writeDemoBundle } from '../../../src/demo/index.js';
import { parseGraphSpecsJson } from '../../../src/graphs/spec-json.js';
import { Dialog } from '../../../src/runtime/dialog.js';
import { diffTraces } from '../../../src/runtime/trace/trace-diff.js';
import { readStepTensors, readTrace } from '../../../src/runtime/trace/trace-reader.js';
import { TraceError } from '../../../src/runtime/trace/trace-writer.js';
import { tempRoot } from './fixtures.js';

const root = tempRoot('debug-block');
const OPTIONS = { layers: 2, hidden: 16, heads: 2, kvHeads: 1, ar: [1, 4], cl: 32, seed: 3, quant: 'htp' } as const;

describe('dialog.debug', () => {
  let configText: any;
  let bundleDir: string;

  beforeAll(async () => {
    const bundle = await writeDemoBundle(join(root, 'bundle'), OPTIONS);
    bundleDir = bundle.dir;
    configText = JSON.parse(readFileSync(bundle.configPath, 'utf8'));
  }, 60_000);

  /** The bundle's config with `debug`, written beside it. */
  function configWith(debug: object, name: string): string {
    const path = join(bundleDir, `${name}.json`);
    writeFileSync(path, JSON.stringify({ dialog: { ...configText.dialog, debug } }));
    return path;
  }

  async function ask(dialog: Dialog, prompt: string, maxTokens: number): Promise<void> {
    for await (const _ of dialog.query(prompt, { maxTokens })); // eslint-disable-line @typescript-eslint/no-unused-vars
  }

  it('dump-specs and dump-tensors: the graphs, and every step of every query, written as they run', async () => {
    const path = join(root, 'dumps');
    const dialog = await Dialog.create(configWith({ path, 'dump-specs': true, 'dump-tensors': true }, 'all'));
    const dir = join(path, 'dialog-0');
    const graphs = [1, 2].flatMap((i, ctxBin) => {
      const file = join(bundleDir, `demo_part_${i}_of_2.safetensors`);
      return readCtxBinGraphs(new Uint8Array(readFileSync(file)), file).map((g) => ({ ...g, ctxBin }));
    });
    const specsFile = join(dir, 'specs.json');
    expect(parseGraphSpecsJson(readFileSync(specsFile, 'utf8'), specsFile)).toEqual(graphs);

    await ask(dialog, 'Hello there, how are you', 3);
    // Before dispose: the index is on disk, valid, and says the run is not finished.
    const during = await readTrace(dir);
    expect(during.complete).toBe(false);
    const first = during.steps.length;
    expect(first).toBeGreaterThan(2);
    await ask(dialog, 'And then?', 2);
    await dialog.dispose();
    const trace = await readTrace(dir);
    expect(trace.complete).toBe(true);
    expect(trace.steps.length).toBeGreaterThan(first);
    // One numbering over both queries; each step's file holds every tensor class.
    expect(trace.steps.map((s) => s.index)).toEqual(trace.steps.map((_, i) => i));
    const roles = new Set([...(await readStepTensors(trace, trace.steps[first])).values()].map((t) => t.tensor.role));
    expect([...roles].sort()).toEqual(['attention_mask', 'input_ids', 'input_embeds', 'kv', 'logits', 'position_ids_cos', 'position_ids_sin'].sort());
    // Readable by trace diff: itself, no parting.
    expect((await diffTraces(trace, trace)).firstParting).toBeNull();
  });

  it('dump-outputs alone keeps the logits; a second dialog gets its own folder; no dump flag writes nothing', async () => {
    const path = join(root, 'outputs');
    for (const k of [0, 1]) {
      const dialog = await Dialog.create(configWith({ path, 'dump-outputs': true }, 'outputs'));
      await ask(dialog, 'Hi', 2);
      await dialog.dispose();
      const trace = await readTrace(join(path, `dialog-${k}`));
      const stored = await Promise.all(trace.steps.map((s) => readStepTensors(trace, s)));
      expect(stored.flatMap((m) => [...m.values()].map((t) => t.tensor.role))).toEqual(trace.steps.filter((s) => s.splits.some((p) => p.executed && p.tensors.some((t) => t.role === 'logits'))).map(() => 'logits'));
      expect(existsSync(join(path, `dialog-${k}`, 'specs.json'))).toBe(false);
    }
    const quiet = join(root, 'quiet');
    const dialog = await Dialog.create(configWith({ path: quiet }, 'quiet'));
    await ask(dialog, 'Hi', 1);
    await dialog.dispose();
    expect(existsSync(quiet)).toBe(false);
  });

  it('a path that cannot be created is a TraceError naming it; Dialog.create frees what it opened', async () => {
    const locked = join(root, 'locked');
    mkdirSync(locked);
    writeFileSync(join(locked, 'file'), '');
    const path = join(locked, 'file', 'dumps');
    const error = await Dialog.create(configWith({ path, 'dump-tensors': true }, 'locked')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TraceError);
    expect((error as Error).message).toBe(`dialog.debug.path: cannot create the debug folder "${path}": ENOTDIR: not a directory`);
    expect(readdirSync(locked)).toEqual(['file']);
  });
});
