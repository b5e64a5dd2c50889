import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../../src/runtime/config/index.js';
import { BASE_DIR, dialog, dialogIssues, dialogUnsupported, engine, htp, issuesOf, parseDialog, type Json } from './fixtures.js';

const issue = (path: string, message: string) => ({ path, message });

describe('a valid dialog', () => {
  it('parses, keeping kebab-case keys and the root discriminant', () => {
    const config = parseDialog();
    expect(config.root).toBe('dialog');
    if (config.root !== 'dialog') throw new Error('unreachable');
    expect(config.dialog.context['n-vocab']).toBe(151936);
    expect(config.dialog.type).toBe('basic');
  });

  it('does not change the object it was given', () => {
    const body = dialog();
    const before = JSON.stringify(body);
    parseConfig({ dialog: body }, { baseDir: BASE_DIR });
    expect(JSON.stringify(body)).toBe(before);
  });
});

describe('top level', () => {
  it('rejects a non-object', () => {
    expect(issuesOf(5)).toEqual([
      issue('(top level)', 'expected an object with one root key ("dialog", "text-generator", "text-encoder", "lut-encoder", "image-encoder", "sampler", "embedding", "standalone-engine", "profile"), found 5'),
    ]);
  });

  it('rejects an unknown root key and a missing root', () => {
    expect(issuesOf({ dialogue: dialog() })).toEqual([
      issue('dialogue', 'unknown root key; expected one of: dialog, text-generator, text-encoder, lut-encoder, image-encoder, sampler, embedding, standalone-engine, profile'),
      issue('(top level)', 'expected exactly one root key ("dialog", "text-generator", "text-encoder", "lut-encoder", "image-encoder", "sampler", "embedding", "standalone-engine", "profile"), found none'),
    ]);
  });

  it('rejects two roots', () => {
    expect(issuesOf({ dialog: dialog(), profile: { version: 1 } })).toEqual([
      issue('(top level)', expect.stringMatching(/^expected exactly one root key .*, found 2: dialog, profile$/)),
    ]);
  });
});

describe('unknown keys, versions and mandatory keys', () => {
  it('names every unknown key with its path and the allowed keys', () => {
    expect(dialogIssues((d) => (d.engine.backend.QnnHtp['cpu-masks'] = '0xe0'))).toEqual([
      issue(
        'dialog.engine.backend.QnnHtp.cpu-masks',
        'unknown key; expected one of: version, spill-fill-bufsize, mmap-budget, use-mmap, cpu-mask, poll, pos-id-dim, rope-theta, kv-dim, kv-update-method, allow-async-init, enable-graph-switching, graph-switching-lora-policy, skip-lora-validation, shared-engine, data-alignment-size',
      ),
    ]);
    expect(dialogIssues((d) => (d.context.foo = 1)).map((i) => i.path)).toEqual(['dialog.context.foo']);
  });

  it('rejects keys Genie does not know, such as the seed\'s model.input', () => {
    expect(dialogIssues((d) => (d.engine.model.input = 'embeddings')).map((i) => i.path)).toEqual(['dialog.engine.model.input']);
  });

  it('requires "version": 1 in every object', () => {
    expect(dialogIssues((d) => delete d.engine.model.binary.version)).toEqual([
      issue('dialog.engine.model.binary.version', 'mandatory key is missing (expected 1)'),
    ]);
    expect(dialogIssues((d) => (d.tokenizer.version = 2))).toEqual([issue('dialog.tokenizer.version', 'expected 1, found 2')]);
  });

  it.each(['spill-fill-bufsize', 'mmap-budget', 'use-mmap', 'cpu-mask', 'poll'])('requires QnnHtp.%s', (key) => {
    const issues = dialogIssues((d) => delete d.engine.backend.QnnHtp[key]);
    expect(issues).toHaveLength(1);
    expect(issues[0].path).toBe(`dialog.engine.backend.QnnHtp.${key}`);
    expect(issues[0].message).toMatch(/^mandatory key is missing \(expected .+\)$/);
  });

  it.each(['version', 'type', 'context', 'tokenizer', 'engine'])('requires dialog.%s', (key) => {
    expect(dialogIssues((d) => delete d[key]).map((i) => [i.path, i.message.startsWith('mandatory key is missing')])).toEqual([
      [`dialog.${key}`, true],
    ]);
  });

  it.each(['version', 'size', 'n-vocab', 'bos-token', 'eos-token'])('requires dialog.context.%s', (key) => {
    expect(dialogIssues((d) => delete d.context[key]).map((i) => i.path)).toEqual([`dialog.context.${key}`]);
  });

  it.each(['n-threads', 'backend', 'model'])('requires dialog.engine.%s', (key) => {
    expect(dialogIssues((d) => delete d.engine[key]).map((i) => i.path)).toEqual([`dialog.engine.${key}`]);
  });
});

describe('values Genie refuses: config errors', () => {
  it('says what was expected and what was found', () => {
    expect(() => parseDialog((d) => (d.context.size = '4096'))).toThrow(ConfigError);
    expect(() => parseDialog((d) => (d.context.size = '4096'))).toThrow(/^dialog\.context\.size: expected a positive integer, found "4096"$/);
  });

  it.each<[string, (d: Json) => void, string, string]>([
    ['size as a string', (d) => (d.context.size = '4096'), 'dialog.context.size', 'expected a positive integer, found "4096"'],
    ['bos as a string', (d) => (d.context['bos-token'] = '1'), 'dialog.context.bos-token', 'expected a token id, or -1 for none, found "1"'],
    ['eos string', (d) => (d.context['eos-token'] = '151645'), 'dialog.context.eos-token', 'expected a token id or a non-empty array of token ids, found "151645"'],
    ['pad as null', (d) => (d.context['pad-token'] = null), 'dialog.context.pad-token', 'expected a token id (an integer >= 0), found null'],
    ['context.embedding-length (Genie translates it but its validator refuses it)', (d) => (d.context['embedding-length'] = 896), 'dialog.context.embedding-length', 'unknown key; expected one of: version, size, n-vocab, bos-token, eos-token, eot-token, pad-token, draft-n-vocab, n-embd'],
    ['dialog type', (d) => (d.type = 'greedy'), 'dialog.type', 'expected one of "basic", "ssd-q1", "lade", "spd", "multistream", "eaglet", "kv-share", found "greedy"'],
    ['cpu-mask as a number', (d) => (d.engine.backend.QnnHtp['cpu-mask'] = 224), 'dialog.engine.backend.QnnHtp.cpu-mask', 'expected a hex string like "0xe0", found 224'],
    ['use-mmap as a string', (d) => (d.engine.backend.QnnHtp['use-mmap'] = 'true'), 'dialog.engine.backend.QnnHtp.use-mmap', 'expected true or false, found "true"'],
    ['spill-fill as a string', (d) => (d.engine.backend.QnnHtp['spill-fill-bufsize'] = '0'), 'dialog.engine.backend.QnnHtp.spill-fill-bufsize', 'expected an integer >= 0, found "0"'],
    ['kv-update-method as a number', (d) => (d.engine.backend.QnnHtp['kv-update-method'] = 1), 'dialog.engine.backend.QnnHtp.kv-update-method', 'expected one of "SMART_MASK", "NATIVE_KV", "SHIFT_CONCAT", "POINTER_SHIFT", found 1'],
    ['n-threads as a string', (d) => (d.engine['n-threads'] = 'four'), 'dialog.engine.n-threads', 'expected a number, found "four"'],
    ['backend type', (d) => (d.engine.backend.type = 'Htp'), 'dialog.engine.backend.type', 'expected one of "QnnHtp", "QnnGpu", "QnnGenAiTransformer", "Reference", found "Htp"'],
    ['ctx-bin not a string', (d) => (d.engine.model.binary['ctx-bins'][1] = 7), 'dialog.engine.model.binary.ctx-bins[1]', 'expected a non-empty path string, found 7'],
    ['tokenizer path as a number', (d) => (d.tokenizer.path = 3), 'dialog.tokenizer.path', 'expected a non-empty path string, found 3'],
    ['stop-sequence not an array', (d) => (d['stop-sequence'] = 'User:'), 'dialog.stop-sequence', 'expected an array of strings, found "User:"'],
    ['a stop sequence that is not a string', (d) => (d['stop-sequence'] = ['User:', 5]), 'dialog.stop-sequence[1]', 'expected a string, found 5'],
    ['max-num-tokens -1', (d) => (d['max-num-tokens'] = -1), 'dialog.max-num-tokens', 'expected an integer >= 0, found -1'],
    ['engine not an object', (d) => (d.engine = 5), 'dialog.engine', 'expected an engine object or an array of engine objects, found 5'],
    ['context not an object', (d) => (d.context = [1]), 'dialog.context', 'expected an object, found an array of 1'],
    ['debug flag', (d) => (d.debug = { 'dump-tensors': 'yes' }), 'dialog.debug.dump-tensors', 'expected true or false, found "yes"'],
  ])('rejects %s', (_name, edit, path, message) => {
    expect(dialogIssues(edit)).toEqual([issue(path, message)]);
  });

  it('accepts the optional keys with good values', () => {
    expect(() =>
      parseDialog((d) => {
        d.context = { ...d.context, 'eos-token': [128001, 128008], 'eot-token': 128009, 'pad-token': 0, 'n-embd': 896, 'draft-n-vocab': 32000 };
        d['stop-sequence'] = ['<|im_end|>'];
        d['max-num-tokens'] = 0;
        d.debug = { path: 'dumps', 'dump-tensors': true, 'dump-specs': false, 'dump-outputs': true };
        Object.assign(d.engine.backend.QnnHtp, {
          'data-alignment-size': 64, 'kv-dim': -1, 'kv-update-method': 'SMART_MASK', 'allow-async-init': true,
          'enable-graph-switching': true, 'graph-switching-lora-policy': 'lazy', 'skip-lora-validation': true, 'shared-engine': true,
        });
      }),
    ).not.toThrow();
  });
});

describe('values Genie accepts that genie-ts does not run: unsupported, not errors', () => {
  it.each<[string, (d: Json) => void, string, string]>([
    ['size -3', (d) => (d.context.size = -3), 'dialog.context.size', 'expected a positive integer, found -3'],
    ['non-integer size', (d) => (d.context.size = 4096.5), 'dialog.context.size', 'expected a positive integer, found 4096.5'],
    ['n-vocab 0', (d) => (d.context['n-vocab'] = 0), 'dialog.context.n-vocab', 'expected a positive integer, found 0'],
    ['bos -2', (d) => (d.context['bos-token'] = -2), 'dialog.context.bos-token', 'expected a token id, or -1 for none, found -2'],
    ['eos empty array', (d) => (d.context['eos-token'] = []), 'dialog.context.eos-token', 'expected a token id or a non-empty array of token ids, found an empty array'],
    ['an eos that is not an id', (d) => (d.context['eos-token'] = [151645, 'x']), 'dialog.context.eos-token', 'expected a token id or a non-empty array of token ids, found an array of 2'],
    ['pad -1', (d) => (d.context['pad-token'] = -1), 'dialog.context.pad-token', 'expected a token id (an integer >= 0), found -1'],
    ['bos at n-vocab', (d) => (d.context['bos-token'] = 151936), 'dialog.context.bos-token', 'expected a token id below n-vocab (151936), found 151936'],
    ['an eos past n-vocab', (d) => (d.context['eos-token'] = [151645, 200000]), 'dialog.context.eos-token[1]', 'expected a token id below n-vocab (151936), found 200000'],
    ['eos past a smaller n-vocab', (d) => (d.context['n-vocab'] = 32000), 'dialog.context.eos-token', 'expected a token id below n-vocab (32000), found 151645'],
    ['eot past n-vocab', (d) => (d.context['eot-token'] = 152000), 'dialog.context.eot-token', 'expected a token id below n-vocab (151936), found 152000'],
    ['pad past n-vocab', (d) => (d.context['pad-token'] = 999999), 'dialog.context.pad-token', 'expected a token id below n-vocab (151936), found 999999'],
    ['cpu-mask without 0x', (d) => (d.engine.backend.QnnHtp['cpu-mask'] = 'e0'), 'dialog.engine.backend.QnnHtp.cpu-mask', 'expected a hex string like "0xe0", found "e0"'],
    ['cpu-mask not hex', (d) => (d.engine.backend.QnnHtp['cpu-mask'] = '0xg0'), 'dialog.engine.backend.QnnHtp.cpu-mask', 'expected a hex string like "0xe0", found "0xg0"'],
    ['negative spill-fill', (d) => (d.engine.backend.QnnHtp['spill-fill-bufsize'] = -1), 'dialog.engine.backend.QnnHtp.spill-fill-bufsize', 'expected an integer >= 0, found -1'],
    ['kv-dim 0', (d) => (d.engine.backend.QnnHtp['kv-dim'] = 0), 'dialog.engine.backend.QnnHtp.kv-dim', 'expected a positive integer, or -1 to deduce it from the past_key tensors, found 0'],
    ['an unknown kv-update-method (Genie takes any string)', (d) => (d.engine.backend.QnnHtp['kv-update-method'] = 'SHIFT'), 'dialog.engine.backend.QnnHtp.kv-update-method', 'expected one of "SMART_MASK", "NATIVE_KV", "SHIFT_CONCAT", "POINTER_SHIFT", found "SHIFT"'],
    ['empty ctx-bins', (d) => (d.engine.model.binary['ctx-bins'] = []), 'dialog.engine.model.binary.ctx-bins', 'expected a non-empty array of context binary paths, found an empty array'],
    ['an empty ctx-bin path', (d) => (d.engine.model.binary['ctx-bins'][0] = ''), 'dialog.engine.model.binary.ctx-bins[0]', 'expected a non-empty path string, found ""'],
    ['empty tokenizer path', (d) => (d.tokenizer.path = ''), 'dialog.tokenizer.path', 'expected a non-empty path string, found ""'],
    ['a fractional max-num-tokens (Genie cuts it)', (d) => (d['max-num-tokens'] = 2.5), 'dialog.max-num-tokens', 'expected an integer >= 0, found 2.5'],
  ])('%s', (_name, edit, path, message) => {
    expect(dialogUnsupported(edit)).toEqual([issue(path, message)]);
  });

  it('any number of engine threads: genie-ts copies the KV cache on the JS thread', () => {
    expect(dialogUnsupported((d) => (d.engine['n-threads'] = 0))).toEqual([]);
  });

  it('"stop-sequence": [""] is Genie\'s (its matcher never matches "") and genie-ts\'s: no stop sequence', () => {
    expect(dialogUnsupported((d) => (d['stop-sequence'] = ['']))).toEqual([]);
    expect(dialogUnsupported((d) => (d['stop-sequence'] = ['User:', '']))).toEqual([]);
  });

  it('a valid config has none', () => {
    expect(dialogUnsupported(() => {})).toEqual([]);
  });
});

describe('backend object must match backend.type', () => {
  it('requires the QnnHtp object for type QnnHtp', () => {
    expect(dialogIssues((d) => delete d.engine.backend.QnnHtp)).toEqual([
      issue('dialog.engine.backend.QnnHtp', 'mandatory key is missing (required when type is "QnnHtp")'),
    ]);
  });

  it('rejects a QnnHtp object next to type "Reference" (this project\'s executor)', () => {
    expect(dialogIssues((d) => (d.engine.backend.type = 'Reference'))).toEqual([
      issue('dialog.engine.backend.QnnHtp', 'not allowed when type is "Reference" (a QnnHtp object needs type "QnnHtp"), found an object'),
    ]);
  });

  it('accepts type "Reference" with no backend object', () => {
    expect(() => parseDialog((d) => (d.engine.backend = { version: 1, type: 'Reference' }))).not.toThrow();
  });

  it('rejects a QnnHtp object with QnnGpu, and a QnnGenAiTransformer object with QnnHtp', () => {
    expect(dialogIssues((d) => (d.engine.backend.type = 'QnnGpu')).map((i) => i.path)).toEqual(['dialog.engine.backend.QnnHtp']);
    expect(dialogIssues((d) => (d.engine.backend.QnnGenAiTransformer = { version: 1 }))).toEqual([
      issue('dialog.engine.backend.QnnGenAiTransformer', 'not allowed when type is "QnnHtp" (a QnnGenAiTransformer object needs type "QnnGenAiTransformer"), found an object'),
    ]);
  });

  it('requires the QnnGenAiTransformer object for its type and checks its keys', () => {
    expect(dialogIssues((d) => (d.engine.backend = { version: 1, type: 'QnnGenAiTransformer' }))).toEqual([
      issue('dialog.engine.backend.QnnGenAiTransformer', 'mandatory key is missing (required when type is "QnnGenAiTransformer")'),
    ]);
    expect(
      dialogIssues((d) => (d.engine.backend = { version: 1, type: 'QnnGenAiTransformer', QnnGenAiTransformer: { version: 1, 'n-layer': '32' } })),
    ).toEqual([issue('dialog.engine.backend.QnnGenAiTransformer.n-layer', 'expected a positive integer, found "32"')]);
  });
});

describe('QnnHtp key rules', () => {
  it('lazy LoRA policy needs graph switching', () => {
    expect(dialogIssues((d) => (d.engine.backend.QnnHtp['graph-switching-lora-policy'] = 'lazy'))).toEqual([
      issue('dialog.engine.backend.QnnHtp.graph-switching-lora-policy', '"lazy" needs enable-graph-switching true, found no enable-graph-switching'),
    ]);
  });

  it('shared-engine needs allow-async-init', () => {
    expect(dialogIssues((d) => Object.assign(d.engine.backend.QnnHtp, { 'shared-engine': true, 'allow-async-init': false }))).toEqual([
      issue('dialog.engine.backend.QnnHtp.shared-engine', 'true needs allow-async-init true, found allow-async-init false'),
    ]);
  });
});

describe('legacy RoPE keys exclude model.positional-encoding', () => {
  it('reports each legacy key present next to positional-encoding', () => {
    const issues = dialogIssues((d) => {
      Object.assign(d.engine.backend.QnnHtp, { 'pos-id-dim': 32, 'rope-theta': 1000000 });
      d.engine.model['positional-encoding'] = { type: 'rope', 'rope-dim': 32, 'rope-theta': 1000000 };
    });
    expect(issues).toEqual([
      issue('dialog.engine.backend.QnnHtp.pos-id-dim', 'not allowed when model.positional-encoding is set (use one form or the other), found 32'),
      issue('dialog.engine.backend.QnnHtp.rope-theta', 'not allowed when model.positional-encoding is set (use one form or the other), found 1000000'),
    ]);
  });

  it('accepts either form alone', () => {
    expect(() => parseDialog((d) => Object.assign(d.engine.backend.QnnHtp, { 'pos-id-dim': 32, 'rope-theta': 1000000 }))).not.toThrow();
    expect(() => parseDialog((d) => (d.engine.model['positional-encoding'] = { type: 'rope', 'rope-dim': 32 }))).not.toThrow();
  });
});

describe('positional-encoding and rope-scaling', () => {
  const withEncoding = (encoding: Json) => dialogIssues((d) => (d.engine.model['positional-encoding'] = encoding));
  const at = 'dialog.engine.model.positional-encoding';

  it('accepts llama3 and longrope scaling', () => {
    expect(() =>
      parseDialog((d) => (d.engine.model['positional-encoding'] = {
        type: 'rope', 'rope-dim': 64, 'rope-theta': 500000,
        'rope-scaling': { 'rope-type': 'llama3', factor: 32, 'low-freq-factor': 1, 'high-freq-factor': 4, 'original-max-position-embeddings': 8192 },
      })),
    ).not.toThrow();
    const factors = Array.from({ length: 48 }, (_, i) => 1 + i / 10);
    expect(() =>
      parseDialog((d) => (d.engine.model['positional-encoding'] = {
        type: 'rope', 'rope-dim': 48,
        'rope-scaling': { 'rope-type': 'longrope', factor: 32, 'short-factor': factors, 'long-factor': factors, 'original-max-position-embeddings': 4096 },
      })),
    ).not.toThrow();
  });

  it('longrope factor lists of another length than rope-dim are not run', () => {
    const unsupported = dialogUnsupported((d) => (d.engine.model['positional-encoding'] = {
      type: 'rope', 'rope-dim': 32,
      'rope-scaling': { 'rope-type': 'longrope', 'short-factor': Array(31).fill(1), 'long-factor': Array(32).fill(2), 'original-max-position-embeddings': 4096 },
    }));
    expect(unsupported).toEqual([issue(`${at}.rope-scaling.short-factor`, 'expected 32 factors (rope-dim), found 31')]);
  });

  it('measures longrope lists against the default rope-dim 64 when none is given', () => {
    const unsupported = dialogUnsupported((d) => (d.engine.model['positional-encoding'] = {
      type: 'rope',
      'rope-scaling': { 'rope-type': 'longrope', 'short-factor': Array(64).fill(1), 'long-factor': Array(32).fill(2), 'original-max-position-embeddings': 4096 },
    }));
    expect(unsupported).toEqual([issue(`${at}.rope-scaling.long-factor`, 'expected 64 factors (rope-dim), found 32')]);
  });

  it('rejects an unknown rope-type and an unknown scaling key, as Genie does', () => {
    expect(withEncoding({ type: 'rope', 'rope-scaling': { 'rope-type': 'yarn' } })).toEqual([
      issue(`${at}.rope-scaling.rope-type`, 'expected one of "default", "llama3", "longrope", found "yarn"'),
    ]);
    expect(withEncoding({ type: 'rope', 'rope-scaling': { 'rope-type': 'llama3', beta: 2 } }).map((i) => i.path)).toEqual([`${at}.rope-scaling.beta`]);
  });

  it('takes Genie\'s scaling keys with any rope-type, and no rope-type as default scaling', () => {
    expect(dialogUnsupported((d) => (d.engine.model['positional-encoding'] = { type: 'rope', 'rope-scaling': { factor: 8 } }))).toEqual([]);
    expect(dialogUnsupported((d) => (d.engine.model['positional-encoding'] = { type: 'rope', 'rope-scaling': { 'rope-type': 'default', factor: 8 } }))).toEqual([]);
  });

  it('does not run llama3 without its four keys, nor with high-freq-factor <= low-freq-factor', () => {
    const needs = 'mandatory key is missing (genie-ts needs it to compute "llama3" scaling)';
    expect(dialogUnsupported((d) => (d.engine.model['positional-encoding'] = { type: 'rope', 'rope-scaling': { 'rope-type': 'llama3', factor: 8 } }))).toEqual([
      issue(`${at}.rope-scaling.low-freq-factor`, needs),
      issue(`${at}.rope-scaling.high-freq-factor`, needs),
      issue(`${at}.rope-scaling.original-max-position-embeddings`, needs),
    ]);
    const scaling = { 'rope-type': 'llama3', factor: 8, 'low-freq-factor': 4, 'high-freq-factor': 4, 'original-max-position-embeddings': 8192 };
    expect(dialogUnsupported((d) => (d.engine.model['positional-encoding'] = { type: 'rope', 'rope-scaling': scaling }))).toEqual([
      issue(`${at}.rope-scaling.high-freq-factor`, 'expected a number > low-freq-factor (4), found 4'),
    ]);
  });

  it('rejects an unknown encoding type; a theta of 0 is not run', () => {
    expect(withEncoding({ type: 'rotary', 'rope-theta': 0 })).toEqual([issue(`${at}.type`, 'expected one of "rope", "absolute", "alibi", found "rotary"')]);
    expect(dialogUnsupported((d) => (d.engine.model['positional-encoding'] = { type: 'rope', 'rope-theta': 0 }))).toEqual([
      issue(`${at}.rope-theta`, 'expected a positive number, found 0'),
    ]);
  });

  it('Genie\'s validator does not require type, but reads it: genie-ts does not run an encoding without one', () => {
    expect(dialogUnsupported((d) => (d.engine.model['positional-encoding'] = { 'rope-dim': 32 }))).toEqual([
      issue(`${at}.type`, 'mandatory key is missing (genie-ts needs it to know the position encoding (Genie reads it too))'),
    ]);
  });
});

describe('model type and its object', () => {
  it('type binary needs binary; a library object needs type library', () => {
    expect(dialogIssues((d) => delete d.engine.model.binary)).toEqual([
      issue('dialog.engine.model.binary', 'mandatory key is missing (required when type is "binary")'),
    ]);
    expect(dialogIssues((d) => (d.engine.model.library = { version: 1, 'model-bin': 'model.bin' }))).toEqual([
      issue('dialog.engine.model.library', 'not allowed when type is "binary" (a library object needs type "library"), found an object'),
    ]);
  });
});

describe('LoRA', () => {
  const lora = (extra: Json) => ({ version: 1, 'alpha-tensor-name': 'lora_alpha', ...extra });
  const at = 'dialog.engine.model.binary.lora';

  it('accepts v2 bin-sections (one per ctx-bin) and v1 paths', () => {
    expect(() =>
      parseDialog((d) => (d.engine.model.binary.lora = lora({
        adapters: [{ version: 1, name: 'a', alphas: ['lora_alpha'], 'bin-sections': ['', 'a_2_of_2.bin'] }],
        groups: [{ version: 1, name: 'g', members: ['a'], 'quant-bin-sections': ['', 'q.bin'] }],
      }))),
    ).not.toThrow();
    expect(() =>
      parseDialog((d) => (d.engine.model.binary.lora = lora({ 'lora-version': 1, adapters: [{ version: 1, name: 'a', path: 'a.safetensors' }] }))),
    ).not.toThrow();
  });

  it('does not run a bin-section count other than one per ctx-bin (not Genie\'s check)', () => {
    expect(dialogUnsupported((d) => (d.engine.model.binary.lora = lora({ adapters: [{ version: 1, name: 'a', 'bin-sections': ['a.bin'] }] })))).toEqual([
      issue(`${at}.adapters[0].bin-sections`, 'expected 2 entries (one per ctx-bin, "" for none), found 1'),
    ]);
  });

  it('matches adapter files to lora-version as Genie does', () => {
    expect(dialogIssues((d) => (d.engine.model.binary.lora = lora({ adapters: [{ version: 1, name: 'a', path: 'a.bin' }] })))).toEqual([
      issue(`${at}.adapters[0].path`, 'not allowed when lora-version is 2 (weight files need lora-version 1), found "a.bin"'),
    ]);
    expect(
      dialogIssues((d) => (d.engine.model.binary.lora = lora({ 'lora-version': 1, adapters: [{ version: 1, name: 'a', 'bin-sections': ['', ''] }] }))),
    ).toEqual([issue(`${at}.adapters[0]`, 'expected a path (a LoRA v1 adapter), found alphas / bin-sections, which need lora-version 2 or 3')]);
    expect(dialogIssues((d) => (d.engine.model.binary.lora = lora({ adapters: [{ version: 1, name: 'a' }] })))).toEqual([
      issue(`${at}.adapters[0]`, 'expected a path (lora-version 1) or alphas / bin-sections (lora-version 2, 3), found neither'),
    ]);
    expect(
      dialogIssues((d) => (d.engine.model.binary.lora = lora({
        'lora-version': 1,
        adapters: [{ version: 1, name: 'a', path: 'a.bin' }],
        groups: [{ version: 1, name: 'g', members: ['a'], 'quant-bin-sections': [] }],
      }))),
    ).toEqual([issue(`${at}.groups`, 'not allowed when lora-version is 1 (groups need lora-version 2 or 3), found an array of 1')]);
  });

  it('a v1 adapter with both a path and bin-sections is a v1 adapter (the path wins in Genie)', () => {
    expect(() =>
      parseDialog((d) => (d.engine.model.binary.lora = lora({ 'lora-version': 1, adapters: [{ version: 1, name: 'a', path: 'a.bin', 'bin-sections': ['', ''] }] }))),
    ).not.toThrow();
  });

  it('a group needs its quant-bin-sections (Genie\'s mandatory key)', () => {
    expect(
      dialogIssues((d) => (d.engine.model.binary.lora = lora({
        adapters: [{ version: 1, name: 'a', 'bin-sections': ['', 'x.bin'] }],
        groups: [{ version: 1, name: 'g', members: ['a'] }],
      }))),
    ).toEqual([issue(`${at}.groups[0].quant-bin-sections`, 'mandatory key is missing (expected an array of path strings)')]);
  });

  it('repeated adapter names and group members that name no adapter are not run (not Genie\'s checks)', () => {
    const adapter = { version: 1, name: 'a', 'bin-sections': ['', 'x.bin'] };
    expect(
      dialogUnsupported((d) => (d.engine.model.binary.lora = lora({
        adapters: [adapter, { ...adapter }],
        groups: [{ version: 1, name: 'g', members: ['a', 'b'], 'quant-bin-sections': ['', 'q.bin'] }],
      }))),
    ).toEqual([
      issue(`${at}.adapters[1].name`, 'expected a unique adapter name, found "a" twice'),
      issue(`${at}.groups[0].members[1]`, 'expected the name of an adapter in adapters, found "b"'),
    ]);
  });

  it('rejects a lora-version Genie does not know (it reads it as a uint8)', () => {
    expect(dialogIssues((d) => (d.engine.model.binary.lora = lora({ 'lora-version': 4, adapters: [{ version: 1, name: 'a', 'bin-sections': ['', ''] }] })))).toEqual([
      issue(`${at}.lora-version`, 'expected one of 1, 2, 3, found 4'),
    ]);
  });
});

describe('longcontext and cache-groups', () => {
  it('accepts keydiff and sliding-window', () => {
    expect(() =>
      parseDialog((d) => (d.engine.longcontext = { version: 1, type: 'keydiff', 'reserved-tokens': 4, keydiff: { version: 1, 'scoring-network': 'scorer.bin', 'update-frequency': 128 } })),
    ).not.toThrow();
    expect(() =>
      parseDialog((d) => (d.engine['cache-groups'] = [
        { version: 1, prefix: 'past_', longcontext: { version: 1, type: 'sliding-window', 'sliding-window': { version: 1, 'window-size': 1024 } } },
        { version: 1, prefix: 'swa_', 'attention-mask-tensor-name': 'swa_mask' },
      ])),
    ).not.toThrow();
  });

  it('checks each block on its own, as Genie does: keydiff needs its keys, sliding-window its window-size', () => {
    expect(dialogIssues((d) => (d.engine.longcontext = { version: 1, type: 'keydiff', 'sliding-window': { version: 1 }, keydiff: { version: 1 } }))).toEqual([
      issue('dialog.engine.longcontext.keydiff.scoring-network', 'mandatory key is missing (expected a non-empty path string)'),
      issue('dialog.engine.longcontext.keydiff.update-frequency', 'mandatory key is missing (expected a positive integer)'),
      issue('dialog.engine.longcontext.sliding-window.window-size', 'mandatory key is missing (expected a positive integer)'),
    ]);
    // Genie ignores other keys in a keydiff block; the block's type need not match.
    expect(() =>
      parseDialog((d) => (d.engine.longcontext = { version: 1, type: 'sliding-window', keydiff: { version: 1, 'scoring-network': 's.bin', 'update-frequency': 8, anchor: 1 } })),
    ).not.toThrow();
  });

  it('rejects an empty list and an empty prefix; prefixes that start one another are not run', () => {
    expect(dialogIssues((d) => (d.engine['cache-groups'] = []))).toEqual([
      issue('dialog.engine.cache-groups', 'expected a non-empty array of cache-group objects, found an empty array'),
    ]);
    expect(dialogIssues((d) => (d.engine['cache-groups'] = [{ version: 1, prefix: '' }]))).toEqual([
      issue('dialog.engine.cache-groups[0].prefix', 'expected a non-empty string, found ""'),
    ]);
    expect(dialogUnsupported((d) => (d.engine['cache-groups'] = [{ version: 1, prefix: 'past_' }, { version: 1, prefix: 'past_swa_' }]))).toEqual([
      issue('dialog.engine.cache-groups[1].prefix', 'expected a prefix that is not a prefix of another group\'s (nor has one), found "past_swa_" against "past_" of cache-groups[0]'),
    ]);
  });
});

describe('engine array and roles', () => {
  const pair = (roles: (string | undefined)[]) =>
    roles.map((role) => (role === undefined ? engine() : { ...engine(), role }));
  const blocks: Json = {
    spd: { version: 1, 'draft-len': 4 },
    eaglet: { version: 1, 'eaglet-version': 1, 'draft-len': 6, 'n-branches': 8, 'max-tokens-target-can-evaluate': 32, 'draft-kv-cache': true },
  };

  it('accepts two engines with the roles of spd, kv-share and eaglet', () => {
    expect(() => parseDialog((d) => Object.assign(d, { type: 'spd', spd: blocks.spd, engine: pair(['draft', 'target']) }))).not.toThrow();
    expect(() => parseDialog((d) => Object.assign(d, { type: 'kv-share', engine: pair(['secondary', 'primary']) }))).not.toThrow();
    expect(() => parseDialog((d) => Object.assign(d, { type: 'eaglet', eaglet: blocks.eaglet, engine: pair(['target', 'draft']) }))).not.toThrow();
  });

  it('rejects an engine array for basic', () => {
    expect(dialogIssues((d) => (d.engine = pair(['target', 'draft'])))).toEqual([
      issue('dialog.engine', 'expected a single engine object for type "basic", found an array of 2 (only spd, kv-share and eaglet take two)'),
    ]);
  });

  it('checks count, presence, value and uniqueness of roles', () => {
    const spd = (roles: (string | undefined)[]) => dialogIssues((d) => Object.assign(d, { type: 'spd', spd: blocks.spd, engine: pair(roles) }));
    expect(spd(['draft', undefined])).toEqual([
      issue('dialog.engine[1].role', 'mandatory key is missing (required when the engine is an array (type "spd"))'),
    ]);
    expect(spd(['draft', 'primary'])).toEqual([issue('dialog.engine[1].role', 'expected one of "draft", "target" for type "spd", found "primary"')]);
    expect(spd(['draft', 'draft', 'target'])).toEqual([
      issue('dialog.engine', 'expected 2 engines (roles "draft" and "target"), found 3'),
      issue('dialog.engine[1].role', 'expected each role once, found "draft" twice'),
    ]);
  });

  it('spd and kv-share take the pair only, not a single engine (Genie: "engine config for spd is not an array")', () => {
    expect(dialogIssues((d) => Object.assign(d, { type: 'kv-share', engine: { ...engine(), role: 'primary' } }))).toEqual([
      issue('dialog.engine', 'expected an array of 2 engines (roles "primary" and "secondary") for type "kv-share", found an object'),
    ]);
    expect(dialogIssues((d) => Object.assign(d, { type: 'spd', spd: blocks.spd, engine: { ...engine(), role: 'target' } })).map((i) => i.path)).toEqual([
      'dialog.engine',
    ]);
  });

  it('a role is a key of spd, kv-share and eaglet engines only: a basic dialog\'s engine takes none', () => {
    expect(dialogIssues((d) => (d.engine.role = 'primary'))).toEqual([
      issue('dialog.engine.role', 'not allowed when type is "basic" (Genie reads engine roles only in spd, kv-share and eaglet dialogs), found "primary"'),
    ]);
    expect(() => parseDialog((d) => Object.assign(d, { type: 'eaglet', eaglet: blocks.eaglet, engine: { ...engine(), role: 'target' } }))).not.toThrow();
  });

  it('reports errors inside an array engine with its index', () => {
    expect(dialogIssues((d) => Object.assign(d, { type: 'spd', spd: blocks.spd, engine: [{ ...engine(), role: 'draft', 'n-threads': '4' }, { ...engine(), role: 'target' }] }))).toEqual([
      issue('dialog.engine[0].n-threads', 'expected a number, found "4"'),
    ]);
  });
});

describe('kv-share: enable-in-memory-kv-share in the secondary engine (older configs)', () => {
  const genAi = (extra: Json = {}) => ({
    ...engine(),
    backend: { version: 1, type: 'QnnGenAiTransformer', QnnGenAiTransformer: { version: 1, ...extra } },
    model: { version: 1, type: 'library', library: { version: 1, 'model-bin': 'model.bin' } },
  });
  const kvShare = (edit: (d: Json) => void = () => {}) => (d: Json) => {
    Object.assign(d, { type: 'kv-share', engine: [{ ...engine(), role: 'primary' }, { ...genAi({ 'enable-in-memory-kv-share': true }), role: 'secondary' }] });
    edit(d);
  };
  const at = 'dialog.engine[1].backend.QnnGenAiTransformer.enable-in-memory-kv-share';
  const message = 'unknown key here (Genie takes it from the secondary engine of a kv-share dialog without a "kv-share" block, and from the block otherwise)';

  it('is accepted where Genie moves it into the kv-share block', () => {
    expect(() => parseDialog(kvShare())).not.toThrow();
  });

  it('is an unknown key next to a kv-share block, on another engine, in another dialog type or in a text-generator', () => {
    expect(dialogIssues(kvShare((d) => (d['kv-share'] = { 'enable-in-memory-kv-share': false })))).toEqual([issue(at, message)]);
    expect(dialogIssues(kvShare((d) => (d.engine = [{ ...genAi({ 'enable-in-memory-kv-share': true }), role: 'primary' }, { ...engine(), role: 'secondary' }])))).toEqual([
      issue('dialog.engine[0].backend.QnnGenAiTransformer.enable-in-memory-kv-share', message),
    ]);
    expect(dialogIssues((d) => (d.engine = genAi({ 'enable-in-memory-kv-share': true }))).map((i) => i.path)).toEqual([
      'dialog.engine.backend.QnnGenAiTransformer.enable-in-memory-kv-share',
    ]);
    const body = dialog();
    kvShare()(body);
    expect(issuesOf({ 'text-generator': body }).map((i) => i.path)).toEqual([`text-generator.${at.slice('dialog.'.length)}`]);
  });

  it('must be true or false', () => {
    expect(dialogIssues(kvShare((d) => (d.engine[1].backend.QnnGenAiTransformer['enable-in-memory-kv-share'] = 'yes')))).toEqual([
      issue(at, 'expected true or false, found "yes"'),
    ]);
  });
});

describe('decoding-strategy sub-objects', () => {
  const blocks: Json = {
    'ssd-q1': { version: 1, 'ssd-version': 1, 'forecast-token-count': 4, branches: [4, 4], 'forecast-prefix': 16, 'forecast-prefix-name': 'ssd_forecast', 'branch-mode': 'top-1', 'n-streams': 2, 'p-threshold': 0.5 },
    lade: { version: 1, 'update-mode': 'FWD_MAX_HIT', window: 8, ngram: 5, gcap: 8 },
    multistream: { version: 1, 'n-streams': 8, 'p-threshold': 0.1 },
    eaglet: { version: 1, 'eaglet-version': 1, 'draft-len': 6, 'n-branches': 8, 'max-tokens-target-can-evaluate': 32, 'draft-kv-cache': true },
  };

  it('parses every type\'s block', () => {
    for (const [type, block] of Object.entries(blocks)) {
      expect(() => parseDialog((d) => Object.assign(d, { type, [type]: block }))).not.toThrow();
    }
    const pair = [{ ...engine(), role: 'draft' }, { ...engine(), role: 'target' }];
    expect(() => parseDialog((d) => Object.assign(d, { type: 'spd', spd: { version: 1, 'draft-len': 4 }, engine: pair }))).not.toThrow();
    const kvPair = [{ ...engine(), role: 'primary' }, { ...engine(), role: 'secondary' }];
    expect(() => parseDialog((d) => Object.assign(d, { type: 'kv-share', 'kv-share': { 'enable-in-memory-kv-share': true }, engine: kvPair }))).not.toThrow();
  });

  it.each(['ssd-q1', 'lade', 'multistream', 'eaglet'])('type %s needs its block', (type) => {
    expect(dialogIssues((d) => (d.type = type))).toEqual([issue(`dialog.${type}`, `mandatory key is missing (required when type is "${type}")`)]);
  });

  it.each(['ssd-q1', 'lade', 'spd', 'kv-share'])('a %s block on a basic dialog is an error', (block) => {
    const value = block === 'spd' ? { version: 1, 'draft-len': 4 } : block === 'kv-share' ? {} : blocks[block];
    expect(dialogIssues((d) => (d[block] = value))).toEqual([
      issue(`dialog.${block}`, `not allowed when type is "basic" (only a "${block}" dialog takes it), found an object`),
    ]);
  });

  it('Genie ignores a multistream or eaglet block on another type, without checking its keys', () => {
    expect(() => parseDialog((d) => (d.multistream = { foo: 1 }))).not.toThrow();
    expect(() => parseDialog((d) => (d.eaglet = {}))).not.toThrow();
    expect(dialogIssues((d) => (d.multistream = 8))).toEqual([issue('dialog.multistream', 'expected an object, found 8')]);
  });

  it('checks them in their own type', () => {
    expect(dialogIssues((d) => Object.assign(d, { type: 'multistream', multistream: { version: 1 } }))).toEqual([
      issue('dialog.multistream.n-streams', 'mandatory key is missing (expected a positive integer)'),
    ]);
    expect(dialogIssues((d) => Object.assign(d, { type: 'eaglet', eaglet: { ...blocks.eaglet, 'draft-len': 0, extra: 1 } }))).toEqual([
      issue('dialog.eaglet.draft-len', 'expected a positive integer, found 0'),
      issue('dialog.eaglet.extra', expect.stringMatching(/^unknown key; expected one of: version, eaglet-version, /)),
    ]);
  });

  it('ssd-q1: branches <= forecast-token-count; p-threshold above 0 needs n-streams > 1', () => {
    const ssd = { version: 1, 'ssd-version': 1, 'forecast-token-count': 1, branches: [4, 4], 'forecast-prefix': 16, 'forecast-prefix-name': 'p', 'p-threshold': 0.5 };
    expect(dialogIssues((d) => Object.assign(d, { type: 'ssd-q1', 'ssd-q1': ssd }))).toEqual([
      issue('dialog.ssd-q1.branches', 'expected at most forecast-token-count (1) branches, found 2'),
      issue('dialog.ssd-q1.p-threshold', 'a p-threshold above 0 needs n-streams > 1, found no n-streams'),
    ]);
    expect(dialogIssues((d) => Object.assign(d, { type: 'ssd-q1', 'ssd-q1': { ...blocks['ssd-q1'], 'n-streams': 1 } }))).toEqual([
      issue('dialog.ssd-q1.p-threshold', 'a p-threshold above 0 needs n-streams > 1, found n-streams 1'),
    ]);
  });

  it('ssd-q1: p-threshold 0 with "n-streams": 1 is Genie\'s (the SDK\'s ssd example)', () => {
    expect(() => parseDialog((d) => Object.assign(d, { type: 'ssd-q1', 'ssd-q1': { ...blocks['ssd-q1'], 'n-streams': 1, 'p-threshold': 0 } }))).not.toThrow();
  });

  it('ssd-q1: branches are integers', () => {
    expect(dialogIssues((d) => Object.assign(d, { type: 'ssd-q1', 'ssd-q1': { ...blocks['ssd-q1'], branches: [4, 'x'] } }))).toEqual([
      issue('dialog.ssd-q1.branches[1]', 'expected an integer, found "x"'),
    ]);
  });

  it('lade: update-mode from its set, every key mandatory', () => {
    expect(dialogIssues((d) => Object.assign(d, { type: 'lade', lade: { ...blocks.lade, 'update-mode': 'FAST' } }))).toEqual([
      issue('dialog.lade.update-mode', 'expected one of "FWD_MAX_HIT", "FWD_LEVEL", "ALWAYS_FWD_ONE", found "FAST"'),
    ]);
    expect(dialogIssues((d) => Object.assign(d, { type: 'lade', lade: { version: 1, 'update-mode': 'FWD_LEVEL' } })).map((i) => i.path)).toEqual([
      'dialog.lade.window', 'dialog.lade.ngram', 'dialog.lade.gcap',
    ]);
  });
});

describe('accumulator-size', () => {
  it('Genie\'s dialog validator takes it with any value; a text-generator sizes its accumulator with it', () => {
    expect(dialogUnsupported((d) => (d['accumulator-size'] = 'whatever'))).toEqual([]);
    const body = { ...dialog(), 'accumulator-size': 1000 };
    expect(parseConfig({ 'text-generator': body }, { baseDir: BASE_DIR }).root).toBe('text-generator');
    expect(issuesOf({ 'text-generator': { ...body, 'accumulator-size': '1000' } })).toEqual([
      issue('text-generator.accumulator-size', 'expected an integer >= 0, found "1000"'),
    ]);
  });
});

describe('reporting', () => {
  it('reports all mistakes of a config together: 3 mistakes, 3 issues', () => {
    const issues = dialogIssues((d) => {
      d.context.size = '4096';
      d.engine.backend.QnnHtp['cpu-mask'] = 224;
      d.sampler = { version: 1, type: 'custom' };
    });
    expect(issues).toEqual([
      issue('dialog.context.size', 'expected a positive integer, found "4096"'),
      issue('dialog.engine.backend.QnnHtp.cpu-mask', 'expected a hex string like "0xe0", found 224'),
      issue('dialog.sampler.callback-name', 'mandatory key is missing (required when type is "custom")'),
    ]);
  });

  it('reports all values genie-ts does not run together, and none while there are errors', () => {
    expect(dialogUnsupported((d) => {
      d.context.size = -3;
      d.engine.backend.QnnHtp['cpu-mask'] = 'e0';
    })).toEqual([
      issue('dialog.context.size', 'expected a positive integer, found -3'),
      issue('dialog.engine.backend.QnnHtp.cpu-mask', 'expected a hex string like "0xe0", found "e0"'),
    ]);
    expect(dialogIssues((d) => {
      d.context.size = -3;
      d.tokenizer.path = 3;
    })).toEqual([issue('dialog.tokenizer.path', 'expected a non-empty path string, found 3')]);
  });

  it('keeps working after a failure', () => {
    expect(() => parseDialog((d) => (d.context.size = null))).toThrow(ConfigError);
    expect(parseDialog().root).toBe('dialog');
  });

  it('the message lists every issue, one per line', () => {
    try {
      parseDialog((d) => {
        d.context.size = null;
        d.tokenizer.path = 3;
      });
      throw new Error('unreachable');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).code).toBe('INVALID_CONFIG');
      expect((error as Error).message.split('\n')).toEqual([
        'dialog.context.size: expected a positive integer, found null',
        'dialog.tokenizer.path: expected a non-empty path string, found 3',
      ]);
    }
  });
});

describe('fixtures', () => {
  it('the minimal QnnHtp object is exactly the five mandatory keys plus version', () => {
    expect(Object.keys(htp()).sort()).toEqual(['cpu-mask', 'mmap-budget', 'poll', 'spill-fill-bufsize', 'use-mmap', 'version']);
  });
});
