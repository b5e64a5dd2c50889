/**
 * Error paths of the binding and the QnnHtp backend on the simulated provider: each asserts the
 * error class and message, and that the backend stays usable (or everything was freed).
 */
import { truncate, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openQnnBackend, type QnnGraphBackend } from '../../../src/backends/qnn/index.js';
import { InvalidArgumentError } from '../../../src/errors.js';
import {
  ForeignBufferError,
  QnnContextBinaryError,
  QnnCoreApi,
  QnnDisposedError,
  QnnFunctionUnavailableError,
  QnnGraphNotBoundError,
  QnnLibraryNotFoundError,
  QnnProviderError,
  providerSourceFromPointers,
  selectInterfaceProvider,
} from '../../../src/qnn/binding/index.js';
import { QnnError } from '../../../src/qnn/index.js';
import { createSimulatedQnn, type SimulatedQnn, type SimulatedQnnOptions } from '../../../src/simulator/index.js';
import { KvLoopDriver } from '../reference/kv-loop-driver.js';
import { CONTINUATION, PROMPT, config, writeBundle } from './bundle.js';

let dir: string;
let paths: string[];
const TOKEN = 'token_ar1_cl16_2_of_2';

beforeAll(async () => {
  ({ dir, paths } = await writeBundle('qnn-errors'));
});

const sims: SimulatedQnn[] = [];
function sim(options?: SimulatedQnnOptions): SimulatedQnn {
  const created = createSimulatedQnn(options);
  sims.push(created);
  return created;
}
afterAll(() => sims.forEach((s) => s.dispose()));

/** The backend still runs the KV loop (only the AR-1 graphs with `decodeOnly`). */
async function expectUsable(backend: QnnGraphBackend, decodeOnly = false): Promise<void> {
  const driver = new KvLoopDriver(backend, config);
  const rows = decodeOnly ? await driver.run([], PROMPT, 4, 1) : await driver.run(PROMPT, CONTINUATION, 4, 1);
  expect(rows).toHaveLength(decodeOnly ? PROMPT.length : PROMPT.length + CONTINUATION.length);
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('provider selection and function tables', () => {
  it('skips providers with another core API major and picks the supported one', async () => {
    const provider = sim({ extraProviders: [{ backendId: 3, coreApiVersion: { major: 1, minor: 40, patch: 0 } }] });
    const backend = await openQnnBackend(paths, { simulated: provider });
    await expectUsable(backend);
    await backend.dispose();
    expect(provider.liveHandles()).toBe(0);
  });

  it('names both versions when the API is too old', async () => {
    const provider = sim({ coreApiVersion: { major: 2, minor: 12, patch: 1 } });
    const error = await rejection(openQnnBackend(paths, { simulated: provider }));
    expect(error).toBeInstanceOf(QnnProviderError);
    expect(error.message).toBe(
      'QNN backend (simulated QNN HTP provider): no provider with core API 2.x >= 2.14 (the oldest this binding supports); ' +
        'it offers HTP_QTI_AISW (backend id 6) with core API 2.12.1',
    );
    const oldSystem = sim({ systemApiVersion: { major: 1, minor: 0, patch: 0 } });
    await expect(openQnnBackend(paths, { simulated: oldSystem })).rejects.toThrow(
      'QnnSystem (simulated QNN HTP provider): no provider with system API 1.x >= 1.1 (the oldest this binding supports); ' +
        'it offers SYSTEM_QTI_AISW (backend id 0) with system API 1.0.0',
    );
    expect(provider.liveHandles() + oldSystem.liveHandles()).toBe(0);
  });

  it('treats a NULL slot as not supported: optional functions are skipped, required ones name themselves', async () => {
    const optional = sim({ nullSlots: ['deviceGetPlatformInfo', 'errorGetMessage', 'profileCreate'] });
    const backend = await openQnnBackend(paths, { simulated: optional });
    expect(backend.devices).toBeNull();
    await expectUsable(backend);
    await backend.dispose();
    await expect(openQnnBackend(paths, { simulated: optional, profiling: 'basic' })).rejects.toThrow(
      'QNN function profileCreate is not supported by this backend (HTP_QTI_AISW): its table slot 28 is NULL in core API 2.32.0',
    );
    const required = sim({ nullSlots: ['graphExecute'] });
    const error = await rejection(openQnnBackend(paths, { simulated: required }));
    expect(error).toBeInstanceOf(QnnFunctionUnavailableError);
    expect((error as QnnFunctionUnavailableError).functionName).toBe('graphExecute');
    expect(error.message).toBe('QNN function graphExecute is not supported by this backend (HTP_QTI_AISW): its table slot 21 is NULL in core API 2.32.0');
    expect(optional.liveHandles() + required.liveHandles()).toBe(0);
  });

  it('reads only the slots valid for the provider minor (55 at core API 2.14, all 71 at 2.32)', () => {
    for (const [minor, count] of [[14, 55], [32, 71]] as const) {
      const provider = sim({ coreApiVersion: { major: 2, minor, patch: 0 } });
      const source = providerSourceFromPointers('sim', provider.interfaceGetProviders, provider.systemInterfaceGetProviders);
      const core = new QnnCoreApi(selectInterfaceProvider(source));
      expect(core.slotCount).toBe(count);
      expect(core.has('graphExecute')).toBe(true);
    }
  });
});

describe('loading errors', () => {
  it('lists where it looked for a missing library', async () => {
    const error = await rejection(openQnnBackend(paths, { provider: 'native', env: { LD_LIBRARY_PATH: '/opt/none' } }));
    expect(error).toBeInstanceOf(QnnLibraryNotFoundError);
    expect(error.message).toMatch(/^QNN backend library "lib(QnnHtp)\.so" not found; looked in: \/opt\/none\/libQnnHtp\.so, /);
    await expect(openQnnBackend(paths, { provider: 'native', backendLibrary: join(dir, 'libQnnHtp.so'), env: {} })).rejects.toThrow(
      `QNN backend library not found: option backendLibrary "${join(dir, 'libQnnHtp.so')}" does not exist`,
    );
  });

  it('names a missing context binary and frees what was created', async () => {
    const provider = sim();
    const missing = join(dir, 'missing.bin');
    const error = await rejection(openQnnBackend([paths[0], missing], { simulated: provider }));
    expect(error).toBeInstanceOf(QnnContextBinaryError);
    expect(error.message).toMatch(new RegExp(`^context binary "${missing}" cannot be opened: ENOENT`));
    expect(provider.liveHandles()).toBe(0);
  });

  it('reports a truncated context binary as a QNN error naming the file, and frees everything', async () => {
    const provider = sim();
    const truncated = join(dir, 'truncated.bin');
    await copyFile(paths[1], truncated);
    await truncate(truncated, 200);
    const error = await rejection(openQnnBackend([paths[0], truncated], { simulated: provider }));
    expect(error).toBeInstanceOf(QnnError);
    expect(error.message).toContain(`systemContextGetMetaData("${truncated}") failed with QNN error`);
    expect(provider.liveHandles()).toBe(0);
    const empty = join(dir, 'empty.bin');
    await truncate(truncated, 0).then(() => copyFile(truncated, empty));
    await expect(openQnnBackend([empty], { simulated: provider })).rejects.toThrow(`context binary "${empty}" is empty`);
  });

  it('rejects the same graph in two context binaries', async () => {
    const provider = sim();
    const error = await rejection(openQnnBackend([paths[0], paths[0]], { simulated: provider }));
    expect(error).toBeInstanceOf(QnnContextBinaryError);
    expect(error.message).toBe(`context binary "${paths[0]}": graph "token_ar1_cl16_1_of_2" is listed also in "${paths[0]}"`);
    expect(provider.liveHandles()).toBe(0);
  });

  it('refuses sync execute with a log callback (backend threads would deadlock)', async () => {
    await expect(openQnnBackend(paths, { simulated: sim(), executeMode: 'sync', logLevel: 'error' })).rejects.toThrow(
      /^QnnSession.open: executeMode "sync" cannot be combined with logLevel/,
    );
  });
});

describe('graph, buffer and execute errors', () => {
  let provider: SimulatedQnn;
  let backend: QnnGraphBackend;
  beforeAll(async () => {
    provider = sim({ failExecute: { graph: 'prompt_ar4_cl16_2_of_2', code: 6004 } });
    backend = await openQnnBackend(paths, { simulated: provider });
  });
  afterAll(() => backend.dispose());

  const buffersFor = (graph: string, shrink?: string): Map<string, Uint8Array> => {
    const spec = backend.graphs.find((g) => g.name === graph)!;
    const map = new Map<string, Uint8Array>();
    for (const t of [...spec.inputs, ...spec.outputs]) {
      const bytes = t.shape.reduce((a, b) => a * b, 1) * 4;
      map.set(t.name, backend.allocate(t.name === shrink ? bytes - 4 : bytes));
    }
    return map;
  };

  it('names an unknown graph in bind and execute', async () => {
    expect(() => backend.bind('nope', new Map())).toThrow(InvalidArgumentError);
    expect(() => backend.bind('nope', new Map())).toThrow(
      'bind "nope": unknown graph "nope" (graphs: token_ar1_cl16_1_of_2, prompt_ar4_cl16_1_of_2, token_ar1_cl16_2_of_2, prompt_ar4_cl16_2_of_2)',
    );
    await expect(backend.execute('nope')).rejects.toThrow(InvalidArgumentError);
    await expect(backend.execute('nope')).rejects.toThrow('execute "nope": unknown graph "nope"');
    await expectUsable(backend, true);
  });

  it('refuses to execute a graph that was never bound', async () => {
    const fresh = await openQnnBackend(paths, { simulated: provider });
    await expect(fresh.execute(TOKEN)).rejects.toThrow(QnnGraphNotBoundError);
    await expect(fresh.execute(TOKEN)).rejects.toThrow(`execute "${TOKEN}": the graph's IO was never bound`);
    await expectUsable(fresh, true);
    await fresh.dispose();
  });

  it('catches a client buffer too small, a missing tensor and a foreign buffer before any native call', async () => {
    await expectUsable(backend, true);
    const executes = provider.calls('graphExecute');
    const registers = provider.calls('memRegister');
    expect(() => backend.bind(TOKEN, buffersFor(TOKEN, 'logits'))).toThrow(InvalidArgumentError);
    expect(() => backend.bind(TOKEN, buffersFor(TOKEN, 'logits'))).toThrow(
      `bind "${TOKEN}": buffer for tensor "logits" has ${1000 * 4 - 4} bytes, expected at least ${1000 * 4}`,
    );
    const missing = buffersFor(TOKEN);
    missing.delete('attention_mask');
    expect(() => backend.bind(TOKEN, missing)).toThrow(`bind "${TOKEN}": no buffer for tensor "attention_mask"`);
    const foreign = buffersFor(TOKEN);
    foreign.set('attention_mask', new Uint8Array(64));
    expect(() => backend.bind(TOKEN, foreign)).toThrow(ForeignBufferError);
    expect(() => backend.bind(TOKEN, foreign)).toThrow(`bind "${TOKEN}": buffer for tensor "attention_mask" is not memory from this backend's allocate()`);
    const misaligned = buffersFor(TOKEN);
    misaligned.set('attention_mask', backend.allocate(80).subarray(2, 66));
    expect(() => backend.bind(TOKEN, misaligned)).toThrow(`bind "${TOKEN}": buffer for tensor "attention_mask" starts at byte offset 2, not aligned to 4`);
    // The earlier binding still holds: the token graph executes on it.
    await backend.execute(TOKEN);
    expect(provider.calls('graphExecute')).toBe(executes + 1);
    expect(provider.calls('memRegister')).toBe(registers);
    await expectUsable(backend, true);
  });

  it('turns a failing execute into a QnnError with the QNN message and a hint', async () => {
    await expectUsable(backend, true);
    const error = await rejection(backend.execute('prompt_ar4_cl16_2_of_2'));
    expect(error).toBeInstanceOf(QnnError);
    const qnn = error as QnnError;
    expect(qnn.qnnCode).toBe(6004);
    expect(qnn.functionName).toBe('graphExecute("prompt_ar4_cl16_2_of_2")');
    expect(qnn.qnnMessage).toContain('graph "prompt_ar4_cl16_2_of_2" fails with 6004 (failExecute test hook)');
    expect(qnn.message).toMatch(
      /^graphExecute\("prompt_ar4_cl16_2_of_2"\) failed with QNN error 6004 \(GRAPH_INVALID_TENSOR\): .*failExecute test hook.*\. Hint: an input or output tensor does not match the graph/,
    );
    await backend.execute(TOKEN);
  });
});

describe('dispose', () => {
  it('is idempotent, frees every handle, and any later call throws QnnDisposedError', async () => {
    const provider = sim();
    const backend = await openQnnBackend(paths, { simulated: provider, perfProfile: 'burst', profiling: 'basic' });
    const driver = new KvLoopDriver(backend, config);
    await driver.run(PROMPT, [], 4, 1);
    await backend.dispose();
    await backend.dispose();
    expect(provider.liveHandles()).toBe(0);
    expect(() => backend.allocate(4)).toThrow(QnnDisposedError);
    expect(() => backend.allocate(4)).toThrow('allocate: the QNN session has been disposed');
    expect(() => backend.bind(TOKEN, new Map())).toThrow(`bind "${TOKEN}": the QNN session has been disposed`);
    await expect(backend.execute(TOKEN)).rejects.toThrow(QnnDisposedError);
    await expect(backend.execute(TOKEN)).rejects.toThrow(`execute "${TOKEN}": the QNN session has been disposed`);
    expect(() => backend.takeProfile()).toThrow('takeProfile: the QNN session has been disposed');
  });

  it('waits for a running execute before freeing', async () => {
    const provider = sim();
    const backend = await openQnnBackend(paths, { simulated: provider });
    new KvLoopDriver(backend, config);
    const running = backend.execute(TOKEN);
    const disposed = backend.dispose();
    await expect(running).resolves.toBeUndefined();
    await disposed;
    expect(provider.calls('graphExecute')).toBe(1);
    expect(provider.liveHandles()).toBe(0);
  });
});
