/**
 * The layers of src/ run downward: every import of every src/ file is checked against the rules
 * in import-rules.ts, which docs/architecture.md states; a planted upward import must fail.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkImports, formatViolation, LAYERS, readSources, RULES, specifiersOf, type SourceText } from './import-rules.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const sources = readSources(root);

describe('src/ import rules', () => {
  it('hold on the tree', () => {
    expect(sources.length).toBeGreaterThan(100);
    expect(checkImports(sources).map(formatViolation)).toEqual([]);
  });

  it('fail on planted upward and sideways imports, one violation per import', () => {
    const planted: SourceText[] = [
      { path: 'src/tensor/planted.ts', text: "import { Dialog } from '../runtime/dialog.js';\nexport const d = Dialog;\n" },
      { path: 'src/runtime/engine/x.ts', text: "export { openReferenceBackend } from '../../backends/reference/index.js';\n" },
      { path: 'src/runtime/quant/y.ts', text: "import type { SimulatedQnn } from '../../simulator/index.js';\nexport type S = SimulatedQnn;\n" },
      { path: 'src/kv/z.ts', text: "export const load = () => import('../sampler/index.js');\n" },
      { path: 'src/simulator/planted.ts', text: "import { abi } from '../qnn/abi.js';\nimport '../backends/qnn/index.js';\nexport { abi };\n" },
      { path: 'src/backends/qnn/planted.ts', text: "export type R = import('../reference/index.js').Qwen2Config;\n" },
      { path: 'src/runtime/w.ts', text: "import { QnnSession } from '../qnn/binding/session.js';\nimport './missing.js';\nexport { QnnSession };\n" },
      { path: 'src/extra/v.ts', text: 'export const v = 1;\n' },
    ];
    expect(checkImports([...sources, ...planted]).map(formatViolation)).toEqual([
      'src/tensor/planted.ts -> src/runtime/dialog.ts (layers: runtime is above tensor)',
      'src/runtime/engine/x.ts -> src/backends/reference/index.ts (backend-factory: only runtime/backend-factory.ts imports a backend implementation or the simulator)',
      'src/runtime/quant/y.ts -> src/simulator/index.ts (backend-factory: only runtime/backend-factory.ts imports a backend implementation or the simulator)',
      'src/kv/z.ts -> src/sampler/index.ts (layers: kv and sampler share a rank)',
      'src/simulator/planted.ts -> src/qnn/abi.ts (simulator-abi: the simulator decodes QNN structs by its own byte offsets, not through the ABI declarations)',
      'src/simulator/planted.ts -> src/backends/qnn/index.ts (simulator-backends: the simulator executes reference ctx-bins only)',
      'src/backends/qnn/planted.ts -> src/backends/reference/index.ts (backend-siblings: backends/qnn imports another backend)',
      'src/runtime/w.ts -> src/qnn/binding/session.ts (runtime-qnn: runtime reaches QNN only through backends/qnn)',
      'src/runtime/w.ts -> ./missing.js (resolved: names no .ts file of src/)',
      'src/extra/v.ts -> src/extra/v.ts (known-module: extra is in no layer)',
    ]);
  });

  it('see static, type-only, re-exported and dynamic imports and import types', () => {
    const text = [
      "import a from './a.js';",
      "import type { B } from './b.js';",
      "export * from './c.js';",
      "export { d } from './d.js';",
      "const e = await import('./e.js');",
      "type F = import('./f.js').F;",
      "import './g.js';",
      "import node from 'node:fs';",
    ].join('\n');
    expect(specifiersOf({ path: 'src/x.ts', text })).toEqual(['./a.js', './b.js', './c.js', './d.js', './e.js', './f.js', './g.js', 'node:fs']);
  });

  it('are the ones docs/architecture.md states', () => {
    const doc = readFileSync(`${root}/docs/architecture.md`, 'utf8').replace(/`/g, '').replace(/\s+/g, ' ');
    for (const text of Object.values(RULES)) expect(doc).toContain(text);
    expect(doc).toContain(LAYERS.map((rank) => rank.join(', ')).join(' > '));
  });
});
