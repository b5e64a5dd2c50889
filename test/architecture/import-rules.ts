/**
 * The import rules of src/ (docs/architecture.md, "Import rules"), checked on the TypeScript AST:
 * static imports and `import type`, `export ... from`, dynamic `import()` and `import('...')` types.
 * Relative specifiers are resolved to src/ paths; package imports (`zod`, `node:fs`) are not checked.
 * This module is the source of truth for the rules; the doc says what it checks.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import ts from 'typescript';

export interface SourceText {
  /** Repository-relative POSIX path, e.g. `src/tensor/quant.ts`. */
  readonly path: string;
  readonly text: string;
}

export interface Violation {
  readonly file: string;
  /** The import as resolved (`src/runtime/dialog.ts`), or the specifier when it does not resolve. */
  readonly target: string;
  readonly rule: string;
}

/**
 * Top to bottom; a module is a top-level folder of src/ or one of its top-level files. A file
 * imports only its own module and modules of lower ranks; modules sharing a rank do not import
 * each other. `index.ts`, the package entry, is the top: it may import anything, nothing imports it.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ['index.ts'],
  ['cli'],
  ['demo'],
  ['export'],
  ['runtime'],
  ['simulator'],
  ['backends'],
  ['vision'],
  ['qnn', 'formats'],
  ['graphs'],
  ['kv', 'rope', 'sampler'],
  ['tensor'],
  ['simd'],
  ['errors.ts'],
];

/** The rules besides the layer order, each as the doc states it. */
export const RULES = {
  layers: 'a file imports only its own module and the modules of lower ranks; modules of one rank do not import each other',
  'backend-factory':
    'inside runtime/, only runtime/backend-factory.ts imports a backend implementation or simulator/; ' +
    'every other runtime file imports from backends/ only the interface backends/backend.ts',
  'runtime-qnn': 'runtime/ imports nothing from qnn/: it reaches QNN only through backends/qnn',
  'backend-siblings': 'a backend implementation (backends/<name>/) imports from backends/ only its own folder and backends/backend.ts',
  'simulator-abi':
    'simulator/ imports from qnn/ only qnn/enums.ts, qnn/slots.ts and qnn/errors.ts: never qnn/abi.ts, qnn/binding/ ' +
    'or qnn/index.ts (which re-exports them)',
  'simulator-backends': 'simulator/ imports from backends/ only backends/reference/ (it executes reference ctx-bins)',
  'known-module': 'every file of src/ belongs to a module listed in the layers',
  resolved: 'every relative import names a .ts file of src/ (with its .js extension)',
} as const;

export type RuleName = keyof typeof RULES;

const rankOf = new Map(LAYERS.flatMap((rank, i) => rank.map((module) => [module, i] as const)));

/** `src/runtime/dialog.ts` -> `runtime`; `src/errors.ts` -> `errors.ts`. */
export function moduleOf(path: string): string {
  return path.split('/')[1];
}

/** Every module specifier of a file: imports, re-exports, dynamic imports and import types. */
export function specifiersOf(file: SourceText): string[] {
  const source = ts.createSourceFile(file.path, file.text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: string[] = [];
  const literal = (node: ts.Node | undefined): void => {
    if (node !== undefined && ts.isStringLiteralLike(node)) found.push(node.text);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) literal(node.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      literal(node.moduleReference.expression);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) literal(node.arguments[0]);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) literal(node.argument.literal);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** A relative specifier as a src/ path (`.js` -> `.ts`), or undefined when it names no file of `known`. */
export function resolveSpecifier(from: string, specifier: string, known: ReadonlySet<string>): string | undefined {
  const joined = posix.normalize(posix.join(posix.dirname(from), specifier));
  const path = joined.endsWith('.js') ? `${joined.slice(0, -3)}.ts` : joined;
  return known.has(path) ? path : undefined;
}

const within = (path: string, folder: string): boolean => path.startsWith(`src/${folder}/`);
const BACKEND_INTERFACE = 'src/backends/backend.ts';
const BACKEND_FACTORY = 'src/runtime/backend-factory.ts';
const SIMULATOR_QNN_IMPORTS = new Set(['src/qnn/enums.ts', 'src/qnn/slots.ts', 'src/qnn/errors.ts']);

/** The rule `file` importing `target` (both src/ paths) breaks, if any, with the detail to report. */
function brokenRule(file: string, target: string): string | undefined {
  const from = moduleOf(file);
  const to = moduleOf(target);
  const fromRank = rankOf.get(from);
  const toRank = rankOf.get(to);
  // A file outside the layers is reported once, by checkImports.
  if (fromRank === undefined || toRank === undefined) return undefined;
  if (from !== to && toRank < fromRank) return `layers: ${to} is above ${from}`;
  if (from !== to && toRank === fromRank) return `layers: ${from} and ${to} share a rank`;
  if (from === 'runtime' && file !== BACKEND_FACTORY) {
    if (to === 'simulator' || (to === 'backends' && target !== BACKEND_INTERFACE)) {
      return 'backend-factory: only runtime/backend-factory.ts imports a backend implementation or the simulator';
    }
  }
  if (from === 'runtime' && to === 'qnn') return 'runtime-qnn: runtime reaches QNN only through backends/qnn';
  if (from === 'backends' && to === 'backends' && target !== BACKEND_INTERFACE) {
    const own = file.split('/')[2];
    if (!within(target, `backends/${own}`)) return `backend-siblings: backends/${own} imports another backend`;
  }
  if (from === 'simulator' && to === 'qnn' && !SIMULATOR_QNN_IMPORTS.has(target)) {
    return 'simulator-abi: the simulator decodes QNN structs by its own byte offsets, not through the ABI declarations';
  }
  if (from === 'simulator' && to === 'backends' && !within(target, 'backends/reference')) {
    return 'simulator-backends: the simulator executes reference ctx-bins only';
  }
  return undefined;
}

/** Checks every relative import of `files` (all of src/, plus any planted ones) against the rules. */
export function checkImports(files: readonly SourceText[]): Violation[] {
  const known = new Set(files.map((file) => file.path));
  const violations: Violation[] = [];
  for (const file of files) {
    if (rankOf.get(moduleOf(file.path)) === undefined) {
      violations.push({ file: file.path, target: file.path, rule: `known-module: ${moduleOf(file.path)} is in no layer` });
    }
    for (const specifier of specifiersOf(file)) {
      if (!specifier.startsWith('.')) continue;
      const target = resolveSpecifier(file.path, specifier, known);
      if (target === undefined) {
        violations.push({ file: file.path, target: specifier, rule: 'resolved: names no .ts file of src/' });
        continue;
      }
      const rule = brokenRule(file.path, target);
      if (rule !== undefined) violations.push({ file: file.path, target, rule });
    }
  }
  return violations;
}

export const formatViolation = (v: Violation): string => `${v.file} -> ${v.target} (${v.rule})`;

/** Every `.ts` file under `<root>/src`, with repository-relative paths. */
export function readSources(root: string): SourceText[] {
  return readdirSync(posix.join(root, 'src'), { recursive: true, encoding: 'utf8' })
    .map((name) => `src/${name.split('\\').join('/')}`)
    .filter((path) => path.endsWith('.ts'))
    .sort()
    .map((path) => ({ path, text: readFileSync(posix.join(root, path), 'utf8') }));
}
