/**
 * Fuzzing the readers of the prompt and table files a user hands the CLI or the library: the
 * `-tok` tokens file (through `genie-ts run`, which reads it before anything else; the config it
 * names does not exist, so a valid file ends in a config error), `-e`/`-t` specs and embedding
 * files (rows checked as an embedding query checks them), and the embedding LUT
 * (`EmbeddingTable.load` with declared n-vocab, size, dtype and encoding, then row lookups).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe } from 'vitest';
import { embeddingFileRows, parseEmbeddingFileSpec, type EmbeddingFileSpec } from '../../../src/cli/commands/embedding-file.js';
import { checkEmbeddingRows } from '../../../src/runtime/embeddings/rows.js';
import { EmbeddingTable } from '../../../src/runtime/embeddings/lut.js';
import type { DataTypeName } from '../../../src/tensor/dtype.js';
import { tempDir } from '../../backends/reference/fixtures.js';
import { cli } from '../../cli/fixtures.js';
import { fuzz } from './harness.js';
import { mutatedBytes, mutatedText } from './mutations.js';

const dir = tempDir('fuzz-input-files');
let count = 0;
const scratch = (bytes: Uint8Array | string, name = 'file'): string => {
  const path = join(dir, `${name}-${count++ % 8}`);
  writeFileSync(path, bytes);
  return path;
};

describe('fuzz: tokens files (genie-ts run -tok)', () => {
  const missingConfig = join(dir, 'no-such-config.json');
  const tokenText = fc.oneof(
    { weight: 4, arbitrary: mutatedText(['151644 872 198 9707 151645\n', '1\t2\n3  4\r\n', '0', '  42  ']) },
    { weight: 2, arbitrary: fc.array(fc.oneof(fc.nat().map(String), fc.constantFrom('-1', '1e3', '0x10', '99999999999999999999', '4294967296', '', '１２', '1.5')), { maxLength: 20 }).map((words) => words.join(' ')) },
    { weight: 1, arbitrary: fc.string({ maxLength: 100, unit: 'binary' }) },
  );
  fuzz('-tok FILE', tokenText, async (text) => {
    const result = await cli(['run', '-c', missingConfig, '-tok', scratch(text, 'tokens')]);
    // Every outcome here is a reported error: one line on stderr, exit 1, nothing thrown.
    if (result.code !== 1 || result.stdout !== '' || result.stderr.split('\n').length !== 2) {
      throw new Error(`unexpected CLI result ${JSON.stringify(result)}`);
    }
  }, { runs: 150 });
});

const TYPES = ['float32', 'uint8', 'uint16', 'int8', 'int16'];

describe('fuzz: embedding files (genie-ts run -e / -t)', () => {
  const specText = fc.oneof(
    { weight: 3, arbitrary: mutatedText(['rows.bin', 'rows.bin,float32', 'rows.bin,uint16,0.0001,-32768', 'rows.bin,int8,0.5,0', 'a,b,c']) },
    { weight: 2, arbitrary: fc.tuple(fc.string({ maxLength: 6 }), fc.constantFrom(...TYPES, 'float16', ''), fc.oneof(fc.double().map(String), fc.constantFrom('', '0', '-1', 'NaN', 'Infinity', '1e-400')), fc.oneof(fc.integer().map(String), fc.constantFrom('', '2147483648', '-0', '1.5', '9999999999999999999'))).map((parts) => parts.join(',')) },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  );
  fuzz('parseEmbeddingFileSpec', specText, (text) => parseEmbeddingFileSpec('--embedding_file', text), { runs: 400 });

  const spec: fc.Arbitrary<EmbeddingFileSpec> = fc.oneof(
    fc.constant({ path: 'rows.bin', dtype: 'FLOAT_32' as DataTypeName }),
    fc.record({
      path: fc.constant('rows.bin'),
      dtype: fc.constantFrom<DataTypeName>('UFIXED_POINT_8', 'UFIXED_POINT_16', 'SFIXED_POINT_8', 'SFIXED_POINT_16'),
      encoding: fc.record({ scale: fc.constantFrom(1e-4, 0.5, 1), offset: fc.integer({ min: -70000, max: 70000 }) }),
    }),
  );
  const rowElements = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(16, 8, 4, 1) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 64 }) },
    { weight: 1, arbitrary: fc.constantFrom(0, -1, 0.5, 2 ** 31, Number.MAX_SAFE_INTEGER, Number.NaN) },
  );
  const validRows = Array.from({ length: 4 }, (_, i) => new Uint8Array(Float32Array.from({ length: 16 * (i + 1) }, (_, j) => Math.sin(j)).buffer));
  const bytes = fc.oneof({ weight: 1, arbitrary: fc.uint8Array({ maxLength: 600 }) }, { weight: 2, arbitrary: mutatedBytes(validRows, 2) }, { weight: 1, arbitrary: fc.constantFrom(...validRows) });
  fuzz('embeddingFileRows and the embedding query row check', fc.tuple(bytes, rowElements, spec), ([data, elements, fileSpec]) => {
    const rows = embeddingFileRows(data, elements, fileSpec, '--embedding_file "rows.bin"');
    checkEmbeddingRows(rows, elements, 'embeddings');
  }, { runs: 600 });
});

describe('fuzz: embedding LUT files', () => {
  const LUT_TYPES: readonly DataTypeName[] = ['FLOAT_32', 'UFIXED_POINT_8', 'UFIXED_POINT_16', 'SFIXED_POINT_8', 'SFIXED_POINT_16', 'FLOAT_16', 'INT_32'];
  const validLuts = [new Uint8Array(Float32Array.from({ length: 32 * 8 }, (_, i) => Math.cos(i)).buffer), new Uint8Array(Uint16Array.from({ length: 32 * 8 }, (_, i) => i * 97).buffer)];
  const encoding = fc.record({ scale: fc.constantFrom(1e-3, 1), offset: fc.integer({ min: -70000, max: 70000 }) });
  const badEncoding = fc.record({
    scale: fc.constantFrom(1e-3, 0, -1, Number.NaN, Number.POSITIVE_INFINITY),
    offset: fc.oneof(fc.integer({ min: -70000, max: 70000 }), fc.constantFrom(0.5, 2 ** 31, Number.NaN)),
  });
  const lutInput = fc.record({
    bytes: fc.oneof({ weight: 2, arbitrary: mutatedBytes(validLuts, 2) }, { weight: 2, arbitrary: fc.constantFrom(...validLuts) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2048 }) }),
    nVocab: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(32, 64, 16) }, { weight: 1, arbitrary: fc.constantFrom(0, -1, 1.5, 1e9, 2 ** 40, Number.MAX_SAFE_INTEGER, Number.NaN) }),
    size: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(8, 4, 16) }, { weight: 1, arbitrary: fc.constantFrom(0, -3, 1e9, 2 ** 31, Number.POSITIVE_INFINITY) }),
    dtype: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...LUT_TYPES.slice(0, 5)) }, { weight: 1, arbitrary: fc.constantFrom(...LUT_TYPES.slice(5)) }),
    encoding: fc.oneof({ weight: 5, arbitrary: encoding }, { weight: 1, arbitrary: badEncoding }, { weight: 1, arbitrary: fc.constant(undefined) }),
    tokens: fc.array(fc.oneof({ weight: 6, arbitrary: fc.nat({ max: 15 }) }, { weight: 1, arbitrary: fc.constantFrom(-1, 64, 0.5, Number.NaN, 2 ** 31) }), { maxLength: 4 }),
  });
  fuzz('EmbeddingTable.load and row lookups', lutInput, (input) => {
    const table = EmbeddingTable.load({ path: scratch(input.bytes, 'lut'), nVocab: input.nVocab, size: input.size, dtype: input.dtype, encoding: input.encoding });
    const target = { data: new Float32Array(input.size * Math.max(1, input.tokens.length)), dtype: 'FLOAT_32' as const };
    table.writeRows(input.tokens, 0, input.tokens.length, Math.max(1, input.tokens.length), 0, target);
  }, { runs: 400, bytes: (input) => input.bytes.byteLength });

  // Paths that are not table files: each must be refused without reading (a device or FIFO would never end).
  const special: string[] = [join(dir, 'missing-lut.bin')];
  mkdirSync(join(dir, 'lut-dir'), { recursive: true });
  special.push(join(dir, 'lut-dir'));
  if (existsSync('/dev/zero')) special.push('/dev/zero');
  if (process.platform !== 'win32') {
    execFileSync('mkfifo', [join(dir, 'lut-fifo')]);
    special.push(join(dir, 'lut-fifo'));
  }
  fuzz('EmbeddingTable.load of paths that are not files', fc.tuple(fc.constantFrom(...special), fc.constantFrom(1, 32, 1e6)), ([path, nVocab]) => {
    EmbeddingTable.load({ path, nVocab, size: 8, dtype: 'FLOAT_32' });
  }, { runs: 20 });
});
