import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Folder-level atomic replace for a save (the pattern of src/demo/atomic-dir.ts, which runtime/ may
 * not import): `build` fills a fresh sibling folder, which is then renamed to `target`; an old
 * `target` is moved aside first and removed after. Readers see the old save or the new one, never a
 * half-written folder; on any error the staging folder is removed and the old save put back.
 */
export async function writeFolderAtomically(target: string, build: (staging: string) => Promise<void>): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  await removeLeftovers(target);
  const tag = (kind: string): string => `${target}.${kind}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const staging = tag('tmp');
  await mkdir(staging);
  let aside: string | null = null;
  try {
    await build(staging);
    if (await exists(target)) {
      aside = tag('old');
      await rename(target, aside);
    }
    await rename(staging, target);
  } catch (error) {
    if (aside !== null) await rename(aside, target).then(() => (aside = null), () => undefined);
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  if (aside !== null) await rm(aside, { recursive: true, force: true });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, (error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return false;
    throw error;
  });
}

/** The names in a folder; null when `path` is missing. */
export async function listFolder(path: string): Promise<string[] | null> {
  return readdir(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
}

const LEFTOVER = /\.(tmp|old)-(\d+)-[0-9a-f]{8}$/;

/** Removes `target`'s staging and moved-aside folders left by a process that is gone (killed mid-save). */
async function removeLeftovers(target: string): Promise<void> {
  const dir = dirname(target);
  const stem = basename(target);
  for (const entry of (await listFolder(dir)) ?? []) {
    const match = LEFTOVER.exec(entry);
    if (match === null || entry.slice(0, match.index) !== stem || isRunning(Number(match[2]))) continue;
    await rm(join(dir, entry), { recursive: true, force: true });
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
