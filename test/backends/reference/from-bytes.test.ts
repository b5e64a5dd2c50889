import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CtxBinError, loadCtxBinProgram, openReferenceBackend, readCtxBinGraphs } from '../../../src/backends/reference/index.js';
import { InvalidArgumentError } from '../../../src/errors.js';
import { SafetensorsError } from '../../../src/formats/index.js';
import { byteSize } from '../../../src/tensor/dtype.js';
import { float32ArrayToFloat16 } from '../../../src/tensor/fp16.js';
import { ctxBin, dir } from '../../simulator/fixtures.js';

type Dtype = 'F32' | 'F16' | 'BF16';

/** Re-packs a F32 safetensors image with weights as `dtype`, the data section starting at `dataStart % 4 == misalign`. */
function repack(bytes: Uint8Array, dtype: Dtype, misalign: number): Uint8Array {
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [begin, end] = entry.data_offsets;
    const f32 = new Float32Array(bytes.slice(8 + headerLength + begin, 8 + headerLength + end).buffer);
    let data: Uint8Array;
    if (dtype === 'F32') data = new Uint8Array(f32.buffer);
    else if (dtype === 'F16') data = new Uint8Array(float32ArrayToFloat16(f32, new Uint16Array(f32.length)).buffer);
    else data = new Uint8Array(Uint16Array.from(new Uint32Array(f32.buffer), (w) => w >>> 16).buffer);
    header[name] = { dtype, shape: entry.shape, data_offsets: [offset, offset + data.length] };
    chunks.push(data);
    offset += data.length;
  }
  let text = JSON.stringify(header);
  while ((8 + text.length) % 4 !== misalign) text += ' ';
  const out = new Uint8Array(8 + text.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(new TextEncoder().encode(text), 8);
  let at = 8 + text.length;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** Runs every graph of the file-backed Reference backend and of the in-memory program on the same inputs. */
async function compareRuns(path: string, bytes: Uint8Array): Promise<void> {
  const backend = await openReferenceBackend([path]);
  const program = loadCtxBinProgram(bytes, 'image');
  expect(program.graphs).toEqual(backend.graphs);
  for (const graph of backend.graphs) {
    const fileBuffers = new Map<string, Uint8Array>();
    const memoryBuffers = new Map<string, Uint8Array>();
    for (const t of [...graph.inputs, ...graph.outputs]) {
      const size = t.shape.reduce((a, b) => a * b, 1) * byteSize(t.dtype);
      const buffer = backend.allocate(size);
      if (t.name === 'input_ids') new Int32Array(buffer.buffer).forEach((_, i, a) => (a[i] = (i * 13 + 5) % 100));
      else if (graph.inputs.includes(t)) new Float32Array(buffer.buffer).forEach((_, i, a) => (a[i] = Math.cos(i * 0.61) * 0.4));
      fileBuffers.set(t.name, buffer);
      memoryBuffers.set(t.name, buffer.slice());
    }
    backend.bind(graph.name, fileBuffers);
    await backend.execute(graph.name);
    program.bind(graph.name, memoryBuffers).run();
    for (const t of graph.outputs) {
      expect(fileBuffers.get(t.name)!.some((b) => b !== 0)).toBe(true);
      expect(memoryBuffers.get(t.name)).toEqual(fileBuffers.get(t.name));
    }
  }
  await backend.dispose();
}

describe('reference ctx-bins from bytes', () => {
  it('graphs equal the file-backed Reference backend (without reading weights)', async () => {
    const { path, bytes } = await ctxBin('from-bytes');
    const backend = await openReferenceBackend([path]);
    expect(readCtxBinGraphs(bytes, 'image')).toEqual(backend.graphs);
    await backend.dispose();
  });

  for (const [dtype, misalign] of [['F32', 0], ['F32', 2], ['F16', 0], ['F16', 1], ['BF16', 3]] as const) {
    it(`${dtype} weights, data section at offset % 4 = ${misalign}: outputs equal the file-backed backend bitwise`, async () => {
      const { bytes } = await ctxBin(`from-bytes-${dtype}-${misalign}`);
      const image = repack(bytes, dtype, misalign);
      const path = join(dir, `repacked-${dtype}-${misalign}.safetensors`);
      await writeFile(path, image);
      await compareRuns(path, image);
    });
  }

  it('bind names the unknown graph or the missing buffer (InvalidArgumentError); the program stays usable', async () => {
    const { bytes } = await ctxBin('from-bytes-bind');
    const program = loadCtxBinProgram(bytes, 'image');
    expect(() => program.bind('nope', new Map())).toThrow(InvalidArgumentError);
    expect(() => program.bind('nope', new Map())).toThrow(/bind: unknown graph "nope" \(graphs: token_ar1_cl16_1_of_1, prompt_ar4_cl16_1_of_1\)/);
    expect(() => program.bind('token_ar1_cl16_1_of_1', new Map())).toThrow(/bind "token_ar1_cl16_1_of_1": no buffer for tensor "input_ids"/);
    expect(program.graphs).toHaveLength(2);
  });

  const header = (text: string, data = 0): Uint8Array => {
    const encoded = new TextEncoder().encode(text);
    const out = new Uint8Array(8 + encoded.length + data);
    new DataView(out.buffer).setBigUint64(0, BigInt(encoded.length), true);
    out.set(encoded, 8);
    return out;
  };
  // Container problems: the safetensors parser's message (naming the label as the file), wrapped.
  const container: Array<[string, Uint8Array, RegExp]> = [
    ['too short', new Uint8Array(7), /^safetensors file "img" is 7 bytes, too short for a header$/],
    ['header length past the end', header('{}').subarray(0, 9), /^safetensors file "img": header length 2 exceeds the file size 9 \(or 100000000\)$/],
    ['header not JSON', header('{"a":'), /^safetensors file "img": header is not valid JSON: /],
    ['header not an object', header('[1]'), /^safetensors file "img": header is not a JSON object$/],
    ['metadata not strings', header('{"__metadata__":{"genie-ts":1}}'), /^safetensors file "img": "__metadata__\.genie-ts" is not a string$/],
    ['bad shape', header('{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', 4), /^safetensors file "img": tensor "w": shape \[-1\] is not a list of non-negative integers$/],
    ['offsets past the data', header('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', 4), /^safetensors file "img": tensor "w": data_offsets \[0, 8\] exceed the data section of 4 bytes$/],
    ['span mismatch', header('{"w":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}}', 8), /^safetensors file "img": tensor "w": data_offsets \[0, 8\] span 8 bytes but F16 \[2\] needs 4$/],
    ['overlapping tensors', header('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', 8), /^safetensors file "img": tensors "a" and "b" overlap$/],
  ];
  for (const [name, bytes, problem] of container) {
    it(`${name}: CtxBinError naming the label and the safetensors problem, which is the cause`, () => {
      expect(() => readCtxBinGraphs(bytes, 'img')).toThrow(CtxBinError);
      let error: unknown;
      try {
        loadCtxBinProgram(bytes, 'img');
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(CtxBinError);
      const { message, cause } = error as CtxBinError;
      expect(cause).toBeInstanceOf(SafetensorsError);
      expect((cause as SafetensorsError).message).toMatch(problem);
      expect(message).toBe(`reference ctx-bin "img": ${(cause as SafetensorsError).message}`);
    });
  }

  /** The `genie-ts` metadata of a valid ctx-bin, edited, in a new image with the same weights. */
  const withMetadata = async (name: string, edit: (metadata: Record<string, unknown>) => string): Promise<Uint8Array> => {
    const { bytes } = await ctxBin(name);
    const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    const head = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as Record<string, Record<string, string>>;
    const text = JSON.stringify({ ...head, __metadata__: { 'genie-ts': edit(JSON.parse(head.__metadata__['genie-ts'])) } });
    const image = header(text, bytes.length - 8 - length);
    image.set(bytes.subarray(8 + length), 8 + new TextEncoder().encode(text).length);
    return image;
  };
  type Graphs = Array<{ name: string; inputs: Array<{ name: string }> }>;

  // Found by the fuzzer (test/reliability/fuzz/): a graph or tensor name with a NUL or a lone
  // surrogate reached QNN as a different C string; a version nested deeper than JSON.stringify can
  // recurse threw a RangeError while the message was written.
  it('refuses graph and tensor names that are not C strings', async () => {
    const cases: Array<[string, (graphs: Graphs) => void, string]> = [
      ['a NUL in a tensor name', (graphs) => (graphs[0].inputs[0].name = 'input\u0000ids'), 'graphs[0].inputs[0].name'],
      ['a lone surrogate in a tensor name', (graphs) => (graphs[1].inputs[1].name = 'mask\ud800'), 'graphs[1].inputs[1].name'],
      ['a NUL in a graph name', (graphs) => (graphs[0].name = 'token\u0000'), 'graphs[0].name'],
    ];
    for (const [what, edit, key] of cases) {
      const image = await withMetadata('from-bytes-names', (metadata) => {
        edit(metadata.graphs as Graphs);
        return JSON.stringify(metadata);
      });
      expect(() => readCtxBinGraphs(image, 'img'), what).toThrow(CtxBinError);
      expect(() => readCtxBinGraphs(image, 'img'), what).toThrow(
        `reference ctx-bin "img": key ${key}: a name must be a C string: no NUL character and no lone UTF-16 surrogate`,
      );
    }
  });

  it('names a version nested 100,000 deep, cut short', async () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const image = await withMetadata('from-bytes-deep', (metadata) => JSON.stringify(metadata).replace('"version":1', `"version":${deep}`));
    expect(() => loadCtxBinProgram(image, 'img')).toThrow(CtxBinError);
    expect(() => loadCtxBinProgram(image, 'img')).toThrow(`reference ctx-bin "img": key version: ${'['.repeat(80)}... is not supported (this build reads versions 1, 2 and 3)`);
  });

  // Valid safetensors that is not a reference ctx-bin.
  const notCtxBin: Array<[string, Uint8Array, RegExp]> = [
    ['integer weights', header('{"w":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}', 4), /^reference ctx-bin "img": tensor "w": dtype I32 is not a float weight dtype \(F32, F16, BF16\)$/],
    ['no genie-ts metadata', header('{}'), /^reference ctx-bin "img": __metadata__ has no "genie-ts" entry \(not a genie-ts reference ctx-bin\)$/],
  ];
  for (const [name, bytes, message] of notCtxBin) {
    it(`${name}: CtxBinError naming the label and the problem`, () => {
      expect(() => readCtxBinGraphs(bytes, 'img')).toThrow(CtxBinError);
      expect(() => loadCtxBinProgram(bytes, 'img')).toThrow(message);
    });
  }
});
