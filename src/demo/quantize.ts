/**
 * The IO types of a demo bundle for its `quant` option, and the bytes of its LUT.
 *
 * `htp` calibrates on the demo model itself: the float32 parts are written to a scratch folder and
 * run by the Engine on CALIBRATION_TEXTS (each from an empty cache: its first (CL - largest AR) / 2
 * tokens, then up to CALIBRATION_DECODE_STEPS greedy tokens), the range of every float IO tensor
 * is recorded, the embedding table's range is added to the tensors fed with raw embedding rows,
 * and `htpIoTypes` derives the encodings: KV uint8 symmetric (offset -128) per tensor from max |x| over `_in` and
 * `_out` (shared) plus 10%; attention_mask uint16 over [-50, 0]; cos/sin uint16 over [-1, 1];
 * embeddings, hidden-state handoffs and logits uint16 over [min, max] widened by 10% of the width on
 * each side. An embeds bundle's LUT is then uint16 over the table's own [min, max]: an encoding
 * of its own, which the Engine requantizes into input_embeds' encoding at lookup, as Genie does.
 *
 * `fp16` needs no calibration: every float IO tensor is FLOAT_16, and the LUT stays float32 (the
 * Engine converts its rows to float16).
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { openReferenceBackend, writeReferenceCtxBin, type Qwen2Checkpoint } from '../backends/reference/index.js';
import { EMBED_TOKENS } from '../backends/reference/names.js';
import { quantizeArray } from '../tensor/quant.js';
import { EmbeddingTable } from '../runtime/embeddings/lut.js';
import { calibrateIoRanges, float16IoTypes, htpIoTypes, rangeEncoding, type GraphIo, type IoType } from '../runtime/quant/index.js';
import { loadTokenizer, demoTokenizerPath } from '../runtime/tokenizer/index.js';
import { END_OF_TEXT, type DemoLutType } from './genie-config.js';
import { DEMO_ROPE_THETA, DEMO_VOCAB_SIZE } from './model.js';
import type { DemoOptions } from './options.js';
import { demoParts } from './parts.js';

const chat = (user: string): string => `<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n`;

/** Fixed calibration prompts: a short question, a paragraph (several AR-32 chunks), code. */
const CALIBRATION_TEXTS: readonly string[] = [
  chat('What is the capital of France?'),
  chat(
    'Summarize the following in two sentences. The river rises in the mountains, where snow melts every spring ' +
      'and feeds a hundred small streams. It crosses three countries, turns the mills of old towns, and carries ' +
      'barges loaded with grain, timber and coal down to the sea, where its delta spreads into marshes full of birds.',
  ),
  chat('Write a Python function that returns the n-th Fibonacci number:\n```python\ndef fib(n: int) -> int:\n'),
];
const CALIBRATION_DECODE_STEPS = 16;

export interface DemoIo {
  /** For `splitQwen2Checkpoint`: float-valued IO tensors that are not FLOAT_32. */
  readonly tensorTypes: Readonly<Record<string, IoType>>;
  /** The config's description of `embedding_lut.bin`. */
  readonly lut: DemoLutType;
  /** The LUT file's bytes (embeds bundles only). */
  readonly lutBytes?: Uint8Array;
}

const bytesOf = (array: Float32Array | Uint16Array): Uint8Array => new Uint8Array(array.buffer, array.byteOffset, array.byteLength);

/** `scratch` is an absent folder the calibration may use; it is removed before this returns. */
export async function demoIo(options: DemoOptions, checkpoint: Qwen2Checkpoint, scratch: string): Promise<DemoIo> {
  const table = checkpoint.weights.get(EMBED_TOKENS)!.data;
  const embeds = options.input === 'embeds';
  switch (options.quant) {
    case 'none':
      return { tensorTypes: {}, lut: { datatype: 'float32' }, lutBytes: embeds ? bytesOf(table) : undefined };
    case 'fp16':
      return { tensorTypes: float16IoTypes(graphsOf(options, checkpoint)), lut: { datatype: 'float32' }, lutBytes: embeds ? bytesOf(table) : undefined };
    case 'htp': {
      const tensorTypes = await calibratedTypes(options, checkpoint, scratch);
      if (!embeds) return { tensorTypes, lut: { datatype: 'float32' } };
      let min = Infinity;
      let max = -Infinity;
      for (const x of table) {
        if (x < min) min = x;
        if (x > max) max = x;
      }
      const quantParam = rangeEncoding({ min, max }, 'UFIXED_POINT_16');
      const codes = quantizeArray(table, new Uint16Array(table.length), quantParam, 'UFIXED_POINT_16');
      return { tensorTypes, lut: { datatype: 'ufixed16', quantParam }, lutBytes: bytesOf(codes) };
    }
  }
}

function graphsOf(options: DemoOptions, checkpoint: Qwen2Checkpoint): GraphIo[] {
  return demoParts(options, checkpoint).flatMap((part) => part.metadata.graphs);
}

/** Each text's first (CL - largest AR) / 2 tokens: a prefill that fits every variant, then room to decode. */
async function calibrationPrompts(options: DemoOptions): Promise<number[][]> {
  const tokenizer = await loadTokenizer(demoTokenizerPath());
  const limit = Math.max(1, Math.floor((options.cl - Math.max(...options.ar)) / 2));
  return CALIBRATION_TEXTS.map((text) => Array.from(tokenizer.encode(text).subarray(0, limit)));
}

async function calibratedTypes(options: DemoOptions, checkpoint: Qwen2Checkpoint, scratch: string): Promise<Record<string, IoType>> {
  await mkdir(scratch);
  try {
    const paths: string[] = [];
    for (const [i, part] of demoParts(options, checkpoint).entries()) {
      paths.push(join(scratch, `float_part_${i + 1}.safetensors`));
      await writeReferenceCtxBin(paths[i], part);
    }
    const backend = await openReferenceBackend(paths);
    const graphs = backend.graphs;
    const table = checkpoint.weights.get(EMBED_TOKENS)!.data;
    const embeddings =
      options.input === 'embeds'
        ? EmbeddingTable.fromRows({ nVocab: DEMO_VOCAB_SIZE, size: options.hidden, dtype: 'FLOAT_32' }, table)
        : undefined;
    const ranges = await calibrateIoRanges(
      backend,
      {
        contextSize: options.cl,
        // The config's primary EOS: its eot-token (a scalar eos-token with an eot-token, as qualla derives it).
        padToken: END_OF_TEXT,
        eosToken: END_OF_TEXT,
        rope: { theta: DEMO_ROPE_THETA, scaling: { type: 'default' } },
        embeddings,
      },
      { prompts: await calibrationPrompts(options), decodeSteps: CALIBRATION_DECODE_STEPS, embeddingTable: table },
    );
    return htpIoTypes(graphs, ranges);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
