import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { loadConfigFile } from '../../src/runtime/config/index.js';
import { writeDemoBundle } from '../../src/demo/index.js';
import { Dialog, type QueryResult } from '../../src/runtime/dialog.js';
import { bytes, listFiles, SMALL, tempDir } from './fixtures.js';

const root = tempDir('qnn-htp');

async function greedyTurn(configPath: string, simulated: boolean): Promise<QueryResult> {
  await using dialog = await Dialog.create(configPath, {
    sampler: { temp: 0 },
    ...(simulated && { backend: { qnn: { provider: 'simulated' as const } } }),
  });
  const stream = dialog.query('Hello from the NPU', { maxTokens: 6 });
  let next = await stream.next();
  while (!next.done) next = await stream.next();
  return next.value;
}

describe('demo --backend qnn-htp', () => {
  it('writes the same files as the Reference bundle except a config naming QnnHtp with its mandatory keys', async () => {
    const ref = await writeDemoBundle(join(root, 'ref'), SMALL);
    const qnn = await writeDemoBundle(join(root, 'qnn'), { ...SMALL, backend: 'qnn-htp' });
    const files = listFiles(ref.dir).filter((f) => f !== 'genie_config.json' && f !== 'demo.json' && f !== 'README.txt');
    for (const file of files) expect(bytes(join(qnn.dir, file)).equals(bytes(join(ref.dir, file))), file).toBe(true);
    const { config } = await loadConfigFile(qnn.configPath);
    expect(config.root).toBe('dialog');
    const backend = JSON.parse(readFileSync(qnn.configPath, 'utf8')).dialog.engine.backend;
    expect(backend.type).toBe('QnnHtp');
    expect(Object.keys(backend.QnnHtp)).toEqual(expect.arrayContaining(['spill-fill-bufsize', 'mmap-budget', 'use-mmap', 'cpu-mask', 'poll']));
  });

  it('runs through the QNN binding and the simulated provider with the Reference bundle\'s tokens', async () => {
    const ref = await writeDemoBundle(join(root, 'ref2'), SMALL);
    const qnn = await writeDemoBundle(join(root, 'qnn2'), { ...SMALL, backend: 'qnn-htp' });
    const expected = await greedyTurn(ref.configPath, false);
    const got = await greedyTurn(qnn.configPath, true);
    expect(got.generatedTokens).toEqual(expected.generatedTokens);
    expect(got.text).toBe(expected.text);
  });

  it('genie-ts run -c runs it with GENIE_TS_QNN_PROVIDER=simulated', async () => {
    const qnn = await writeDemoBundle(join(root, 'qnn3'), { ...SMALL, backend: 'qnn-htp' });
    const ref = await writeDemoBundle(join(root, 'ref3'), SMALL);
    const collect = () => {
      const out = { stdout: '', stderr: '' };
      return { out, io: { stdout: (t: string) => void (out.stdout += t), stderr: (t: string) => void (out.stderr += t), isTTY: false } };
    };
    const saved = process.env.GENIE_TS_QNN_PROVIDER;
    process.env.GENIE_TS_QNN_PROVIDER = 'simulated';
    try {
      const a = collect();
      expect(await main(['run', '-c', qnn.configPath, '-p', 'Hello', '-n', '5', '--temp', '0'], a.io)).toBe(0);
      const b = collect();
      expect(await main(['run', '-c', ref.configPath, '-p', 'Hello', '-n', '5', '--temp', '0'], b.io)).toBe(0);
      expect(a.out.stdout).toBe(b.out.stdout);
      expect(a.out.stdout.length).toBeGreaterThan(1);
    } finally {
      if (saved === undefined) delete process.env.GENIE_TS_QNN_PROVIDER;
      else process.env.GENIE_TS_QNN_PROVIDER = saved;
    }
  });

  it('rejects an unknown --backend with exit 2 naming the flag', async () => {
    let stderr = '';
    const code = await main(['demo', '--out', join(root, 'bad'), '--backend', 'gpu'], {
      stdout: () => {},
      stderr: (t) => void (stderr += t),
      isTTY: false,
    });
    expect(code).toBe(2);
    expect(stderr).toBe('genie-ts demo: --backend "gpu" is not one of: reference, qnn-htp\n(see genie-ts demo --help)\n');
  });
});
