import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { installDir, makeStagingDir } from '../../src/formats/atomic-dir.js';
import {
  DEMO_FORMAT_VERSION, demoCacheFolderName, DemoOptionError, ensureDemoBundle, readDemoManifest, resolveDemoOptions, writeDemoBundle,
} from '../../src/demo/index.js';
import { listFiles, SMALL, snapshot, tempDir } from './fixtures.js';

const root = tempDir('cache');
let count = 0;
const freshCache = (): string => join(root, `cache${count++}`);
const leftovers = (dir: string): string[] => readdirSync(dir).filter((e) => /\.(tmp|old)-/.test(e));

function recorder() {
  const messages: string[] = [];
  return { messages, onProgress: (m: string) => void messages.push(m) };
}

describe('ensureDemoBundle', () => {
  it('builds the bundle once in <cache>/demo-<version>-<hash>, then reuses it without rewriting', async () => {
    const cacheDir = freshCache();
    const first = recorder();
    const bundle = await ensureDemoBundle({ ...SMALL, cacheDir, onProgress: first.onProgress });
    expect(bundle.dir).toBe(join(cacheDir, demoCacheFolderName(resolveDemoOptions(SMALL))));
    expect(bundle.configPath).toBe(join(bundle.dir, 'genie_config.json'));
    expect(bundle.options).toEqual(resolveDemoOptions(SMALL));
    expect(first.messages[0]).toBe(`building the demo model in ${bundle.dir} (once: later runs reuse it)`);
    expect(first.messages.at(-1)).toBe(`demo model ready in ${bundle.dir}`);
    expect((await readDemoManifest(bundle.dir))?.options).toEqual(bundle.options);

    const before = snapshot(bundle.dir);
    const second = recorder();
    const again = await ensureDemoBundle({ ...SMALL, ar: [4, 1], cacheDir, onProgress: second.onProgress });
    expect(again).toEqual(bundle);
    expect(second.messages).toEqual([]);
    expect(snapshot(bundle.dir)).toEqual(before);
    expect(readdirSync(cacheDir)).toEqual([demoCacheFolderName(bundle.options)]);
  });

  it('keeps one folder per option set', async () => {
    const cacheDir = freshCache();
    const a = await ensureDemoBundle({ ...SMALL, cacheDir });
    const b = await ensureDemoBundle({ ...SMALL, seed: 8, cacheDir });
    const c = await ensureDemoBundle({ ...SMALL, quant: 'fp16', cacheDir });
    expect(new Set([a.dir, b.dir, c.dir]).size).toBe(3);
    expect(readdirSync(cacheDir).sort()).toEqual([a.dir, b.dir, c.dir].map((d) => d.slice(cacheDir.length + 1)).sort());
  });

  const corruptions: Array<[string, (dir: string) => void]> = [
    ['its manifest names other options', (dir) => {
      const path = join(dir, 'demo.json');
      writeFileSync(path, readFileSync(path, 'utf8').replace('"seed": 7', '"seed": 8'));
    }],
    ['its manifest has another format version', (dir) => {
      const path = join(dir, 'demo.json');
      writeFileSync(path, readFileSync(path, 'utf8').replace(`"version": ${DEMO_FORMAT_VERSION}`, '"version": 0'));
    }],
    ['a file is truncated', (dir) => truncateSync(join(dir, 'demo_part_2_of_2.safetensors'), 100)],
    ['a file is missing', (dir) => rmSync(join(dir, 'hf', 'config.json'))],
    ['its manifest lists other files', (dir) => {
      const path = join(dir, 'demo.json');
      writeFileSync(path, readFileSync(path, 'utf8').replace('"tokenizer.json"', '"tokenizer2.json"'));
    }],
    ['it has no manifest', (dir) => writeFileSync(join(dir, 'demo.json'), 'not json')],
  ];
  for (const [what, corrupt] of corruptions) {
    it(`rebuilds the folder when ${what}`, async () => {
      const cacheDir = freshCache();
      const bundle = await ensureDemoBundle({ ...SMALL, cacheDir });
      corrupt(bundle.dir);
      const { messages, onProgress } = recorder();
      await ensureDemoBundle({ ...SMALL, cacheDir, onProgress });
      expect(messages[0]).toMatch(/^building the demo model/);
      const fresh = freshCache();
      const reference = await writeDemoBundle(join(fresh, 'x'), SMALL);
      const files = listFiles(reference.dir);
      expect(listFiles(bundle.dir)).toEqual(files);
      for (const f of files) expect(readFileSync(join(bundle.dir, f)).equals(readFileSync(join(reference.dir, f))), f).toBe(true);
      expect(leftovers(cacheDir)).toEqual([]);
    });
  }

  it('replaces a stray folder without a manifest', async () => {
    const cacheDir = freshCache();
    const dir = join(cacheDir, demoCacheFolderName(resolveDemoOptions(SMALL)));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'half-written.safetensors'), 'x');
    await ensureDemoBundle({ ...SMALL, cacheDir });
    expect(listFiles(dir)).not.toContain('half-written.safetensors');
    expect(listFiles(dir)).toContain('demo.json');
  });

  it('lets concurrent builders share one complete bundle', async () => {
    const cacheDir = freshCache();
    const bundles = await Promise.all([1, 2, 3].map(() => ensureDemoBundle({ ...SMALL, cacheDir })));
    expect(new Set(bundles.map((b) => b.dir)).size).toBe(1);
    expect(readdirSync(cacheDir)).toEqual([demoCacheFolderName(bundles[0].options)]);
    expect((await readDemoManifest(bundles[0].dir))?.options).toEqual(bundles[0].options);
  });

  it('rejects bad options before creating the cache', async () => {
    const cacheDir = freshCache();
    await expect(ensureDemoBundle({ cacheDir, splits: 9 })).rejects.toThrow(DemoOptionError);
    await expect(ensureDemoBundle({ cacheDir, splits: 9 })).rejects.toThrow(/^demo option splits 9: expected an integer in \[1, 3\]/);
    expect(existsSync(cacheDir)).toBe(false);
  });

  describe('cache root from the environment', () => {
    const saved = { ...process.env };
    afterEach(() => {
      for (const key of ['GENIE_TS_CACHE_DIR', 'XDG_CACHE_HOME']) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
    });

    it('uses $GENIE_TS_CACHE_DIR, else $XDG_CACHE_HOME/genie-ts', async () => {
      const own = freshCache();
      const xdg = freshCache();
      process.env.GENIE_TS_CACHE_DIR = own;
      process.env.XDG_CACHE_HOME = xdg;
      expect((await ensureDemoBundle(SMALL)).dir.startsWith(`${own}/demo-${DEMO_FORMAT_VERSION}-`)).toBe(true);
      delete process.env.GENIE_TS_CACHE_DIR;
      expect((await ensureDemoBundle(SMALL)).dir.startsWith(`${join(xdg, 'genie-ts')}/demo-${DEMO_FORMAT_VERSION}-`)).toBe(true);
    });
  });
});

describe('interrupted builds', () => {
  it('leave no bundle when the builder is killed, and the next build removes their staging folder', async () => {
    const cacheDir = freshCache();
    const demo = new URL('../../src/demo/index.ts', import.meta.url).href;
    // The child announces it is mid-build, then blocks synchronously until it is killed.
    const script = `
      const { ensureDemoBundle } = await import(${JSON.stringify(demo)});
      await ensureDemoBundle({ ...${JSON.stringify(SMALL)}, cacheDir: ${JSON.stringify(cacheDir)}, onProgress: (m) => {
        if (!m.startsWith('writing demo_part_2')) return;
        process.stdout.write('MID-BUILD\\n');
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
      } });`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk) => String(chunk).includes('MID-BUILD') && resolve());
      child.once('exit', (code) => reject(new Error(`child exited (${code}) before mid-build: ${stderr}`)));
    });
    child.kill('SIGKILL');
    await exited;

    const name = demoCacheFolderName(resolveDemoOptions(SMALL));
    expect(readdirSync(cacheDir)).toEqual([expect.stringMatching(new RegExp(`^${name}\\.tmp-${child.pid}-[0-9a-f]{8}$`))]);
    const bundle = await ensureDemoBundle({ ...SMALL, cacheDir });
    expect(readdirSync(cacheDir)).toEqual([name]);
    expect(listFiles(bundle.dir)).toContain('demo.json');
  });
});

describe('installDir', () => {
  it('reports a lost race without touching either folder', async () => {
    const target = join(root, 'race', 'target');
    const staging = await makeStagingDir(target);
    writeFileSync(join(staging, 'mine'), '1');
    mkdirSync(target);
    writeFileSync(join(target, 'winner'), '2');
    expect(await installDir(staging, target, false)).toBe(false);
    expect(readdirSync(target)).toEqual(['winner']);
    expect(readdirSync(staging)).toEqual(['mine']);
    expect(await installDir(staging, target, true)).toBe(true);
    expect(readdirSync(target)).toEqual(['mine']);
    expect(readdirSync(join(root, 'race'))).toEqual(['target']);
  });
});
