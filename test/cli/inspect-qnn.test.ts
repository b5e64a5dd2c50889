/**
 * `genie-ts inspect` of QNN ctx-bins reads QnnSystem's binary info alone: on the simulated provider
 * the report of a qnn-htp config equals the Reference backend's report of the same bundle and its
 * graphs those the full QnnHtp backend retrieves, while no backend, device or context is created
 * and no handle is left; a missing libQnnSystem (the backend library missing too) and truncated or
 * corrupt ctx-bins exit 1 naming what is wrong.
 */
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeDemoBundle } from '../../src/demo/index.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { parseGraphSpecsJson } from '../../src/graphs/spec-json.js';
import { openQnnHtpBackend } from '../../src/runtime/backend-factory.js';
import { inspectFile } from '../../src/runtime/inspect/inspect.js';
import { createSimulatedQnn, type SimulatedQnn } from '../../src/simulator/index.js';
import { cli, tempDir } from './fixtures.js';

const OPTIONS = { layers: 2, hidden: 16, heads: 2, kvHeads: 1, ar: [1, 4], cl: 32, seed: 9, splits: 2, quant: 'htp' } as const;
const ENV_KEYS = ['GENIE_TS_QNN_PROVIDER', 'GENIE_TS_QNN_BACKEND_LIB', 'GENIE_TS_QNN_SYSTEM_LIB', 'LD_LIBRARY_PATH'] as const;

/** Runs the CLI with these environment variables set (the others of ENV_KEYS unset), then restores them. */
async function cliWithEnv(args: string[], env: Partial<Record<(typeof ENV_KEYS)[number], string>>): Promise<Awaited<ReturnType<typeof cli>>> {
  const saved = ENV_KEYS.map((key) => [key, process.env[key]] as const);
  for (const key of ENV_KEYS) {
    if (env[key] === undefined) delete process.env[key];
    else process.env[key] = env[key];
  }
  try {
    return await cli(args);
  } finally {
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

describe('genie-ts inspect of QNN ctx-bins through QnnSystem', () => {
  const root = tempDir('cli-inspect-qnn');
  let referenceConfig: string;
  let qnnConfig: string;
  let qnnCtxBins: string[];
  const sims: SimulatedQnn[] = [];
  const simulated = (): SimulatedQnn => {
    const sim = createSimulatedQnn();
    sims.push(sim);
    return sim;
  };
  afterEach(() => {
    for (const sim of sims.splice(0)) sim.dispose();
  });

  beforeAll(async () => {
    referenceConfig = (await writeDemoBundle(join(root, 'reference'), OPTIONS)).configPath;
    qnnConfig = (await writeDemoBundle(join(root, 'qnn'), { ...OPTIONS, backend: 'qnn-htp' })).configPath;
    qnnCtxBins = [1, 2].map((i) => join(root, 'qnn', `demo_part_${i}_of_2.safetensors`));
  }, 120_000);

  it('a qnn-htp config: the Reference report of the same bundle, the graphs QnnHtp retrieves, no context created', async () => {
    const sim = simulated();
    const report = await inspectFile(qnnConfig, { qnn: { simulated: sim } });
    expect(sim.liveHandles()).toBe(0);
    const none = ['interfaceGetProviders', 'backendCreate', 'deviceCreate', 'contextCreateFromBinary', 'graphRetrieve'];
    expect(none.map((name) => sim.calls(name))).toEqual(none.map(() => 0));
    expect([sim.calls('systemContextCreate'), sim.calls('systemContextFree')]).toEqual([2, 2]);

    const reference = await inspectFile(referenceConfig);
    expect([report.kind, report.backend, reference.backend]).toEqual(['genie-config', 'QnnHtp', 'reference']);
    const strip = ({ file: _file, backend: _backend, ...rest }: typeof report): object => rest;
    expect(strip(report)).toEqual(strip(reference));
    expect(report.layout).not.toBeNull();

    // What inspect read before: every graph through a full QnnHtp session (contexts, retrieved graphs).
    const full = simulated();
    const backend = await openQnnHtpBackend(qnnCtxBins, { simulated: full });
    try {
      expect(parseGraphSpecsJson(JSON.stringify(report), 'report')).toEqual(backend.graphs);
      expect(full.calls('contextCreateFromBinary')).toBe(2);
    } finally {
      await backend.dispose();
    }
  });

  it('the CLI with GENIE_TS_QNN_PROVIDER=simulated: the same JSON as through the library', async () => {
    const run = await cliWithEnv(['inspect', qnnConfig, '--json'], { GENIE_TS_QNN_PROVIDER: 'simulated' });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const sim = simulated();
    expect(JSON.parse(run.stdout)).toEqual(JSON.parse(JSON.stringify(await inspectFile(qnnConfig, { qnn: { simulated: sim } }))));
  });

  it('libQnnSystem missing (and libQnnHtp too): exit 1 naming libQnnSystem only', async () => {
    const empty = tempDir('cli-inspect-no-qnn');
    const corrupt = join(root, 'model.bin');
    writeFileSync(corrupt, 'a QNN context binary needs QnnSystem to be read');
    const backendLib = join(empty, 'libQnnHtp.so');
    const run = await cliWithEnv(['inspect', corrupt], { GENIE_TS_QNN_BACKEND_LIB: backendLib, LD_LIBRARY_PATH: empty });
    expect([run.code, run.stdout]).toEqual([1, '']);
    expect(run.stderr).toMatch(new RegExp(`^genie-ts inspect: QNN system library "libQnnSystem\\.so" not found; looked in: ${empty}/libQnnSystem\\.so, `));
    const systemLib = join(empty, 'libQnnSystem.so');
    expect(await cliWithEnv(['inspect', qnnConfig], { GENIE_TS_QNN_BACKEND_LIB: backendLib, GENIE_TS_QNN_SYSTEM_LIB: systemLib })).toEqual({
      code: 1,
      stdout: '',
      stderr: `genie-ts inspect: QNN system library not found: environment GENIE_TS_QNN_SYSTEM_LIB "${systemLib}" does not exist\n`,
    });
  });

  it('a corrupt ctx-bin, or a config whose ctx-bin is truncated: exit 1 naming the file', async () => {
    const corrupt = join(root, 'corrupt.bin');
    writeFileSync(corrupt, Buffer.from([0x51, 0x4e, 0x4e, 0x00, 0xff, 0x13, 0x37]));
    const malformed = (file: string): string =>
      `genie-ts inspect: systemContextGetMetaData("${file}") failed with QNN error 30010 (SYSTEM_CONTEXT_MALFORMED_BINARY)\n`;
    expect(await cliWithEnv(['inspect', corrupt], { GENIE_TS_QNN_PROVIDER: 'simulated' })).toEqual({ code: 1, stdout: '', stderr: malformed(corrupt) });

    const bundle = await writeDemoBundle(join(root, 'truncated'), { ...OPTIONS, backend: 'qnn-htp' });
    const second = join(bundle.dir, 'demo_part_2_of_2.safetensors');
    truncateSync(second, readFileSync(second).length - 100);
    expect(await cliWithEnv(['inspect', bundle.configPath], { GENIE_TS_QNN_PROVIDER: 'simulated' })).toEqual({
      code: 1, stdout: '', stderr: malformed(second),
    });
  }, 60_000);

  it('inspectFile rejects QnnHtp options that reading binary info would ignore', async () => {
    await expect(inspectFile(qnnConfig, { qnn: { logLevel: 'info' } as never })).rejects.toThrow(
      new InvalidArgumentError('inspectFile options.qnn: unknown option "logLevel" (known: provider, simulated, simulatedOptions, systemLibrary, env)'),
    );
    await expect(inspectFile(qnnConfig, { backend: {} } as never)).rejects.toThrow(
      new InvalidArgumentError('inspectFile options: unknown option "backend" (known: qnn)'),
    );
  });
});
