/**
 * Fuzzing QNN context-binary metadata on the simulated HTP provider: mutated reference ctx-bins go
 * through QnnSystem (`systemContextGetMetaData` / `GetBinaryInfo`: the simulator parses them and
 * writes a BinaryInfo V1, V2 or V3 into native memory) and the binding's decoder
 * (`readBinaryInfo`), and through a whole `openQnnBackend` (context creation from the binary
 * included). A simulator failure must be a QNN error the provider meant (never its internal-error
 * code), what the decoder returns must be what the reader parsed, and a failed open must leave no
 * live QNN handle.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import koffi from 'koffi';
import { afterAll, describe } from 'vitest';
import { openQnnBackend } from '../../../src/backends/qnn/index.js';
import { readCtxBinGraphs } from '../../../src/backends/reference/index.js';
import type { GenieError } from '../../../src/errors.js';
import {
  QnnSystemApi, providerSourceFromPointers, readBinaryInfo, selectSystemProvider,
} from '../../../src/qnn/binding/index.js';
import type { NativePointer } from '../../../src/qnn/binding/native.js';
import { QnnError, QnnErrorCode } from '../../../src/qnn/index.js';
import { createSimulatedQnn, type SimulatedQnn } from '../../../src/simulator/index.js';
import { dataTypeName } from '../../../src/tensor/dtype.js';
import { tempDir } from '../../backends/reference/fixtures.js';
import { ctxBinInputs, fuzzSeeds } from './ctx-bins.js';
import { fuzz } from './harness.js';

const seeds = await fuzzSeeds();
const inputs = ctxBinInputs(seeds.ctxBins);

/** One provider per BinaryInfo layout: V1 at core API 2.14, V2 at 2.20, V3 at 2.32. */
const LAYOUTS = [
  { binaryInfoVersion: 1, coreApiVersion: { major: 2, minor: 14, patch: 0 } },
  { binaryInfoVersion: 2, coreApiVersion: { major: 2, minor: 20, patch: 0 } },
  { binaryInfoVersion: 3, coreApiVersion: { major: 2, minor: 32, patch: 0 } },
] as const;
const sims: SimulatedQnn[] = LAYOUTS.map((layout) => createSimulatedQnn(layout));
afterAll(() => sims.forEach((sim) => sim.dispose()));
const systems = sims.map(
  (sim) => new QnnSystemApi(selectSystemProvider(providerSourceFromPointers('simulated', sim.interfaceGetProviders, sim.systemInterfaceGetProviders))),
);

/** A QnnError must be one the simulator meant, not its catch-all for an exception inside it. */
function meantByProvider(error: GenieError): string | undefined {
  if (error instanceof QnnError && error.qnnCode === QnnErrorCode.COMMON_GENERAL) return 'the simulated provider failed internally';
  return undefined;
}

describe('fuzz: QNN binary info on the simulated provider', () => {
  fuzz('readBinaryInfo (QnnSystem metadata and the binding decoder)', fc.tuple(inputs, fc.nat({ max: LAYOUTS.length - 1 })), ([bytes, which]) => {
    const length = Math.max(1, bytes.byteLength);
    const pointer = koffi.alloc('uint8_t', length) as NativePointer;
    try {
      new Uint8Array(koffi.view(pointer, length)).set(bytes);
      const info = readBinaryInfo(systems[which], pointer, bytes.byteLength, LAYOUTS[which].coreApiVersion.minor, 'fuzz.bin');
      // What QnnSystem described is what the reference reader parses from the same bytes.
      const expected = readCtxBinGraphs(bytes, 'fuzz.bin').map((graph) => ({
        name: graph.name,
        tensors: [...graph.inputs, ...graph.outputs].map((t) => [t.name, t.dtype, t.shape.join('x')].join(' ')),
      }));
      const decoded = info.graphs.map((graph) => ({
        name: graph.name,
        tensors: [...graph.inputs, ...graph.outputs].map((t) => [t.name, dataTypeName(t.dataType), t.dims.join('x')].join(' ')),
      }));
      if (JSON.stringify(decoded) !== JSON.stringify(expected)) {
        throw new Error(`decoded metadata differs from the reader's: ${JSON.stringify(decoded)} vs ${JSON.stringify(expected)}`);
      }
    } finally {
      koffi.free(pointer);
    }
  }, { runs: 500, bytes: ([bytes]) => bytes.byteLength, checkError: meantByProvider });

  const dir = tempDir('fuzz-qnn');
  let count = 0;
  fuzz('openQnnBackend on a mutated ctx-bin', fc.tuple(inputs, fc.nat({ max: LAYOUTS.length - 1 })), async ([bytes, which]) => {
    const path = join(dir, `part-${count++ % 4}.bin`);
    writeFileSync(path, bytes);
    const sim = sims[which];
    try {
      const backend = await openQnnBackend([path], { simulated: sim });
      await backend.dispose();
    } finally {
      if (sim.liveHandles() !== 0) throw new Error(`${sim.liveHandles()} QNN handles left live`);
    }
  }, { runs: 150, bytes: ([bytes]) => bytes.byteLength, checkError: meantByProvider });
});
