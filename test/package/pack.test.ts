/**
 * What `npm pack` ships, read from `npm pack --dry-run --json` over a copy of the package's files
 * built from scratch as the `prepack` script builds them (the working tree's dist/ may hold output of
 * sources since removed): the compiled package, its sources (the declaration maps point at them), the bin, the
 * shipped configs, the examples, README and licence; no tests, no tooling, no stale output; every
 * source map resolving to a shipped file and carrying its sources; every runtime dependency imported.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const manifest = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
  exports: Record<string, string | { types: string; default: string }>;
  engines: { node: string };
  dependencies: Record<string, string>;
  files: string[];
};

interface PackedFile {
  readonly path: string;
  readonly size: number;
}

let files: PackedFile[];
let paths: Set<string>;
/** The package's files (`files` of package.json) and build configs, copied and built from scratch. */
const pkg = mkdtempSync(join(tmpdir(), 'genie-ts-pack-'));

beforeAll(() => {
  for (const entry of [...manifest.files.filter((f) => f !== 'dist'), 'package.json', 'tsconfig.json', 'tsconfig.build.json']) {
    cpSync(join(repo, entry), join(pkg, entry), { recursive: true });
  }
  symlinkSync(join(repo, 'node_modules'), join(pkg, 'node_modules'), 'dir');
  try {
    execFileSync(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: pkg, stdio: 'pipe' });
  } catch (error) {
    // tsc emits despite type errors elsewhere in the tree (typecheck reports those); only missing output is fatal here.
    if (!existsSync(join(pkg, 'dist', 'index.js'))) throw error;
  }
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: pkg, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  files = (JSON.parse(out) as [{ files: PackedFile[] }])[0].files;
  paths = new Set(files.map((f) => f.path));
}, 180_000);

afterAll(() => rmSync(pkg, { recursive: true, force: true }));

/** The source file a compiled file was emitted from: dist/a/b.js(.map) and dist/a/b.d.ts(.map) -> src/a/b.ts. */
function sourceOf(distPath: string): string {
  return distPath.replace(/^dist\//, 'src/').replace(/(\.d\.ts|\.js)(\.map)?$/, '.ts');
}

describe('npm pack', () => {
  it('ships the compiled entry points, the bin, the configs, the examples, README and the licence', () => {
    for (const target of Object.values(manifest.exports)) {
      for (const file of typeof target === 'string' ? [target] : [target.types, target.default]) {
        expect(paths, file).toContain(posix.normalize(file));
      }
    }
    for (const bin of Object.values(manifest.bin)) expect(paths).toContain(bin);
    expect(paths).toContain('dist/cli/main.js');
    for (const file of ['README.md', 'LICENSE', 'package.json', 'configs/qwen2.5-0.5b/genie_config.json']) expect(paths).toContain(file);
    const examples = readdirSync(join(repo, 'examples')).filter((name) => name.endsWith('.ts'));
    expect(examples.length).toBeGreaterThan(0);
    for (const name of examples) expect(paths).toContain(`examples/${name}`);
  });

  it('ships no tests, tooling or local state, and no compiled file without its source (stale output)', () => {
    const allowedTop = new Set(['dist', 'src', 'bin', 'configs', 'examples', 'README.md', 'LICENSE', 'package.json']);
    const unexpected = [...paths].filter((p) => !allowedTop.has(p.split('/')[0]));
    expect(unexpected).toEqual([]);
    const stale = [...paths].filter((p) => p.startsWith('dist/') && !paths.has(sourceOf(p)));
    expect(stale).toEqual([]);
    // A kernel's WebAssembly text (src/simd/wat/NAME.wat) is the source of its generated src/simd/NAME.wasm.ts.
    const outputOf = (p: string): string =>
      /^src\/simd\/wat\/[^/]+\.wat$/.test(p) ? p.replace(/wat\/([^/]+)\.wat$/, '$1.wasm.ts') : p.replace(/^src\//, 'dist/').replace(/\.ts$/, '.js');
    const sourcesWithoutOutput = [...paths].filter((p) => p.startsWith('src/') && !paths.has(outputOf(p)));
    expect(sourcesWithoutOutput).toEqual([]);
  });

  it('every source map and declaration map resolves to a shipped source; the JavaScript maps also embed it', () => {
    const maps = [...paths].filter((p) => p.endsWith('.map'));
    expect(maps.filter((p) => p.endsWith('.d.ts.map')).length).toBeGreaterThan(0);
    const broken: string[] = [];
    for (const map of maps) {
      const parsed = JSON.parse(readFileSync(join(pkg, map), 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
      for (const source of parsed.sources) {
        const resolved = posix.normalize(posix.join(posix.dirname(map), source));
        if (!paths.has(resolved)) broken.push(`${map} -> ${source}`);
      }
      if (map.endsWith('.js.map')) {
        const expected = parsed.sources.map((source) => readFileSync(join(pkg, dirname(map), source), 'utf8'));
        if (JSON.stringify(parsed.sourcesContent) !== JSON.stringify(expected)) broken.push(`${map}: sourcesContent differs from its sources`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('stays small: no bundle or cache slipped in (every file under 1 MB, under 12 MB unpacked)', () => {
    const big = files.filter((f) => f.size > 1 << 20).map((f) => f.path);
    expect(big).toEqual([]);
    expect(files.reduce((sum, f) => sum + f.size, 0)).toBeLessThan(12 << 20);
  });
});

describe('package.json', () => {
  it('engines names the Node versions with require(esm) unflagged (20.19+, 22.12+), which the running Node satisfies', () => {
    expect(manifest.engines.node).toBe('^20.19.0 || >=22.12.0');
    const [major, minor] = process.versions.node.split('.').map(Number);
    expect((major === 20 && minor >= 19) || (major === 22 && minor >= 12) || major > 22).toBe(true);
  });

  it('every runtime dependency is imported by some file of src/', () => {
    const sources: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) walk(join(dir, entry.name));
        else if (entry.name.endsWith('.ts')) sources.push(readFileSync(join(dir, entry.name), 'utf8'));
      }
    };
    walk(join(repo, 'src'));
    const unused = Object.keys(manifest.dependencies).filter(
      (name) => !sources.some((text) => text.includes(`'${name}'`) || text.includes(`'${name}/`)),
    );
    expect(unused).toEqual([]);
  });
});
