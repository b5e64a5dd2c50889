/**
 * `demo.json`: the options a bundle was built from, its format version and the size of every file.
 * It is written last, so a folder with a matching manifest and files of the listed sizes is a
 * complete bundle.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { bundleFiles, MANIFEST_FILE } from './layout.js';
import { DEFAULT_DEMO_OPTIONS, type DemoOptions } from './options.js';

const FORMAT = 'genie-ts-demo';
/** Bump whenever the same options would give different files. */
export const DEMO_FORMAT_VERSION = 3;

export interface DemoManifest {
  readonly format: typeof FORMAT;
  readonly version: number;
  /** As written by the builder; a manifest read from disk is not re-validated. */
  readonly options: Readonly<Record<string, unknown>>;
  /** Bundle-relative path -> size in bytes (the manifest itself excluded). */
  readonly files: Readonly<Record<string, number>>;
}

const manifestSchema = z.looseObject({
  format: z.literal(FORMAT),
  version: z.int(),
  options: z.record(z.string(), z.unknown()),
  files: z.record(z.string(), z.int().nonnegative()),
});

const OPTION_KEYS = Object.keys(DEFAULT_DEMO_OPTIONS);

/** The options as JSON with keys in one fixed order (others dropped): equal options give equal text. */
export function canonicalOptions(options: DemoOptions | DemoManifest['options']): string {
  return JSON.stringify(options, OPTION_KEYS);
}

export function manifestText(options: DemoOptions, files: Readonly<Record<string, number>>): string {
  const sorted = Object.fromEntries(Object.keys(files).sort().map((file) => [file, files[file]]));
  const manifest = { format: FORMAT, version: DEMO_FORMAT_VERSION, options: JSON.parse(canonicalOptions(options)), files: sorted };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** The manifest of `dir`, or null when it has none or it is not a demo manifest (of any version). */
export async function readDemoManifest(dir: string): Promise<DemoManifest | null> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
  } catch {
    return null;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = manifestSchema.safeParse(json);
  return parsed.success ? (parsed.data as DemoManifest) : null;
}

/**
 * True when `dir` holds a complete bundle of this format version built from `options`: its manifest
 * matches and lists exactly the bundle's files, each present with the listed size.
 */
export async function isCompleteBundle(dir: string, options: DemoOptions): Promise<boolean> {
  const manifest = await readDemoManifest(dir);
  if (manifest === null || manifest.version !== DEMO_FORMAT_VERSION) return false;
  if (canonicalOptions(manifest.options) !== canonicalOptions(options)) return false;
  if (Object.keys(manifest.files).sort().join('\n') !== bundleFiles(options).join('\n')) return false;
  for (const [file, size] of Object.entries(manifest.files)) {
    const info = await stat(join(dir, file)).catch(() => null);
    if (info === null || !info.isFile() || info.size !== size) return false;
  }
  return true;
}
