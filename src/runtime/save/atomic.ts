import { rm } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { installDir, makeStagingDir, removeLeftovers } from '../../formats/atomic-dir.js';

/**
 * Folder-level atomic replace for a save: `build` fills a fresh sibling folder, which is then renamed
 * to `target`; an old `target` is moved aside first and removed after. Readers see the old save or the
 * new one, never a half-written folder; on any error the staging folder is removed and the old save
 * put back. Staging and moved-aside folders that a killed save left beside `target` are removed first.
 */
export async function writeFolderAtomically(target: string, build: (staging: string) => Promise<void>): Promise<void> {
  const staging = await makeStagingDir(target);
  try {
    await removeLeftovers(dirname(target), basename(target));
    await build(staging);
    if (!(await installDir(staging, target, true))) {
      throw new Error(`another writer's folder took "${target}" while the save was written`);
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
