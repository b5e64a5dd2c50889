/**
 * The native path of reading binary info, end to end: a real shared library named libQnnSystem.so
 * (built here with the C compiler) exporting `QnnSystemInterface_getProviders`, which forwards to
 * the simulated provider's system part. Found through LD_LIBRARY_PATH with no libQnnHtp anywhere,
 * it is all `readQnnGraphSpecs` and `genie-ts inspect` need. Skipped (with the reason) where no C
 * compiler or no ELF platform is available.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import koffi from 'koffi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readQnnGraphSpecs } from '../../../src/backends/qnn/index.js';
import { readCtxBinGraphs } from '../../../src/backends/reference/index.js';
import { writeDemoBundle } from '../../../src/demo/index.js';
import type { GraphSpec } from '../../../src/graphs/spec.js';
import { createSimulatedQnn, type SimulatedQnn } from '../../../src/simulator/index.js';
import { cli } from '../../cli/fixtures.js';
import { tempDir } from '../../backends/reference/fixtures.js';

/** A libQnnSystem whose entry point forwards to a `getProviders` function pointer set from the test. */
const SHIM = `#include <stdint.h>
typedef uint64_t (*get_providers_t)(const void ***providers, uint32_t *count);
static get_providers_t target;
void genie_ts_test_forward_to(get_providers_t fn) { target = fn; }
uint64_t QnnSystemInterface_getProviders(const void ***providers, uint32_t *count) { return target(providers, count); }
`;

function compiler(): string | null {
  if (process.platform !== 'linux') return null;
  for (const cc of ['cc', 'gcc', 'clang']) {
    try {
      execFileSync(cc, ['--version'], { stdio: 'ignore' });
      return cc;
    } catch {
      // try the next one
    }
  }
  return null;
}

const cc = compiler();
if (cc === null) console.warn('binary-info-native.test.ts skipped: needs Linux and a C compiler (cc, gcc or clang) to build a stand-in libQnnSystem.so');

describe.skipIf(cc === null)('binary info through a native libQnnSystem alone', () => {
  const dir = tempDir('qnn-native-system');
  const libDir = join(dir, 'lib');
  const env = { LD_LIBRARY_PATH: libDir, GENIE_TS_QNN_BACKEND_LIB: join(dir, 'nowhere', 'libQnnHtp.so') };
  let sim: SimulatedQnn;
  let configPath: string;
  let parts: string[];
  let oracle: GraphSpec[];

  beforeAll(async () => {
    mkdirSync(libDir);
    const source = join(dir, 'shim.c');
    writeFileSync(source, SHIM);
    const library = join(libDir, 'libQnnSystem.so');
    execFileSync(cc!, ['-shared', '-fPIC', '-o', library, source]);
    sim = createSimulatedQnn();
    // The same library instance the binding will load (the dynamic loader shares it by path).
    const forward = koffi.load(library).func('void genie_ts_test_forward_to(void *fn)');
    forward(sim.systemInterfaceGetProviders);
    const options = { layers: 2, hidden: 16, heads: 2, kvHeads: 1, ar: [1, 4], cl: 32, seed: 4, splits: 2, quant: 'htp' } as const;
    const bundle = await writeDemoBundle(join(dir, 'bundle'), { ...options, backend: 'qnn-htp' });
    configPath = bundle.configPath;
    parts = [1, 2].map((i) => join(bundle.dir, `demo_part_${i}_of_2.safetensors`));
    oracle = parts.flatMap((file, ctxBin) => readCtxBinGraphs(new Uint8Array(readFileSync(file)), file).map((g) => ({ ...g, ctxBin })));
  }, 60_000);

  afterAll(() => sim?.dispose());

  it('readQnnGraphSpecs finds libQnnSystem on the library path and reads both ctx-bins; no core call', async () => {
    expect(await readQnnGraphSpecs(parts, { provider: 'native', env })).toEqual(oracle);
    expect(['interfaceGetProviders', 'backendCreate', 'contextCreateFromBinary'].map((n) => sim.calls(n))).toEqual([0, 0, 0]);
    expect(sim.liveHandles()).toBe(0);
  });

  it('genie-ts inspect of a qnn-htp config with only libQnnSystem on the library path', async () => {
    const saved = Object.fromEntries(['GENIE_TS_QNN_PROVIDER', ...Object.keys(env)].map((k) => [k, process.env[k]]));
    delete process.env.GENIE_TS_QNN_PROVIDER;
    Object.assign(process.env, env);
    try {
      const run = await cli(['inspect', configPath, '--json']);
      expect(run.stderr).toBe('');
      const report = JSON.parse(run.stdout);
      expect([run.code, report.backend, report.layout.variants.length]).toEqual([0, 'QnnHtp', 2]);
      expect(report.graphs.map((g: GraphSpec) => g.name)).toEqual(oracle.map((g) => g.name));
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
    expect(sim.calls('contextCreateFromBinary')).toBe(0);
    expect(sim.liveHandles()).toBe(0);
  });
});
