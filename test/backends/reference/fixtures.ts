import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { writeReferenceCtxBin, type ReferenceCtxBinPart } from '../../../src/backends/reference/index.js';

/** A fresh temporary folder, removed after the test file. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `genie-ts-${prefix}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes parts as `<stem>_part_<i>_of_<N>.safetensors` and returns their paths in order. */
export async function writeParts(dir: string, stem: string, parts: readonly ReferenceCtxBinPart[]): Promise<string[]> {
  const paths = parts.map((_, i) => join(dir, `${stem}_part_${i + 1}_of_${parts.length}.safetensors`));
  for (const [i, part] of parts.entries()) await writeReferenceCtxBin(paths[i], part);
  return paths;
}

/**
 * A safetensors file assembled by hand (independent of the writer): 8-byte LE header length, the
 * header text, then `data`.
 */
export async function writeRawSafetensors(path: string, header: unknown, data: Uint8Array = new Uint8Array(0)): Promise<void> {
  const text = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const bytes = new Uint8Array(8 + text.length + data.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(text.length), true);
  bytes.set(text, 8);
  bytes.set(data, 8 + text.length);
  await writeFile(path, bytes);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}
