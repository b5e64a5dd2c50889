/**
 * The lifecycle soak at CI scale (`npm run soak` runs 1000 cycles and 100,000 tokens and reports RSS):
 * create / query / dispose cycles leave no open file descriptor and no live native handle behind,
 * and every cycle produces the same tokens.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Dialog } from '../../src/runtime/dialog.js';
import { createSimulatedQnn } from '../../src/simulator/index.js';
import { BACKENDS, dialogConfig, makeModel, sharedTokenizer, tempDir, tokenIds, tokenTurn, writeBundle } from '../runtime/fixtures.js';

const CYCLES = 40;
const model = makeModel({}, 'lifecycle');
const prompt = tokenIds(9, 4, 1, model.config.vocabSize - 2);
const openFds = (): number => readdirSync('/proc/self/fd').length;
const hasProcFds = process.platform === 'linux';

describe.each(BACKENDS)('%s: create / query / dispose cycles', (backend) => {
  const root = tempDir('lifecycle');

  it(`${CYCLES} cycles: same tokens each time, no file descriptor or native handle left`, async () => {
    const bundle = await writeBundle(root, model, { name: 'l', arSet: [1, 8], cl: 64, splits: 2 });
    const sim = backend === 'QnnHtp' ? createSimulatedQnn() : undefined;
    const tokenizer = await sharedTokenizer();
    const cycle = async (): Promise<number[]> => {
      const dialog = await Dialog.create(dialogConfig(bundle, { backend }), {
        baseDir: bundle.dir,
        tokenizer,
        backend: sim ? { qnn: { provider: 'simulated', simulated: sim } } : undefined,
      });
      const turn = await tokenTurn(dialog, prompt, { maxTokens: 4 });
      await dialog.dispose();
      return turn.sampled;
    };
    const first = await cycle(); // warms up lazily opened files (tokenizer, modules)
    const fdsBefore = hasProcFds ? openFds() : 0;
    for (let c = 0; c < CYCLES; c++) {
      expect(await cycle()).toEqual(first);
      if (sim) expect(sim.liveHandles()).toBe(0);
    }
    if (hasProcFds) expect(openFds()).toBe(fdsBefore);
    sim?.dispose();
  });
});
