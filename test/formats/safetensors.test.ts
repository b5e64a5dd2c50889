import { existsSync } from 'node:fs';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotSupportedError } from '../../src/errors.js';
import {
  SafetensorsError,
  SafetensorsReader,
  parseSafetensorsBytes,
  readSafetensors,
  tensorToFloat32,
  writeSafetensors,
  type FloatTensor,
  type SafetensorsFloatDType,
} from '../../src/formats/index.js';
import { tempDir, writeRawSafetensors } from '../backends/reference/fixtures.js';
import { gaussian } from '../backends/reference/qwen2-oracle.js';

const dir = tempDir('safetensors');

/** IEEE half decoded from its fields (independent of src/tensor/fp16.ts). */
function halfValue(bits: number): number {
  const sign = bits >> 15 ? -1 : 1;
  const exponent = (bits >> 10) & 31;
  const fraction = bits & 1023;
  if (exponent === 31) return fraction === 0 ? sign * Infinity : NaN;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** bfloat16 = the top 16 bits of a float32. */
function bf16Value(bits: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, bits << 16, false);
  return view.getFloat32(0, false);
}

function u16Bytes(values: number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 2);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setUint16(i * 2, v, true));
  return bytes;
}

describe('safetensors round trip', () => {
  it('writes F32 tensors and metadata that read back identically, data section 8-byte aligned', async () => {
    const g = gaussian('safetensors-round-trip');
    const tensors = new Map<string, FloatTensor>([
      ['a.weight', { shape: [3, 5], data: Float32Array.from({ length: 15 }, g) }],
      ['scalar', { shape: [], data: Float32Array.of(-2.5) }],
      ['empty', { shape: [0, 4], data: new Float32Array(0) }],
      ['b', { shape: [7], data: Float32Array.of(0, -0, Infinity, -Infinity, 1e-45, 3.4e38, NaN) }],
    ]);
    const path = join(dir, 'round-trip.safetensors');
    await writeSafetensors(path, tensors, { format: 'pt', note: 'héllo' });

    const { metadata, tensors: back } = await readSafetensors(path);
    expect(metadata).toEqual({ format: 'pt', note: 'héllo' });
    expect([...back.keys()]).toEqual([...tensors.keys()]);
    for (const [name, t] of tensors) {
      expect(back.get(name)!.shape).toEqual(t.shape);
      expect(back.get(name)!.data).toEqual(t.data);
    }
    const bytes = await readFile(path);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    expect((8 + headerLength) % 8).toBe(0);
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
    expect(header['a.weight']).toEqual({ dtype: 'F32', shape: [3, 5], data_offsets: [0, 60] });
  });

  it('reads F16 and BF16 tensors as float32, matching an independent bit-level decoding', async () => {
    const half = [0x0000, 0x8000, 0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x7c00, 0xfc00, 0x3555, 0x7e00];
    const bf = [0x0000, 0x8000, 0x3f80, 0xc049, 0x7f7f, 0x0001, 0x7f80, 0xff80, 0x3eaa, 0x4b00, 0x7fc0, 0x1234];
    const data = new Uint8Array([...u16Bytes(half), ...u16Bytes(bf)]);
    const path = join(dir, 'half.safetensors');
    await writeRawSafetensors(
      path,
      {
        h: { dtype: 'F16', shape: [3, 4], data_offsets: [0, 24] },
        b: { dtype: 'BF16', shape: [12], data_offsets: [24, 48] },
      },
      data,
    );
    const reader = await SafetensorsReader.open(path);
    expect(reader.tensors.get('h')).toMatchObject({ dtype: 'F16', shape: [3, 4] });
    expect(Array.from(await reader.readFloat32('h'))).toEqual(half.map(halfValue));
    expect(Array.from(await reader.readFloat32('b'))).toEqual(bf.map(bf16Value));
    await reader.close();
    await reader.close();
  });

  it('refuses to convert a non-float dtype, names it, and stays usable', async () => {
    const path = join(dir, 'int.safetensors');
    await writeRawSafetensors(
      path,
      {
        ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] },
        x: { dtype: 'F32', shape: [1], data_offsets: [16, 20] },
      },
      new Uint8Array([...new Uint8Array(16), ...new Uint8Array(Float32Array.of(1.5).buffer)]),
    );
    const reader = await SafetensorsReader.open(path);
    await expect(reader.readFloat32('ids')).rejects.toThrow(NotSupportedError);
    await expect(reader.readFloat32('ids')).rejects.toThrow(/tensor "ids": dtype I64 cannot be read as float32/);
    await expect(reader.readFloat32('nope')).rejects.toThrow(InvalidArgumentError);
    await expect(reader.readFloat32('nope')).rejects.toThrow(/int\.safetensors" has no tensor "nope"/);
    expect(Array.from(await reader.readFloat32('x'))).toEqual([1.5]);
    await reader.close();
    await expect(reader.readFloat32('x')).rejects.toThrow(/is closed/);
  });
});

describe('safetensors reads after open', () => {
  it('reports a file truncated while open as SafetensorsError naming it', async () => {
    const path = join(dir, 'shrinks.safetensors');
    await writeSafetensors(path, new Map([['w', { shape: [64], data: new Float32Array(64) }]]));
    const reader = await SafetensorsReader.open(path);
    await truncate(path, 100);
    await expect(reader.readFloat32('w')).rejects.toThrow(SafetensorsError);
    await expect(reader.readFloat32('w')).rejects.toThrow(`safetensors file "${path}": unexpected end of file`);
    await reader.close();
  });
});

describe('safetensors header validation', () => {
  const f32 = (offsets: [number, number], shape = [2]) => ({ dtype: 'F32', shape, data_offsets: offsets });
  const bad: Array<[string, unknown, number, RegExp]> = [
    ['not JSON', '{"a": ', 0, /header is not valid JSON/],
    ['not an object', '[1, 2]', 0, /header is not a JSON object/],
    ['metadata not an object', { __metadata__: 'x' }, 0, /"__metadata__" is not a JSON object/],
    ['metadata value not a string', { __metadata__: { n: 1 } }, 0, /"__metadata__\.n" is not a string/],
    ['tensor entry not an object', { t: 3 }, 0, /tensor "t" is not a JSON object/],
    ['unknown dtype', { t: { dtype: 'F12', shape: [1], data_offsets: [0, 2] } }, 2, /tensor "t": dtype "F12" is not a safetensors dtype/],
    ['negative dim', { t: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }, 0, /tensor "t": shape \[-1\] is not a list of non-negative integers/],
    ['offsets not a pair', { t: { dtype: 'F32', shape: [1], data_offsets: [4] } }, 4, /tensor "t": data_offsets \[4\] is not \[begin, end\]/],
    ['span does not fit the shape', { t: f32([0, 12]) }, 12, /tensor "t": data_offsets \[0, 12\] span 12 bytes but F32 \[2\] needs 8/],
    ['beyond the data section', { t: f32([8, 16]) }, 12, /tensor "t": data_offsets \[8, 16\] exceed the data section of 12 bytes/],
    ['overlapping tensors', { a: f32([0, 8]), b: f32([4, 12]) }, 12, /tensors "a" and "b" overlap/],
    // Found by the fuzzer (test/reliability/fuzz/): values nested deeper than JSON.stringify can
    // recurse, and long ones, are cut short in the message instead of throwing a RangeError.
    [
      'a shape nested 100,000 deep',
      `{"t":{"dtype":"F32","shape":${'['.repeat(100_000)}${']'.repeat(100_000)},"data_offsets":[0,0]}}`,
      0,
      /tensor "t": shape \[{80}\.\.\. is not a list of non-negative integers$/,
    ],
    ['a long dtype', { t: { dtype: 'F'.repeat(10_000), shape: [1], data_offsets: [0, 4] } }, 4, /tensor "t": dtype "F{79}\.\.\. is not a safetensors dtype$/],
  ];
  for (const [what, header, dataBytes, message] of bad) {
    it(`rejects ${what} with SafetensorsError naming the file`, async () => {
      const path = join(dir, `bad-${what.replace(/\W+/g, '-')}.safetensors`);
      await writeRawSafetensors(path, header, new Uint8Array(dataBytes));
      await expect(SafetensorsReader.open(path)).rejects.toThrow(SafetensorsError);
      await expect(SafetensorsReader.open(path)).rejects.toThrow(message);
      await expect(SafetensorsReader.open(path)).rejects.toThrow(`safetensors file "${path}"`);
      const bytes = new Uint8Array(await readFile(path));
      expect(() => parseSafetensorsBytes(bytes, path)).toThrow(SafetensorsError);
      expect(() => parseSafetensorsBytes(bytes, path)).toThrow(message);
      expect(() => parseSafetensorsBytes(bytes, path)).toThrow(`safetensors file "${path}"`);
    });
  }

  it('rejects a missing file, a file shorter than 8 bytes and a header length beyond the file', async () => {
    const missing = join(dir, 'missing.safetensors');
    await expect(SafetensorsReader.open(missing)).rejects.toThrow(SafetensorsError);
    await expect(SafetensorsReader.open(missing)).rejects.toThrow(`cannot open safetensors file "${missing}"`);
    const tiny = join(dir, 'tiny.safetensors');
    await writeFile(tiny, new Uint8Array(5));
    await expect(readSafetensors(tiny)).rejects.toThrow(`safetensors file "${tiny}" is 5 bytes, too short for a header`);
    const long = join(dir, 'long.safetensors');
    const bytes = new Uint8Array(20);
    new DataView(bytes.buffer).setBigUint64(0, 1000n, true);
    await writeFile(long, bytes);
    await expect(readSafetensors(long)).rejects.toThrow(SafetensorsError);
    await expect(readSafetensors(long)).rejects.toThrow(/header length 1000 exceeds the file size 20/);
    expect(() => parseSafetensorsBytes(new Uint8Array(5), tiny)).toThrow(SafetensorsError);
    expect(() => parseSafetensorsBytes(new Uint8Array(5), tiny)).toThrow(`safetensors file "${tiny}" is 5 bytes, too short for a header`);
    expect(() => parseSafetensorsBytes(bytes, long)).toThrow(SafetensorsError);
    expect(() => parseSafetensorsBytes(bytes, long)).toThrow(`safetensors file "${long}": header length 1000 exceeds the file size 20 (or 100000000)`);
  });
});

describe('safetensors writer validation', () => {
  it('rejects a data length that does not match the shape, before creating the file', async () => {
    const path = join(dir, 'never.safetensors');
    const tensors = new Map<string, FloatTensor>([['w', { shape: [2, 3], data: new Float32Array(5) }]]);
    await expect(writeSafetensors(path, tensors)).rejects.toThrow(InvalidArgumentError);
    await expect(writeSafetensors(path, tensors)).rejects.toThrow(/tensor "w": data has 5 elements but shape \[2,3\] needs 6/);
    expect(existsSync(path)).toBe(false);
  });

  it('rejects the reserved name and a bad shape', async () => {
    const path = join(dir, 'never2.safetensors');
    const reserved = new Map<string, FloatTensor>([['__metadata__', { shape: [1], data: new Float32Array(1) }]]);
    await expect(writeSafetensors(path, reserved)).rejects.toThrow(/tensor name "__metadata__" is reserved/);
    const fractional = new Map<string, FloatTensor>([['w', { shape: [1.5], data: new Float32Array(1) }]]);
    await expect(writeSafetensors(path, fractional)).rejects.toThrow(InvalidArgumentError);
    await expect(writeSafetensors(path, fractional)).rejects.toThrow(/tensor "w": shape \[1.5\] is not a list/);
    expect(existsSync(path)).toBe(false);
  });

  it('names the path when the file cannot be created', async () => {
    const path = join(dir, 'no-such-dir', 'x.safetensors');
    await expect(writeSafetensors(path, new Map())).rejects.toThrow(SafetensorsError);
    await expect(writeSafetensors(path, new Map())).rejects.toThrow(`cannot create safetensors file "${path}"`);
  });
});

/** Raw little-endian bytes of F32, F16 or BF16 values given as float32 (F32) or 16-bit patterns. */
function rawBytes(dtype: SafetensorsFloatDType, values: number[]): Uint8Array {
  if (dtype !== 'F32') return u16Bytes(values);
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return bytes;
}

describe('safetensors from bytes', () => {
  const f32 = [0, -0, 1.5, -2.25, 3.4e38, 1e-45, Infinity, -Infinity, NaN, Math.fround(Math.PI)];
  const half = [0x0000, 0x8000, 0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x7c00, 0xfc00, 0x3555, 0x7e00];
  const bf = [0x0000, 0x8000, 0x3f80, 0xc049, 0x7f7f, 0x0001, 0x7f80, 0xff80, 0x3eaa, 0x4b00, 0x7fc0, 0x1234];
  const cases: Array<[SafetensorsFloatDType, number[], number[]]> = [
    ['F32', f32, f32.map(Math.fround)],
    ['F16', half, half.map(halfValue)],
    ['BF16', bf, bf.map(bf16Value)],
  ];

  it('parses an image to the same metadata, tensors and data offset as the file reader, at any byte offset', async () => {
    const data = new Uint8Array([...rawBytes('F32', f32), ...u16Bytes(half), ...u16Bytes(bf), ...new Uint8Array(16)]);
    const path = join(dir, 'from-bytes.safetensors');
    await writeRawSafetensors(
      path,
      {
        __metadata__: { format: 'pt', note: 'x' },
        f: { dtype: 'F32', shape: [2, 5], data_offsets: [0, 40] },
        h: { dtype: 'F16', shape: [12], data_offsets: [40, 64] },
        b: { dtype: 'BF16', shape: [3, 4], data_offsets: [64, 88] },
        ids: { dtype: 'I64', shape: [2], data_offsets: [88, 104] },
        empty: { dtype: 'F32', shape: [0], data_offsets: [104, 104] },
      },
      data,
    );
    const file = new Uint8Array(await readFile(path));
    const headerLength = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
    const reader = await SafetensorsReader.open(path);
    for (const shift of [0, 1, 2, 3]) {
      const bytes = new Uint8Array(file.length + shift).subarray(shift);
      bytes.set(file);
      const layout = parseSafetensorsBytes(bytes, path);
      expect(layout.metadata).toEqual(reader.metadata);
      expect(layout.tensors).toEqual(reader.tensors);
      expect(layout.dataStart).toBe(8 + headerLength);
      for (const [name, info] of layout.tensors) {
        if (info.dtype === 'I64') continue;
        const tensor = bytes.subarray(layout.dataStart + info.begin, layout.dataStart + info.end);
        expect(tensorToFloat32(info.dtype as SafetensorsFloatDType, tensor)).toEqual(await reader.readFloat32(name));
      }
    }
    await reader.close();
  });

  it('an image written by the writer parses like the file reader reads it', async () => {
    const path = join(dir, 'from-bytes-written.safetensors');
    const g = gaussian('safetensors-from-bytes');
    await writeSafetensors(path, new Map([['w', { shape: [4, 3], data: Float32Array.from({ length: 12 }, g) }]]), { k: 'v' });
    const reader = await SafetensorsReader.open(path);
    const layout = parseSafetensorsBytes(new Uint8Array(await readFile(path)), path);
    expect(layout.metadata).toEqual({ k: 'v' });
    expect(layout.tensors).toEqual(reader.tensors);
    await reader.close();
  });

  for (const [dtype, raw, expected] of cases) {
    it(`converts ${dtype} at every byte offset to the independently decoded values`, () => {
      const encoded = rawBytes(dtype, raw);
      for (const shift of [0, 1, 2, 3, 5]) {
        const backing = new Uint8Array(encoded.length + shift + 3).fill(0xa5);
        const data = backing.subarray(shift, shift + encoded.length);
        data.set(encoded);
        const values = tensorToFloat32(dtype, data);
        expect(Array.from(values)).toEqual(expected);
        // Aligned F32 is a view of the image; everything else owns its memory.
        const view = dtype === 'F32' && shift % 4 === 0;
        expect(values.buffer === backing.buffer).toBe(view);
      }
    });
  }

  it('rejects data that is not a whole number of elements, naming the size and dtype', () => {
    expect(() => tensorToFloat32('F32', new Uint8Array(6))).toThrow(InvalidArgumentError);
    expect(() => tensorToFloat32('F32', new Uint8Array(6))).toThrow(
      'tensorToFloat32: data of 6 bytes is not a whole number of F32 elements (4 bytes each)',
    );
    expect(() => tensorToFloat32('BF16', new Uint8Array(3))).toThrow(/data of 3 bytes is not a whole number of BF16 elements/);
    expect(Array.from(tensorToFloat32('F16', u16Bytes([0x3c00])))).toEqual([1]);
  });
});
