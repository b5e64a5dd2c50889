import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll } from 'vitest';
import type { DemoOptions } from '../../src/demo/index.js';

/** A fresh temporary folder, removed after the test file. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `genie-ts-demo-${prefix}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Small but complete: every embedding copy is 151936 x 8 floats (4.9 MB). */
export const SMALL: Partial<DemoOptions> = { layers: 2, hidden: 8, heads: 2, kvHeads: 1, ar: [1, 4], cl: 16, seed: 7 };

/** Every file under `dir`, as sorted paths relative to it. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else out.push(relative(dir, path));
    }
  };
  walk(dir);
  return out.sort();
}

export const bytes = (path: string): Buffer => readFileSync(path);

/** Path -> [inode, mtime] of every file: equal snapshots mean nothing was rewritten. */
export function snapshot(dir: string): Map<string, [number, number]> {
  return new Map(listFiles(dir).map((file) => {
    const info = statSync(join(dir, file));
    return [file, [info.ino, info.mtimeMs]];
  }));
}

/** Bit-exact equality of two float arrays (fast where `toEqual` walks a million elements). */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
