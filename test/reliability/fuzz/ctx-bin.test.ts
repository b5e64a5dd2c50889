/**
 * Fuzzing the reference ctx-bin readers: from bytes (what the simulated QNN provider hands them),
 * `readCtxBinGraphs` (container, metadata, each graph's IO) and `loadCtxBinProgram` (also the
 * weights); from files, `openReferenceBackend`. Inputs: random bytes, byte mutations, header edits
 * and edits of the `genie-ts` metadata (model shape, graph kinds and layer ranges, tensor names,
 * dtypes, shapes, encodings), as values and as text.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe } from 'vitest';
import { loadCtxBinProgram, openReferenceBackend, readCtxBinGraphs } from '../../../src/backends/reference/index.js';
import { tempDir } from '../../backends/reference/fixtures.js';
import { ctxBinInputs, fuzzSeeds } from './ctx-bins.js';
import { fuzz } from './harness.js';

const seeds = await fuzzSeeds();
const inputs = ctxBinInputs(seeds.ctxBins);

describe('fuzz: reference ctx-bins', () => {
  fuzz('readCtxBinGraphs', inputs, (bytes) => readCtxBinGraphs(bytes, 'fuzz.bin'), { runs: 800 });
  fuzz('loadCtxBinProgram', inputs, (bytes) => loadCtxBinProgram(bytes, 'fuzz.bin'), { runs: 500 });

  const dir = tempDir('fuzz-ctx-bin');
  let count = 0;
  fuzz('openReferenceBackend on a mutated ctx-bin file', inputs, async (bytes) => {
    const path = join(dir, `part-${count++ % 4}.safetensors`);
    writeFileSync(path, bytes);
    const backend = await openReferenceBackend([path]);
    await backend.dispose();
  }, { runs: 200 });
});
