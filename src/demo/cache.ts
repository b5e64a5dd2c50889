/** The demo-bundle cache `genie-ts run` uses when it is given no config. */
import { createHash } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { installDir, removeLeftovers, targetState } from '../formats/atomic-dir.js';
import { bundleAt, buildStaged, type DemoBundle, type ProgressCallback } from './bundle.js';
import { DemoBundleError } from './errors.js';
import { canonicalOptions, DEMO_FORMAT_VERSION, isCompleteBundle } from './manifest.js';
import { resolveDemoOptions, type DemoOptions } from './options.js';

export interface EnsureDemoOptions extends Partial<DemoOptions> {
  readonly onProgress?: ProgressCallback;
  /** Cache root; default `demoCacheRoot()`. */
  readonly cacheDir?: string;
}

/**
 * `$GENIE_TS_CACHE_DIR`, else `$XDG_CACHE_HOME/genie-ts`, else `~/.cache/genie-ts`. Empty values
 * count as unset, and so does a relative XDG_CACHE_HOME (the XDG spec says to ignore it).
 */
export function demoCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const own = env.GENIE_TS_CACHE_DIR;
  if (own !== undefined && own !== '') return resolve(own);
  const xdg = env.XDG_CACHE_HOME;
  if (xdg !== undefined && isAbsolute(xdg)) return join(xdg, 'genie-ts');
  return join(homedir(), '.cache', 'genie-ts');
}

/** `demo-<format version>-<12 hex digits of the options' hash>`. */
export function demoCacheFolderName(options: DemoOptions): string {
  const hash = createHash('sha256').update(canonicalOptions(options)).digest('hex').slice(0, 12);
  return `demo-${DEMO_FORMAT_VERSION}-${hash}`;
}

/**
 * The cached bundle for `options`, built first when the cache has no complete one. Concurrent
 * callers (processes or not) each build in their own staging folder; the first rename wins and the
 * others use the winner's bundle. A folder whose manifest does not match is rebuilt.
 * @throws DemoOptionError for a bad option (before any I/O).
 */
export async function ensureDemoBundle(options: EnsureDemoOptions = {}): Promise<DemoBundle> {
  const { onProgress, cacheDir, ...modelOptions } = options;
  const resolved = resolveDemoOptions(modelOptions);
  const root = resolve(cacheDir ?? demoCacheRoot());
  const dir = join(root, demoCacheFolderName(resolved));
  if (await isCompleteBundle(dir, resolved)) return bundleAt(dir, resolved);
  await mkdir(root, { recursive: true });
  await removeLeftovers(root);
  onProgress?.(`building the demo model in ${dir} (once: later runs reuse it)`);
  const staging = await buildStaged(dir, resolved, onProgress);
  try {
    // Another builder may have finished meanwhile: keep its bundle rather than swap an equal one under its readers.
    if (!(await isCompleteBundle(dir, resolved))) {
      const installed = await installDir(staging, dir, (await targetState(dir)) !== 'absent');
      if (!installed && !(await isCompleteBundle(dir, resolved))) {
        throw new DemoBundleError(`cache folder "${dir}" was taken by another writer with an incomplete or different bundle`);
      }
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  onProgress?.(`demo model ready in ${dir}`);
  return bundleAt(dir, resolved);
}
