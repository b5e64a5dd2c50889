import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  HtpExtensionsError,
  QNN_PROVIDER_ENV,
  readHtpExtensions,
  resolveQnnBackendOptions,
  resolveQnnProvider,
  type QnnBackendOptions,
  type SimulatedQnnProvider,
} from '../../../src/backends/qnn/index.js';
import { InvalidArgumentError, NotSupportedError } from '../../../src/errors.js';
import { tempDir } from '../reference/fixtures.js';

const dir = tempDir('qnn-options');

async function extensionsFile(name: string, content: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('readHtpExtensions', () => {
  it('reads perf_profile and rpc_control_latency of the first core of the first device', async () => {
    const path = await extensionsFile('ext.json', {
      devices: [{ soc_model: 57, dsp_arch: 'v75', cores: [{ core_id: 0, perf_profile: 'burst', rpc_control_latency: 100 }] }],
      memory: { mem_type: 'shared_buffer' },
    });
    expect(await readHtpExtensions(path)).toEqual({ perfProfile: 'burst', rpcControlLatencyUs: 100 });
    expect(await readHtpExtensions(await extensionsFile('empty.json', { context: { weight_sharing_enabled: true } }))).toEqual({});
  });

  it('names the file and key of a bad value, and a missing or broken file', async () => {
    const bad = await extensionsFile('bad.json', { devices: [{ cores: [{ rpc_control_latency: -5 }] }] });
    await expect(readHtpExtensions(bad)).rejects.toThrow(HtpExtensionsError);
    await expect(readHtpExtensions(bad)).rejects.toThrow(
      `HTP extensions file "${bad}": key devices[0].cores[0].rpc_control_latency -5 is not a non-negative integer (microseconds)`,
    );
    const notArray = await extensionsFile('cores.json', { devices: [{ cores: { perf_profile: 'burst' } }] });
    await expect(readHtpExtensions(notArray)).rejects.toThrow('key devices[0].cores {"perf_profile":"burst"} is not an array');
    const list = await extensionsFile('list.json', [1]);
    await expect(readHtpExtensions(list)).rejects.toThrow(`HTP extensions file "${list}": key (top level) [1] is not a JSON object`);
    const broken = await extensionsFile('broken.json', '{"devices": [');
    await expect(readHtpExtensions(broken)).rejects.toThrow(`HTP extensions file "${broken}" is not valid JSON`);
    const missing = join(dir, 'missing.json');
    await expect(readHtpExtensions(missing)).rejects.toThrow(`HTP extensions file "${missing}" cannot be read: ENOENT`);
  });
});

describe('resolveQnnBackendOptions', () => {
  const resolve = (options: QnnBackendOptions, extensions = {}) => resolveQnnBackendOptions({ env: {}, ...options }, extensions);

  /** Only the provider's shape (non-NULL pointers, dispose): resolving options reads no pointer. */
  const simulated: SimulatedQnnProvider = { interfaceGetProviders: 1n, systemInterfaceGetProviders: 1n, dispose: () => undefined };

  it('picks the provider from the option, a simulated instance, the environment, else native', () => {
    expect(resolve({}).provider).toBe('native');
    expect(resolveQnnProvider({}, { [QNN_PROVIDER_ENV]: 'simulated' })).toBe('simulated');
    expect(resolve({ env: { [QNN_PROVIDER_ENV]: 'simulated' }, simulated }).provider).toBe('simulated');
    expect(resolve({ provider: 'native', env: { [QNN_PROVIDER_ENV]: 'simulated' } }).provider).toBe('native');
    expect(resolve({ simulated }).provider).toBe('simulated');
    expect(() => resolve({ env: { [QNN_PROVIDER_ENV]: 'fake' } })).toThrow(InvalidArgumentError);
    expect(() => resolve({ env: { [QNN_PROVIDER_ENV]: 'fake' } })).toThrow(
      `openQnnBackend: environment ${QNN_PROVIDER_ENV}="fake" is not one of native, simulated`,
    );
    expect(() => resolve({ provider: 'native', simulated })).toThrow('openQnnBackend: option simulated contradicts provider "native"');
  });

  it('rejects the simulated provider without a provider instance: the backend factory creates it', () => {
    for (const options of [{ provider: 'simulated' as const }, { env: { [QNN_PROVIDER_ENV]: 'simulated' } }]) {
      expect(() => resolve(options)).toThrow(InvalidArgumentError);
      expect(() => resolve(options)).toThrow(
        `openQnnBackend: provider "simulated" (option provider or ${QNN_PROVIDER_ENV}) needs a simulated provider in option simulated`,
      );
    }
  });

  it('votes the extensions file perf profile unless the API option overrides it; latency defaults to 100 us', () => {
    expect(resolve({}, { perfProfile: 'burst', rpcControlLatencyUs: 250 }).perf).toEqual({
      profile: 'burst',
      rpcControlLatencyUs: 250,
      rpcPollingTimeUs: 9999,
    });
    expect(resolve({ perfProfile: 'high_performance' }, { perfProfile: 'burst' }).perf).toEqual({
      profile: 'high_performance',
      rpcControlLatencyUs: 100,
      rpcPollingTimeUs: 9999,
    });
    expect(resolve({}).perf).toBeUndefined();
  });

  it('rejects unknown values naming the option or file key', () => {
    expect(() => resolve({ logLevel: 'loud' as never })).toThrow('openQnnBackend: option logLevel "loud" is not one of error, warn, info, verbose');
    expect(() => resolve({ profiling: 'full' as never })).toThrow('openQnnBackend: option profiling "full" is not one of basic, detailed');
    expect(() => resolve({ executeMode: 'eager' as never })).toThrow('openQnnBackend: option executeMode "eager" is not "async", "sync" or "queued"');
    expect(() => resolve({ poll: 'yes' as never })).toThrow('openQnnBackend: option poll "yes" is not a boolean');
    expect(() => resolve({ rpcControlLatencyUs: -1 })).toThrow('openQnnBackend: option rpcControlLatencyUs -1 is not a non-negative integer');
    expect(() => resolve({ htp: { spillFillBufsize: -3 } })).toThrow('openQnnBackend: option htp.spillFillBufsize -3 is not a non-negative integer');
    expect(() => resolve({ perfProfile: 'turbo' as never })).toThrow(NotSupportedError);
    expect(() => resolve({ perfProfile: 'turbo' as never })).toThrow(
      'option perfProfile: perf profile "turbo" is not supported (supported: burst, sustained_high_performance, high_performance)',
    );
    expect(() => resolve({ extensionsPath: '/cfg/ext.json' }, { perfProfile: 'balanced' })).toThrow(
      'HTP extensions file "/cfg/ext.json" key devices[0].cores[0].perf_profile: perf profile "balanced" is not supported',
    );
  });

  it('keeps the QnnHtp settings set to a value (the backend factory picks them from a derived config)', () => {
    const settings = { spillFillBufsize: 320000000, mmapBudget: 0, useMmap: true, enableGraphSwitching: false };
    expect(resolve({ htp: settings }).htp).toStrictEqual(settings);
    expect(resolve({ htp: { useMmap: true, mmapBudget: undefined } }).htp).toStrictEqual({ useMmap: true });
    expect(resolve({ htp: null }).htp).toEqual({});
  });
});
