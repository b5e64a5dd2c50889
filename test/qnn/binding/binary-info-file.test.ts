/**
 * Context binaries' graphs through libQnnSystem alone (readContextBinaryInfos, readQnnGraphSpecs)
 * on the simulated provider: the graphs against the reference ctx-bin parser at every GraphInfo
 * layout (SDK strides 48, 64, 88), no backend, device or context created, no core provider even
 * listed, every handle released on every path; bad binaries, bad providers and a missing or
 * broken libQnnSystem give typed errors naming what is wrong.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readQnnGraphSpecs } from '../../../src/backends/qnn/index.js';
import { readCtxBinGraphs } from '../../../src/backends/reference/index.js';
import { writeDemoBundle } from '../../../src/demo/index.js';
import type { GraphSpec } from '../../../src/graphs/spec.js';
import { QnnError } from '../../../src/qnn/errors.js';
import {
  QnnContextBinaryError,
  QnnLibraryLoadError,
  QnnLibraryNotFoundError,
  QnnProviderError,
  readContextBinaryInfos,
  systemProviderSourceFromPointer,
} from '../../../src/qnn/binding/index.js';
import { fileMappingSystem, type FileMappingSystem } from '../../../src/qnn/binding/file-mapping.js';
import { createSimulatedQnn, type SimulatedQnn, type SimulatedQnnOptions } from '../../../src/simulator/index.js';
import { InvalidArgumentError } from '../../../src/errors.js';
import { tempDir } from '../../backends/reference/fixtures.js';

const dir = tempDir('qnn-binary-info-file');
let parts: string[];
let oracle: GraphSpec[];

beforeAll(async () => {
  const options = { layers: 2, hidden: 16, heads: 2, kvHeads: 1, ar: [1, 4], cl: 32, seed: 3, splits: 2, quant: 'htp' } as const;
  const bundle = await writeDemoBundle(join(dir, 'bundle'), options);
  parts = [1, 2].map((i) => join(bundle.dir, `demo_part_${i}_of_2.safetensors`));
  oracle = parts.flatMap((file, ctxBin) => readCtxBinGraphs(new Uint8Array(readFileSync(file)), file).map((g) => ({ ...g, ctxBin })));
}, 60_000);

const opened: SimulatedQnn[] = [];
afterEach(() => {
  for (const sim of opened.splice(0)) sim.dispose();
});

function simulated(options?: SimulatedQnnOptions): SimulatedQnn {
  const sim = createSimulatedQnn(options);
  opened.push(sim);
  return sim;
}

/** The platform's file mapping, counting maps and the addresses still mapped. */
function countingMapping(): { system: FileMappingSystem; live: Set<bigint>; maps: () => number } {
  const base = fileMappingSystem();
  const live = new Set<bigint>();
  let maps = 0;
  const system: FileMappingSystem = {
    map(path, size) {
      const address = base.map(path, size);
      maps++;
      live.add(address);
      return address;
    },
    unmap(address, size) {
      base.unmap(address, size);
      live.delete(address);
    },
  };
  return { system, live, maps: () => maps };
}

/** Only the system side of the provider was used, and nothing of it is left alive. */
function expectSystemOnly(sim: SimulatedQnn, systemContexts: number): void {
  const coreCalls = ['interfaceGetProviders', 'backendCreate', 'deviceCreate', 'contextCreateFromBinary', 'graphRetrieve'];
  expect(coreCalls.map((name) => sim.calls(name))).toEqual(coreCalls.map(() => 0));
  expect([sim.calls('systemContextCreate'), sim.calls('systemContextFree')]).toEqual([systemContexts, systemContexts]);
  expect(sim.liveHandles()).toBe(0);
}

describe('readQnnGraphSpecs / readContextBinaryInfos on the simulated provider', () => {
  const layouts: [string, SimulatedQnnOptions][] = [
    ['SDK 2.43 (core API 2.32, BinaryInfo V3, stride 88)', {}],
    ['SDK 2.24 (core API 2.17, BinaryInfo V2, stride 64)', { coreApiVersion: { major: 2, minor: 17, patch: 0 } }],
    ['SDK 2.20 (core API 2.14, BinaryInfo V1, stride 48, system API 1.1)', {
      coreApiVersion: { major: 2, minor: 14, patch: 0 }, systemApiVersion: { major: 1, minor: 1, patch: 0 },
    }],
  ];
  for (const [label, options] of layouts) {
    it(`${label}: the graphs of both ctx-bins as the reference parser reads them, no context created`, async () => {
      const sim = simulated(options);
      const graphs = await readQnnGraphSpecs(parts, { simulated: sim });
      expect(graphs).toEqual(oracle);
      expect(graphs.some((g) => g.inputs.some((t) => t.encoding !== undefined))).toBe(true);
      expectSystemOnly(sim, parts.length);
    });
  }

  it('the binary info itself: its version, core API and build id as the provider reports them', async () => {
    const sim = simulated({ coreApiVersion: { major: 2, minor: 17, patch: 0 } });
    const source = systemProviderSourceFromPointer('sim', sim.systemInterfaceGetProviders);
    const [first, second] = await readContextBinaryInfos(source, parts);
    expect([first.version, first.coreApiVersion, first.buildId]).toEqual([2, { major: 2, minor: 17, patch: 0 }, 'v2.24.0.genie-ts-simulated']);
    expect(second.graphs.map((g) => g.name)).toEqual(oracle.filter((g) => g.ctxBin === 1).map((g) => g.name));
    expectSystemOnly(sim, 2);
  });

  it('read instead of mapped (no file mapping on the platform): the same binary info', async () => {
    const sim = simulated();
    const source = systemProviderSourceFromPointer('sim', sim.systemInterfaceGetProviders);
    const mapping = countingMapping();
    const mapped = await readContextBinaryInfos(source, parts, mapping.system);
    expect(mapping.maps()).toBe(2);
    expect(await readContextBinaryInfos(source, parts, null)).toEqual(mapped);
    expect(mapping.maps()).toBe(2);
    expectSystemOnly(sim, 4);
  });

  it('a truncated or corrupt ctx-bin: QnnSystem rejects it, the error names the file, nothing stays alive or mapped', async () => {
    const bytes = readFileSync(parts[0]);
    const truncated = join(dir, 'truncated.bin');
    writeFileSync(truncated, bytes.subarray(0, bytes.length >> 1));
    const corrupt = join(dir, 'corrupt.bin');
    writeFileSync(corrupt, Buffer.from('this is not a context binary at all'));
    for (const file of [truncated, corrupt]) {
      const sim = simulated();
      const mapping = countingMapping();
      const source = systemProviderSourceFromPointer('sim', sim.systemInterfaceGetProviders);
      const error = await readContextBinaryInfos(source, [parts[0], file], mapping.system).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(QnnError);
      expect((error as Error).message).toBe(`systemContextGetMetaData("${file}") failed with QNN error 30010 (SYSTEM_CONTEXT_MALFORMED_BINARY)`);
      expect([mapping.maps(), mapping.live.size]).toEqual([2, 0]);
      expectSystemOnly(sim, 2);
    }
  });

  it('an empty, missing or duplicate ctx-bin: QnnContextBinaryError naming it, nothing stays alive or mapped', async () => {
    const empty = join(dir, 'empty.bin');
    writeFileSync(empty, '');
    const missing = join(dir, 'missing.bin');
    const cases: [string[], string, number][] = [
      [[parts[0], empty], `context binary "${empty}" is empty`, 1],
      [[missing], `context binary "${missing}" cannot be opened: ENOENT`, 0],
      [[parts[0], parts[0]], `context binary "${parts[0]}": graph "${oracle[0].name}" is listed also in "${parts[0]}"`, 2],
    ];
    for (const [paths, message, systemContexts] of cases) {
      const sim = simulated();
      const mapping = countingMapping();
      const source = systemProviderSourceFromPointer('sim', sim.systemInterfaceGetProviders);
      const error = await readContextBinaryInfos(source, paths, mapping.system).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(QnnContextBinaryError);
      expect((error as Error).message).toContain(message);
      expect([mapping.maps(), mapping.live.size]).toEqual([systemContexts, 0]);
      expectSystemOnly(sim, systemContexts);
    }
  });

  it('a provider with system API 1.0 only: refused before any call', async () => {
    const sim = simulated({ systemApiVersion: { major: 1, minor: 0, patch: 0 } });
    const error = await readQnnGraphSpecs(parts, { simulated: sim }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QnnProviderError);
    expect((error as Error).message).toBe(
      'QnnSystem (simulated QNN system provider): no provider with system API 1.x >= 1.1 (the oldest this binding supports); ' +
        'it offers SYSTEM_QTI_AISW (backend id 0) with system API 1.0.0',
    );
    expectSystemOnly(sim, 0);
  });

  it('bad options: no paths, provider "simulated" without one, simulated with provider "native"', async () => {
    await expect(readQnnGraphSpecs([], { simulated: simulated() })).rejects.toThrow(
      new InvalidArgumentError('readQnnGraphSpecs: ctxBinPaths is empty'),
    );
    await expect(readQnnGraphSpecs(parts, { provider: 'simulated' })).rejects.toThrow(
      /^readQnnGraphSpecs: provider "simulated" \(option provider or GENIE_TS_QNN_PROVIDER\) needs a simulated provider/,
    );
    await expect(readQnnGraphSpecs(parts, { provider: 'native', simulated: simulated() })).rejects.toThrow(
      'readQnnGraphSpecs: option simulated contradicts provider "native"',
    );
  });
});

describe('readQnnGraphSpecs with the native provider needs libQnnSystem only', () => {
  const noLibs = tempDir('qnn-no-libs');
  // A backend library that does not exist: reading binary info must not even look for it.
  const env = { GENIE_TS_QNN_BACKEND_LIB: join(noLibs, 'libQnnHtp.so') };

  it('libQnnSystem missing from the search path: QnnLibraryNotFoundError listing where it looked', async () => {
    const error = await readQnnGraphSpecs(parts, { provider: 'native', env: { ...env, LD_LIBRARY_PATH: noLibs } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QnnLibraryNotFoundError);
    expect((error as Error).message).toMatch(
      new RegExp(`^QNN system library "libQnnSystem\\.so" not found; looked in: ${noLibs}/libQnnSystem\\.so, `),
    );
  });

  it('GENIE_TS_QNN_SYSTEM_LIB or option systemLibrary naming a file that is not there: the error names it', async () => {
    const path = join(noLibs, 'libQnnSystem.so');
    await expect(readQnnGraphSpecs(parts, { env: { ...env, GENIE_TS_QNN_SYSTEM_LIB: path } })).rejects.toThrow(
      new QnnLibraryNotFoundError(`QNN system library not found: environment GENIE_TS_QNN_SYSTEM_LIB "${path}" does not exist`, [path]),
    );
    await expect(readQnnGraphSpecs(parts, { env, systemLibrary: path })).rejects.toThrow(
      `QNN system library not found: option systemLibrary "${path}" does not exist`,
    );
  });

  it('a libQnnSystem that is not a shared library: QnnLibraryLoadError naming the file', async () => {
    const fake = join(noLibs, 'not-a-library.so');
    writeFileSync(fake, 'not ELF');
    const error = await readQnnGraphSpecs(parts, { env, systemLibrary: fake }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QnnLibraryLoadError);
    expect((error as Error).message).toContain(`"${fake}"`);
  });
});
