/**
 * Where the QNN libraries are looked for, the way Genie finds them: by file name through the
 * platform's library search path, unless a path is given.
 *
 * Overrides, strongest first:
 * - API option (`backendLibrary` / `systemLibrary`);
 * - environment `GENIE_TS_QNN_BACKEND_LIB` / `GENIE_TS_QNN_SYSTEM_LIB`.
 * Either may be a path (must exist) or a bare file name (searched like the default).
 * Search path: `LD_LIBRARY_PATH` then the loader's default directories on Linux and Android,
 * `DYLD_LIBRARY_PATH` on macOS, the Node executable's folder then `PATH` on Windows. Folders known
 * only to `/etc/ld.so.conf` are not searched: the error names every folder that was, so the user
 * can point at the file instead.
 */
import { existsSync } from 'node:fs';
import { posix, win32 } from 'node:path';
import { QnnLibraryNotFoundError } from './errors.js';

export const BACKEND_LIB_ENV = 'GENIE_TS_QNN_BACKEND_LIB';
export const SYSTEM_LIB_ENV = 'GENIE_TS_QNN_SYSTEM_LIB';

export type QnnLibraryKind = 'backend' | 'system';

/** What library resolution reads from the process; injectable for tests. */
export interface LibraryHost {
  readonly platform: NodeJS.Platform;
  readonly arch: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly execPath: string;
  readonly exists: (path: string) => boolean;
}

export function processLibraryHost(): LibraryHost {
  return { platform: process.platform, arch: process.arch, env: process.env, execPath: process.execPath, exists: existsSync };
}

/** The platform file name of a QNN library, e.g. `QnnHtp` -> `libQnnHtp.so` / `QnnHtp.dll`. */
export function libraryFileName(stem: string, platform: NodeJS.Platform): string {
  if (platform === 'win32') return `${stem}.dll`;
  if (platform === 'darwin') return `lib${stem}.dylib`;
  return `lib${stem}.so`;
}

const MULTIARCH: Readonly<Record<string, string>> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

/** The directories searched for a bare library file name, in order. */
export function librarySearchDirs(host: LibraryHost): string[] {
  const split = (value: string | undefined, sep: string): string[] =>
    (value ?? '').split(sep).filter((dir) => dir.length > 0);
  switch (host.platform) {
    case 'win32':
      return [win32.dirname(host.execPath), ...split(host.env.PATH ?? host.env.Path, ';')];
    case 'darwin':
      return [...split(host.env.DYLD_LIBRARY_PATH, ':'), '/usr/local/lib', '/usr/lib'];
    case 'android':
      return [...split(host.env.LD_LIBRARY_PATH, ':'), '/vendor/lib64', '/system/lib64', '/odm/lib64'];
    default: {
      const multiarch = MULTIARCH[host.arch];
      const defaults = ['/usr/local/lib', ...(multiarch ? [`/lib/${multiarch}`, `/usr/lib/${multiarch}`] : []), '/lib', '/usr/lib'];
      return [...split(host.env.LD_LIBRARY_PATH, ':'), ...defaults];
    }
  }
}

export interface ResolvedLibrary {
  /** Absolute path of the file found. */
  readonly path: string;
  /** Every path checked before it was found (for messages). */
  readonly searched: readonly string[];
}

function isPath(value: string, platform: NodeJS.Platform): boolean {
  return platform === 'win32' ? /[\\/]/.test(value) : value.includes('/');
}

function joinFor(platform: NodeJS.Platform, dir: string, file: string): string {
  return platform === 'win32' ? win32.join(dir, file) : posix.join(dir, file);
}

/**
 * Finds a QNN library. `requested` is the API option; `defaultStem` the library when nothing is
 * requested (e.g. `QnnHtp`, `QnnSystem`). Throws `QnnLibraryNotFoundError` listing every path
 * checked and how to point at the file.
 */
export function resolveQnnLibrary(
  kind: QnnLibraryKind,
  requested: string | undefined,
  defaultStem: string,
  host: LibraryHost = processLibraryHost(),
): ResolvedLibrary {
  const envName = kind === 'backend' ? BACKEND_LIB_ENV : SYSTEM_LIB_ENV;
  const optionName = kind === 'backend' ? 'backendLibrary' : 'systemLibrary';
  const fromEnv = host.env[envName];
  const source =
    requested !== undefined ? `option ${optionName}` : fromEnv !== undefined && fromEnv !== '' ? `environment ${envName}` : null;
  const target = requested ?? (source === null ? libraryFileName(defaultStem, host.platform) : fromEnv!);
  const howTo = `set option ${optionName} or environment ${envName} to the library's path`;
  if (isPath(target, host.platform)) {
    if (host.exists(target)) return { path: target, searched: [target] };
    throw new QnnLibraryNotFoundError(`QNN ${kind} library not found: ${source ?? 'path'} "${target}" does not exist`, [target]);
  }
  const searched: string[] = [];
  for (const dir of librarySearchDirs(host)) {
    const candidate = joinFor(host.platform, dir, target);
    searched.push(candidate);
    if (host.exists(candidate)) return { path: candidate, searched };
  }
  throw new QnnLibraryNotFoundError(
    `QNN ${kind} library "${target}"${source === null ? '' : ` (from ${source})`} not found; looked in: ` +
      `${searched.join(', ')}. Add its folder to the library search path or ${howTo}`,
    searched,
  );
}
