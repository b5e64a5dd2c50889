/** The demo bundle's `genie_config.json`: a Qwen2.5-style dialog on the Reference or QnnHtp backend. */
import type { Encoding } from '../tensor/dtype.js';
import { LUT_FILE, TOKENIZER_FILE } from './layout.js';
import { DEMO_ROPE_THETA, DEMO_VOCAB_SIZE } from './model.js';
import type { DemoOptions } from './options.js';

/** `<|im_end|>`: ends an assistant turn (the config's eos-token). */
export const IM_END = 151645;
/** `<|endoftext|>`: Qwen's end-of-text and pad token. */
export const END_OF_TEXT = 151643;

/**
 * The config's `max-num-tokens`: random weights never sample the EOS, so without a cap a reply
 * would run until the context is full (Genie's context-exceeded warning). `-n` overrides it.
 */
export const DEMO_MAX_NUM_TOKENS = 128;

/** How `embedding_lut.bin` stores its values: the config's `datatype` and `quant-param`. */
export interface DemoLutType {
  readonly datatype: 'float32' | 'ufixed16';
  readonly quantParam?: Encoding;
}

const FLOAT32_LUT: DemoLutType = { datatype: 'float32' };

/** AI Hub's QnnHtp block (`create_genie_config`), single-threaded like the rest of the demo. */
const QNN_HTP_BACKEND = {
  version: 1,
  type: 'QnnHtp',
  QnnHtp: { version: 1, 'spill-fill-bufsize': 0, 'mmap-budget': 0, 'use-mmap': true, 'cpu-mask': '0xe0', poll: true, 'allow-async-init': false },
};

/**
 * The config object (written as JSON). Paths are relative to the bundle folder, so the folder can
 * move. `ctxBins` are the part files in split order; `lut` describes the LUT of an embeds bundle.
 */
export function demoGenieConfig(options: DemoOptions, ctxBins: readonly string[], lut: DemoLutType = FLOAT32_LUT): Record<string, unknown> {
  const headDim = options.hidden / options.heads;
  return {
    dialog: {
      version: 1,
      type: 'basic',
      context: {
        version: 1,
        size: options.cl,
        'n-vocab': DEMO_VOCAB_SIZE,
        'bos-token': -1,
        'eos-token': IM_END,
        'eot-token': END_OF_TEXT,
        'pad-token': END_OF_TEXT,
      },
      sampler: { version: 1, seed: options.seed, temp: 0.8, 'top-k': 40, 'top-p': 0.95 },
      tokenizer: { version: 1, path: TOKENIZER_FILE },
      'max-num-tokens': DEMO_MAX_NUM_TOKENS,
      ...(options.input === 'embeds'
        ? {
            embedding: {
              version: 1,
              type: 'lut',
              'lut-path': LUT_FILE,
              size: options.hidden,
              datatype: lut.datatype,
              ...(lut.quantParam === undefined ? {} : { 'quant-param': { scale: lut.quantParam.scale, offset: lut.quantParam.offset } }),
            },
          }
        : {}),
      engine: {
        version: 1,
        'n-threads': 1,
        backend: options.backend === 'qnn-htp' ? QNN_HTP_BACKEND : { version: 1, type: 'Reference' },
        model: {
          version: 1,
          type: 'binary',
          binary: { version: 1, 'ctx-bins': [...ctxBins] },
          'positional-encoding': { type: 'rope', 'rope-dim': headDim / 2, 'rope-theta': DEMO_ROPE_THETA },
        },
      },
    },
  };
}
