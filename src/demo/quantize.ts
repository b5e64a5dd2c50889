/**
 * The IO types of a demo bundle for its `quant` option, and the bytes of its LUT.
 *
 * `htp` calibrates on the demo model itself (`export/calibrate.ts`): the float32 parts are written
 * to a scratch folder and run by the Engine on CALIBRATION_TEXTS (each from an empty cache: its first (CL - largest AR) / 2
 * tokens, then up to CALIBRATION_DECODE_STEPS (16) greedy tokens), the range of every float IO tensor
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
import type { Qwen2Checkpoint } from '../backends/reference/index.js';
import { EMBED_TOKENS } from '../backends/reference/names.js';
import { calibrateHtpIo, htpLut, promptTokenLimit } from '../export/calibrate.js';
import { DEFAULT_CALIBRATION_TEXTS } from '../export/prompts.js';
import { float16IoTypes, type GraphIo, type IoType } from '../runtime/quant/index.js';
import { loadTokenizer, demoTokenizerPath } from '../runtime/tokenizer/index.js';
import { END_OF_TEXT, type DemoLutType } from './genie-config.js';
import { DEMO_ROPE_THETA, DEMO_VOCAB_SIZE } from './model.js';
import type { DemoOptions } from './options.js';
import { demoParts } from './parts.js';

const chat = (user: string): string => `<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n`;

/** The built-in calibration prompts in Qwen's chat markup, as the demo model is prompted. */
const CALIBRATION_TEXTS: readonly string[] = DEFAULT_CALIBRATION_TEXTS.map(chat);

export interface DemoIo {
  /** For `splitQwen2Checkpoint`: float-valued IO tensors that are not FLOAT_32. */
  readonly tensorTypes: Readonly<Record<string, IoType>>;
  /** The config's description of `embedding_lut.bin`. */
  readonly lut: DemoLutType;
  /** The LUT file's bytes (embeds bundles only). */
  readonly lutBytes?: Uint8Array;
}

const bytesOf = (array: Float32Array): Uint8Array => new Uint8Array(array.buffer, array.byteOffset, array.byteLength);

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
      const { quantParam, bytes } = htpLut(table);
      return { tensorTypes, lut: { datatype: 'ufixed16', quantParam }, lutBytes: bytes };
    }
  }
}

function graphsOf(options: DemoOptions, checkpoint: Qwen2Checkpoint): GraphIo[] {
  return demoParts(options, checkpoint).flatMap((part) => part.metadata.graphs);
}

/** Each text's first (CL - largest AR) / 2 tokens: a prefill that fits every variant, then room to decode. */
async function calibrationPrompts(options: DemoOptions): Promise<number[][]> {
  const tokenizer = await loadTokenizer(demoTokenizerPath());
  const limit = promptTokenLimit(options.cl, options.ar);
  return CALIBRATION_TEXTS.map((text) => Array.from(tokenizer.encode(text).subarray(0, limit)));
}

async function calibratedTypes(options: DemoOptions, checkpoint: Qwen2Checkpoint, scratch: string): Promise<Record<string, IoType>> {
  return calibrateHtpIo({
    parts: demoParts(options, checkpoint),
    input: options.input,
    contextSize: options.cl,
    embeddingTable: checkpoint.weights.get(EMBED_TOKENS)!.data,
    vocabSize: DEMO_VOCAB_SIZE,
    hiddenSize: options.hidden,
    // The config's primary EOS: its eot-token (a scalar eos-token with an eot-token, as qualla derives it).
    padToken: END_OF_TEXT,
    eosToken: END_OF_TEXT,
    rope: { theta: DEMO_ROPE_THETA, scaling: { type: 'default' } },
    prompts: await calibrationPrompts(options),
    scratch,
  });
}
