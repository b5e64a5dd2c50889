import { readFileSync } from 'node:fs';

/**
 * A small SentencePiece-style tokenizer.json (Llama 2 / Mistral layout): BPE with byte fallback,
 * Metaspace pre-tokenizer, and the Replace + ByteFallback + Fuse + Strip decoder, so a token's text
 * depends on its neighbours and characters outside the vocabulary become <0xNN> byte tokens.
 */
export function sentencePieceTokenizerJson(): Record<string, unknown> {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  const pieces = ['▁', 'a', 'b', 'c', 'd', 'e', 'h', 'l', 'o', 'r', 'w', '▁h', '▁he', 'll', '▁hell', '▁hello', '▁w', 'or', '▁wor', '▁world', 'é'];
  for (const piece of pieces) vocab[piece] = Object.keys(vocab).length;
  const merges = ['▁ h', '▁h e', 'l l', '▁he ll', '▁hell o', '▁ w', 'o r', '▁w or', '▁wor l', '▁worl d'];
  vocab['▁worl'] = Object.keys(vocab).length;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      { id: 0, content: '<unk>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      { id: 1, content: '<s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      { id: 2, content: '</s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false },
    post_processor: null,
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}

/** The GPT-2 byte -> character alphabet, written out independently of the code under test. */
export function gpt2ByteToChar(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const out: string[] = new Array(256);
  bs.forEach((b, i) => (out[b] = String.fromCharCode(cs[i])));
  return out;
}

/** The added tokens listed in the Qwen tokenizer.json, read directly from the file. */
export function addedTokensOf(path: string): Array<{ id: number; content: string; special: boolean }> {
  return (JSON.parse(readFileSync(path, 'utf8')) as { added_tokens: Array<{ id: number; content: string; special: boolean }> }).added_tokens;
}

/** Strings covering ASCII, CJK, emoji (incl. ZWJ sequences and flags), combining marks, RTL, whitespace and special tokens. */
export const SAMPLE_TEXTS: readonly string[] = [
  'Hello, world!',
  'The quick brown fox jumps over the lazy dog. 1234567890',
  '  leading spaces, trailing spaces   ',
  'tabs\tand\nnewlines\r\n\n\nend',
  '你好，世界！今天天气怎么样？',
  '日本語のテキストと한국어 텍스트',
  '😀😃😄😁 🎉🎊 👍🏽',
  '👩‍👩‍👧‍👦 family and 🏳️‍🌈 flag 🇯🇵🇫🇷',
  'mixed: café, naïve, Ω≈ç√∫, ∑∏, “quotes” — dash…',
  'مرحبا بالعالم שלום עולם',
  'Ελληνικά и русский текст',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕞𝕒𝕥𝕙 𝟙𝟚𝟛 and 𠀀𠀁 (CJK ext B)',
  '<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\n你好 😀<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n',
  'code: function f(x) { return x ** 2; } // ✓',
  '\u0000 control \u0007 chars \u001b[0m',
];
