/**
 * Android HTP precondition: the DSP-side `libQnnHtpV##Skel.so` is found through `ADSP_LIBRARY_PATH`
 * (semicolon-separated, and it must also list the system folders;
 * docs/qnn-abi.md#adsp-library-path). Checked before the backend opens its FastRPC session, so the
 * user learns exactly what is missing instead of getting an opaque backend error.
 */
import { readdirSync } from 'node:fs';
import { QnnEnvironmentError } from './errors.js';

export const ADSP_LIBRARY_PATH = 'ADSP_LIBRARY_PATH';
/** The folders QNN's docs say ADSP_LIBRARY_PATH must include. */
export const ADSP_SYSTEM_DIRS = ['/system/lib/rfsa/adsp', '/system/vendor/lib/rfsa/adsp', '/dsp'] as const;
/** Where devices ship DSP libraries when ADSP_LIBRARY_PATH is unset. */
const ADSP_DEFAULT_DIRS = [...ADSP_SYSTEM_DIRS, '/vendor/lib/rfsa/adsp', '/vendor/dsp/cdsp'];
const SKEL = /^libQnnHtpV(\d+)Skel\.so$/;

export interface AdspCheck {
  /** Folders holding a Skel, with the Hexagon arch each Skel is for. */
  readonly skels: readonly { readonly dir: string; readonly arch: number }[];
  /** Problems that do not stop loading (e.g. system folders missing from the path). */
  readonly warnings: readonly string[];
}

function listDirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Checks `ADSP_LIBRARY_PATH` for an HTP backend on Android. Throws `QnnEnvironmentError` saying
 * what is missing when no folder it names (or, when unset, no default folder) holds a Skel.
 */
export function checkAdspLibraryPath(
  env: Readonly<Record<string, string | undefined>>,
  listDir: (dir: string) => readonly string[] = listDirSafe,
): AdspCheck {
  const value = env[ADSP_LIBRARY_PATH];
  const set = value !== undefined && value.trim() !== '';
  const dirs = set ? value.split(';').filter((dir) => dir.length > 0) : ADSP_DEFAULT_DIRS;
  const skels: { dir: string; arch: number }[] = [];
  for (const dir of dirs) {
    for (const file of listDir(dir)) {
      const match = SKEL.exec(file);
      if (match !== null) skels.push({ dir, arch: Number(match[1]) });
    }
  }
  const example = `"<folder with libQnnHtpV##Skel.so>;${ADSP_SYSTEM_DIRS.join(';')}"`;
  if (skels.length === 0) {
    if (!set) {
      throw new QnnEnvironmentError(
        `${ADSP_LIBRARY_PATH} is not set and no libQnnHtpV##Skel.so is in the default DSP folders ` +
          `(${dirs.join(', ')}); set ${ADSP_LIBRARY_PATH} to ${example}`,
      );
    }
    const colonHint =
      !value.includes(';') && value.includes(':') ? ' (it is semicolon-separated, not colon-separated)' : '';
    throw new QnnEnvironmentError(
      `${ADSP_LIBRARY_PATH}="${value}"${colonHint}: no folder in it holds a libQnnHtpV##Skel.so ` +
        `(looked in ${dirs.join(', ')}); add the folder with the Skel for this SoC's Hexagon arch, e.g. ${example}`,
    );
  }
  const warnings: string[] = [];
  if (set) {
    const missing = ADSP_SYSTEM_DIRS.filter((dir) => !dirs.includes(dir));
    if (missing.length > 0) {
      warnings.push(`${ADSP_LIBRARY_PATH} does not list ${missing.join(', ')}; QNN's docs require the system DSP folders in it`);
    }
  }
  return { skels, warnings };
}
