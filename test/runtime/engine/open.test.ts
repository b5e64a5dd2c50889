/**
 * `Engine.open(config, options)`: the engine of a Genie config without a dialog. Oracle: a Dialog
 * over the same config, whose first logits row for the same prompt must be the engine's, bit for bit.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/errors.js';
import { Engine } from '../../../src/runtime/engine/engine.js';
import { exactError } from '../../expect-error.js';
import { DialogPool, makeModel, tempDir, tokenIds, tokenTurn, writeBundle, type Bundle } from '../fixtures.js';

describe('Engine.open', () => {
  const root = tempDir('runtime-engine-open');
  const dialogs = new DialogPool('Reference');
  const model = makeModel({}, 'engine-open');
  let bundle: Bundle;
  let configPath: string;

  beforeAll(async () => {
    bundle = await writeBundle(root, model, { name: 'engine-open', arSet: [1, 32], cl: 64, splits: 2 });
    configPath = join(bundle.dir, 'genie_config.json');
    writeFileSync(configPath, JSON.stringify(dialogs.config(bundle)));
  });
  afterAll(() => dialogs.disposeAll());

  it('opens a config file: its prefill logits equal the first logits row of a Dialog on the same config', async () => {
    const prompt = tokenIds(7, 3, 1, model.config.vocabSize - 1);
    const turn = await tokenTurn(await dialogs.open(bundle), prompt, { maxTokens: 1 });
    const engine = await Engine.open(configPath);
    try {
      expect(engine.vocabSize).toBe(model.config.vocabSize);
      expect(engine.contextSize).toBe(64);
      const logits = await engine.prefill(prompt);
      const row = new Float32Array(engine.vocabSize);
      logits!.dequantizeInto(row);
      expect(row).toEqual(turn.logits[0]);
      expect(engine.nValid).toBe(prompt.length);
    } finally {
      await engine.dispose();
    }
  });

  it('opens a config object against baseDir, and takes backend options', async () => {
    const engine = await Engine.open(dialogs.config(bundle), { baseDir: bundle.dir, backend: {} });
    try {
      expect(engine.layout.variants.length).toBeGreaterThan(0);
    } finally {
      await engine.dispose();
    }
  });

  it('bad arguments are InvalidArgumentErrors naming them', async () => {
    await expect(Engine.open(configPath, { bogus: 1 } as never)).rejects.toEqual(
      exactError(InvalidArgumentError, 'Engine.open options: unknown option "bogus" (known: baseDir, backend, graphBackend, wrapBackend)'),
    );
    await expect(Engine.open(42 as never)).rejects.toEqual(
      exactError(InvalidArgumentError, 'Engine.open takes a config file path or a parsed config object, got 42'),
    );
    await expect(Engine.open(configPath, { wrapBackend: 'x' as never })).rejects.toEqual(
      exactError(InvalidArgumentError, 'Engine.open option wrapBackend must be a function (configured: GraphBackend) => GraphBackend, got the string "x"'),
    );
  });
});
