/**
 * Fuzzing the safetensors reader: the in-memory parser (`parseSafetensorsBytes`, then every float
 * tensor's data converted) and the file reader (`SafetensorsReader.open`, then every float tensor
 * read), on random bytes, byte mutations (header length, bit flips, truncations) and header edits
 * (dtypes, shapes, offsets, names, metadata).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe } from 'vitest';
import { isFloatDType, parseSafetensorsBytes, SafetensorsReader, tensorToFloat32 } from '../../../src/formats/safetensors.js';
import { tempDir } from '../../backends/reference/fixtures.js';
import { fuzzSeeds, safetensorsInputs } from './ctx-bins.js';
import { fuzz } from './harness.js';

const seeds = await fuzzSeeds();
const inputs = safetensorsInputs(seeds.safetensors);

describe('fuzz: safetensors', () => {
  fuzz('parseSafetensorsBytes and tensorToFloat32', inputs, (bytes) => {
    const layout = parseSafetensorsBytes(bytes, 'fuzz.safetensors');
    for (const info of layout.tensors.values()) {
      if (isFloatDType(info.dtype)) tensorToFloat32(info.dtype, bytes.subarray(layout.dataStart + info.begin, layout.dataStart + info.end));
    }
  }, { runs: 800 });

  const dir = tempDir('fuzz-safetensors');
  let count = 0;
  fuzz('SafetensorsReader.open and readFloat32', inputs, async (bytes) => {
    const path = join(dir, `image-${count++ % 8}.safetensors`);
    writeFileSync(path, bytes);
    const reader = await SafetensorsReader.open(path);
    try {
      for (const [name, info] of reader.tensors) if (isFloatDType(info.dtype)) await reader.readFloat32(name);
    } finally {
      await reader.close();
    }
  }, { runs: 150 });
});
