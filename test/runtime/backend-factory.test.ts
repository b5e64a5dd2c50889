/**
 * The backend factory's QnnHtp provider selection: it creates the simulated provider for
 * `provider: 'simulated'`, `simulatedOptions` or GENIE_TS_QNN_PROVIDER=simulated and hands it over to
 * the backend, which disposes it once; a provider the caller passes stays the caller's.
 */
import { join } from 'node:path';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { openReferenceBackend } from '../../src/backends/reference/index.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { openQnnHtpBackend } from '../../src/runtime/backend-factory.js';
import type { SimulatedQnn, SimulatedQnnOptions } from '../../src/simulator/index.js';
import { CONTINUATION, PROMPT, config, writeBundle } from '../backends/qnn/bundle.js';
import { KvLoopDriver } from '../backends/reference/kv-loop-driver.js';

/** Every provider the factory creates, with how often it was disposed. */
const created = vi.hoisted(() => [] as { options: unknown; disposals: number }[]);

vi.mock('../../src/simulator/index.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/simulator/index.js')>();
  return {
    ...actual,
    createSimulatedQnn: (options?: SimulatedQnnOptions): SimulatedQnn => {
      const provider = actual.createSimulatedQnn(options);
      const record = { options, disposals: 0 };
      created.push(record);
      return { ...provider, dispose: () => (record.disposals++, provider.dispose()) };
    },
  };
});

let dir: string;
let paths: string[];
let referenceRows: Float32Array[];

beforeAll(async () => {
  ({ dir, paths } = await writeBundle('backend-factory'));
  const reference = await openReferenceBackend(paths);
  referenceRows = await new KvLoopDriver(reference, config).run(PROMPT, CONTINUATION, 4, 1);
  await reference.dispose();
});
beforeEach(() => {
  created.length = 0;
});

const bytesOf = (rows: Float32Array[]) => rows.map((row) => Buffer.from(row.buffer, row.byteOffset, row.byteLength).toString('hex'));

describe('openQnnHtpBackend', () => {
  it('creates and disposes a provider of its own from provider: "simulated", simulatedOptions or GENIE_TS_QNN_PROVIDER', async () => {
    const selections = [
      { provider: 'simulated' as const },
      { env: { GENIE_TS_QNN_PROVIDER: 'simulated' } },
      { simulatedOptions: { coreApiVersion: { major: 2, minor: 14, patch: 0 } } },
    ];
    for (const options of selections) {
      created.length = 0;
      const backend = await openQnnHtpBackend(paths, options);
      expect(bytesOf(await new KvLoopDriver(backend, config).run(PROMPT, CONTINUATION, 4, 1))).toEqual(bytesOf(referenceRows));
      expect(created).toEqual([{ options: 'simulatedOptions' in options ? options.simulatedOptions : undefined, disposals: 0 }]);
      await backend.dispose();
      expect(created[0].disposals).toBe(1);
    }
  });

  it('disposes the provider it created when opening fails', async () => {
    await expect(openQnnHtpBackend([join(dir, 'missing.bin')], { provider: 'simulated' })).rejects.toThrow('missing.bin');
    expect(created).toEqual([{ options: undefined, disposals: 1 }]);
  });

  it('leaves a provider the caller passes alone', async () => {
    const { createSimulatedQnn } = await vi.importActual<typeof import('../../src/simulator/index.js')>('../../src/simulator/index.js');
    const provider = createSimulatedQnn();
    try {
      const backend = await openQnnHtpBackend(paths, { provider: 'simulated', simulated: provider });
      await backend.dispose();
      expect(created).toEqual([]);
      expect(provider.liveHandles()).toBe(0);
      const again = await openQnnHtpBackend(paths, { simulated: provider });
      await again.dispose();
    } finally {
      provider.dispose();
    }
  });

  it('rejects simulatedOptions next to provider "native" before creating anything', async () => {
    const opening = openQnnHtpBackend(paths, { provider: 'native', simulatedOptions: {} });
    await expect(opening).rejects.toThrow(InvalidArgumentError);
    await expect(opening).rejects.toThrow('openQnnBackend: option simulatedOptions contradicts provider "native"');
    expect(created).toEqual([]);
  });
});
