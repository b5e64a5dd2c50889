/**
 * `backend.qnn` options over a config's QnnHtp block: an option overrides exactly what it sets to a
 * value (`htp` key by key), so `{}`, `null` and options forwarded as undefined keep the config's
 * values; and a value of the wrong kind is an InvalidArgumentError naming the option and the value,
 * thrown before a provider is created or a ctx-bin read.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { writeDemoBundle, type DemoBundle } from '../../../src/demo/index.js';
import { InvalidArgumentError } from '../../../src/errors.js';
import { NativeContextBinary } from '../../../src/qnn/binding/context-binary.js';
import type { ExecutionQueueOptions } from '../../../src/qnn/binding/execution-queue.js';
import type { QnnHtpOptions } from '../../../src/runtime/backend-factory.js';
import { Dialog } from '../../../src/runtime/dialog.js';
import type { SimulatedQnn, SimulatedQnnOptions } from '../../../src/simulator/index.js';
import { tempDir } from '../../demo/fixtures.js';
import { simulatedProviders } from './bundle.js';

/** The `poll` of every execution queue a session creates (one per `queued` backend). */
const queuePolls = vi.hoisted(() => [] as boolean[]);
/** How many simulated providers were created (the tests' own included). */
const providers = vi.hoisted(() => ({ created: 0 }));

vi.mock('../../../src/qnn/binding/execution-queue.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../../src/qnn/binding/execution-queue.js')>();
  return {
    ...actual,
    createExecutionQueue: (options: ExecutionQueueOptions) => (queuePolls.push(options.poll), actual.createExecutionQueue(options)),
  };
});

vi.mock('../../../src/simulator/index.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../../src/simulator/index.js')>();
  return {
    ...actual,
    createSimulatedQnn: (options?: SimulatedQnnOptions): SimulatedQnn => (providers.created++, actual.createSimulatedQnn(options)),
  };
});

const root = tempDir('qnn-options-merge');
const SHAPE = { layers: 2, hidden: 8, heads: 2, kvHeads: 1, splits: 2, ar: [1, 4], cl: 16, seed: 7 } as const;
const QNN_HTP = { version: 1, 'spill-fill-bufsize': 0, 'mmap-budget': 0, 'use-mmap': true, 'cpu-mask': '0xe0', poll: true };
/** A burst vote: what the config's extensions file asks of the provider's perf infrastructure. */
const EXTENSIONS = { devices: [{ cores: [{ perf_profile: 'burst' }] }] };

let bundle: DemoBundle;
let ctxBinCount: number;
beforeAll(async () => {
  bundle = await writeDemoBundle(join(root, 'bundle'), SHAPE);
  writeFileSync(join(bundle.dir, 'htp_extensions.json'), JSON.stringify(EXTENSIONS));
  ctxBinCount = JSON.parse(readFileSync(bundle.configPath, 'utf8')).dialog.engine.model.binary['ctx-bins'].length;
});

const map = vi.spyOn(NativeContextBinary, 'map');
const read = vi.spyOn(NativeContextBinary, 'read');
beforeEach(() => {
  map.mockClear();
  read.mockClear();
  queuePolls.length = 0;
});

/** The bundle's config with the QnnHtp block (`use-mmap` and `poll` true, unless `block` says otherwise) and extensions file. */
function qnnConfig(block: object = {}): object {
  const config = JSON.parse(readFileSync(bundle.configPath, 'utf8'));
  config.dialog.engine.backend = { version: 1, type: 'QnnHtp', QnnHtp: { ...QNN_HTP, ...block }, extensions: 'htp_extensions.json' };
  return config;
}

const sim = simulatedProviders();

interface Applied {
  /** How the ctx-bins were loaded: every one mapped (use-mmap), every one read, or some of each. */
  readonly loads: 'mapped' | 'read' | 'mixed';
  /** The queued execution queue's `poll`. */
  readonly poll: boolean;
  /** Whether the extensions file's perf vote reached the provider. */
  readonly perfVote: boolean;
}

/** What a `queued` dialog on the simulated provider applied of the config under `qnn`. */
async function applied(qnn: QnnHtpOptions, block?: object): Promise<Applied> {
  const simulated = sim();
  const dialog = await Dialog.create(qnnConfig(block), {
    baseDir: bundle.dir,
    backend: { qnn: { provider: 'simulated', simulated, executeMode: 'queued', ...qnn } },
  });
  await dialog.dispose();
  expect(queuePolls).toHaveLength(1);
  expect(map.mock.calls.length + read.mock.calls.length).toBe(ctxBinCount);
  return {
    loads: read.mock.calls.length === 0 ? 'mapped' : map.mock.calls.length === 0 ? 'read' : 'mixed',
    poll: queuePolls[0],
    perfVote: simulated.perfCalls().some((call) => call.fn === 'setPowerConfig'),
  };
}

describe('backend.qnn over the config QnnHtp block (use-mmap true, poll true, an extensions file)', () => {
  const CONFIG: Applied = { loads: 'mapped', poll: true, perfVote: true };

  it.each<[string, QnnHtpOptions]>([
    ['no option', {}],
    ['htp {}', { htp: {} }],
    ['htp { spillFillBufsize: 0 } (another key)', { htp: { spillFillBufsize: 0 } }],
    ['htp null', { htp: null }],
    ['htp { useMmap: undefined }', { htp: { useMmap: undefined } }],
    ['poll, htp and extensionsPath undefined (forwarded optional settings)', { poll: undefined, htp: undefined, extensionsPath: undefined }],
  ])('%s keeps the config values', async (_, qnn) => {
    expect(await applied(qnn)).toEqual(CONFIG);
  });

  it.each<[string, QnnHtpOptions, object, Partial<Applied>]>([
    ['htp { useMmap: false }', { htp: { useMmap: false } }, {}, { loads: 'read' }],
    ['poll false', { poll: false }, {}, { poll: false }],
    ['extensionsPath null', { extensionsPath: null }, {}, { perfVote: false }],
    ['htp { useMmap: true } and poll true over a block with both false', { htp: { useMmap: true }, poll: true }, { 'use-mmap': false, poll: false }, {}],
  ])('%s overrides the config value it names, and only that', async (_, qnn, block, changed) => {
    expect(await applied(qnn, block)).toEqual({ ...CONFIG, ...changed });
  });
});

describe('backend.qnn values of the wrong kind', () => {
  const ALLOCATOR = '"auto", "off" or a SharedMemoryAllocator (alloc, free and fd functions, a name)';
  const PROVIDER = "a simulated provider (createSimulatedQnn's: interfaceGetProviders and systemInterfaceGetProviders pointers, a dispose function)";
  const SETTINGS = 'one of the QnnHtp settings (spillFillBufsize, mmapBudget, useMmap, enableGraphSwitching)';
  const SIM_OPTIONS =
    'one of the simulated provider options (coreApiVersion, systemApiVersion, nullSlots, extraProviders, failExecute, platform, binaryInfoVersion, graphInfoVersion, validateOnly)';

  /** [options, message after "openQnnBackend: option "]; a given provider instance is added unless the options name `simulated` or `simulatedOptions`. */
  it.each<[Record<string, unknown>, string]>([
    [{ provider: 'simulated', simulated: {} }, `simulated {} is not ${PROVIDER}`],
    [{ provider: 'simulated', simulated: 42 }, `simulated 42 is not ${PROVIDER}`],
    [{ provider: 'simulated', simulated: null }, `simulated null is not ${PROVIDER}`],
    [{ simulated: 'yes' }, `simulated "yes" is not ${PROVIDER}`],
    [{ simulated: { interfaceGetProviders: 0n, systemInterfaceGetProviders: 1n, dispose: () => undefined } }, `simulated {"interfaceGetProviders":"0n","systemInterfaceGetProviders":"1n"} is not ${PROVIDER}`],
    [{ sharedMemory: {} }, `sharedMemory {} is not ${ALLOCATOR}`],
    [{ sharedMemory: { alloc: 1 } }, `sharedMemory {"alloc":1} is not ${ALLOCATOR}`],
    [{ htp: 5 }, 'htp 5 is not an object of QnnHtp settings'],
    [{ htp: 'x' }, 'htp "x" is not an object of QnnHtp settings'],
    [{ htp: [true] }, 'htp [true] is not an object of QnnHtp settings'],
    [{ htp: { bogus: 1 } }, `htp.bogus 1 is not ${SETTINGS}`],
    [{ htp: { 'use-mmap': true } }, `htp.use-mmap true is not ${SETTINGS}`],
    [{ htp: { poll: 'x' } }, `htp.poll "x" is not ${SETTINGS}`],
    [{ htp: { useMmap: 'yes' } }, 'htp.useMmap "yes" is not a boolean'],
    [{ poll: 1n }, 'poll "1n" is not a boolean'],
    [{ onLog: 'x', logLevel: 'info' }, 'onLog "x" is not a function'],
    [{ env: 'x' }, 'env "x" is not an object of environment variables (strings)'],
    [{ env: null }, 'env null is not an object of environment variables (strings)'],
    [{ env: { PATH: 5 } }, 'env.PATH 5 is not a string'],
    [{ simulatedOptions: 'x' }, 'simulatedOptions "x" is not an object of simulated provider options'],
    [{ simulatedOptions: null }, 'simulatedOptions null is not an object of simulated provider options'],
    [{ simulatedOptions: { bogus: 1 } }, `simulatedOptions.bogus 1 is not ${SIM_OPTIONS}`],
    [{ backendLibrary: '' }, 'backendLibrary "" is not a path or file name (a non-empty string)'],
    [{ backendLibrary: 5 }, 'backendLibrary 5 is not a path or file name (a non-empty string)'],
    [{ systemLibrary: '' }, 'systemLibrary "" is not a path or file name (a non-empty string)'],
    [{ extensionsPath: 5 }, 'extensionsPath 5 is not a path (a string) or null'],
  ])('%o: InvalidArgumentError before a provider is created or a ctx-bin loaded', async (bad, message) => {
    const simulated = sim();
    const created = providers.created;
    const given = 'simulated' in bad || 'simulatedOptions' in bad ? {} : { provider: 'simulated', simulated };
    const opening = Dialog.create(qnnConfig(), { baseDir: bundle.dir, backend: { qnn: { executeMode: 'async', ...given, ...bad } as QnnHtpOptions } });
    await expect(opening).rejects.toThrow(InvalidArgumentError);
    await expect(opening).rejects.toThrow(`openQnnBackend: option ${message}`);
    expect(providers.created).toBe(created);
    expect(simulated.calls('interfaceGetProviders')).toBe(0);
    expect(map.mock.calls.length + read.mock.calls.length).toBe(0);
  });

  it('openQnnBackend called directly checks the kinds before it reads the extensions file', async () => {
    const { openQnnBackend } = await import('../../../src/backends/qnn/index.js');
    const opening = openQnnBackend(['unused.bin'], { simulated: sim(), extensionsPath: 5 as unknown as string });
    await expect(opening).rejects.toThrow(InvalidArgumentError);
    await expect(opening).rejects.toThrow('openQnnBackend: option extensionsPath 5 is not a path (a string) or null');
  });
});
