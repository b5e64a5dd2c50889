/**
 * Folder-level atomic writes: a folder is built under a temporary sibling name and renamed into
 * place, so readers see either nothing, the old folder, or the finished new one.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export type TargetState = 'absent' | 'empty' | 'non-empty' | 'not-a-folder';

export async function targetState(path: string): Promise<TargetState> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  if (info === null) return 'absent';
  if (!info.isDirectory()) return 'not-a-folder';
  return (await readdir(path)).length === 0 ? 'empty' : 'non-empty';
}

/** `target.tmp-<pid>-<random>`: unique per build, even for concurrent builds in one process. */
function siblingName(target: string, tag: 'tmp' | 'old'): string {
  return `${target}.${tag}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** A fresh empty folder next to `target` (its parent is created when missing). */
export async function makeStagingDir(target: string): Promise<string> {
  await mkdir(dirname(target), { recursive: true });
  const staging = siblingName(target, 'tmp');
  await mkdir(staging);
  return staging;
}

const isTaken = (error: unknown): boolean => {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOTEMPTY' || code === 'EEXIST';
};

/**
 * Renames the finished `staging` folder to `target`. With `replace`, an existing `target` is moved
 * aside first and removed after. Returns false, leaving `staging` in place, when another writer's
 * non-empty folder holds `target` at the moment of the rename (the caller decides whether it will do).
 */
export async function installDir(staging: string, target: string, replace: boolean): Promise<boolean> {
  let aside = replace ? await moveAside(target) : null;
  try {
    await rename(staging, target);
    return true;
  } catch (error) {
    // Put the old folder back, unless another writer's folder has taken its place.
    if (aside !== null && (await rename(aside, target).then(() => true, () => false))) aside = null;
    if (!isTaken(error)) throw error;
    return false;
  } finally {
    if (aside !== null) await rm(aside, { recursive: true, force: true });
  }
}

/** Renames `target` to a fresh sibling name; null when there is no `target` (any more). */
async function moveAside(target: string): Promise<string | null> {
  const aside = siblingName(target, 'old');
  try {
    await rename(target, aside);
    return aside;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

const LEFTOVER = /\.(tmp|old)-(\d+)-[0-9a-f]{8}$/;

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the staging and moved-aside folders of targets in `dir` (of `stem` only, when given) whose
 * builder process is gone (killed mid-build). Those of running processes, this one included, stay.
 */
export async function removeLeftovers(dir: string, stem?: string): Promise<void> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  for (const entry of entries) {
    const match = LEFTOVER.exec(entry);
    if (match === null || (stem !== undefined && entry.slice(0, match.index) !== stem)) continue;
    if (!isRunning(Number(match[2]))) await rm(join(dir, entry), { recursive: true, force: true });
  }
}
