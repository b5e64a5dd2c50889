import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../../src/runtime/config/index.js';
import { BASE_DIR, dialog, dialogIssues, engine, htp, issuesOf, parseDialog, type Json } from './fixtures.js';

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
      issue('(top level)', 'expected an object with one root key ("dialog", "text-generator", "text-encoder", "image-encoder", "sampler", "embedding", "standalone-engine", "profile"), found 5'),
    ]);
  });

  it('rejects an unknown root key and a missing root', () => {
    expect(issuesOf({ dialogue: dialog() })).toEqual([
      issue('dialogue', 'unknown root key; expected one of: dialog, text-generator, text-encoder, image-encoder, sampler, embedding, standalone-engine, profile'),
      issue('(top level)', 'expected exactly one root key ("dialog", "text-generator", "text-encoder", "image-encoder", "sampler", "embedding", "standalone-engine", "profile"), found none'),
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
        'unknown key; expected one of: version, spill-fill-bufsize, mmap-budget, use-mmap, cpu-mask, poll, data-alignment-size, pos-id-dim, rope-theta, kv-dim, kv-update-method, allow-async-init, enable-graph-switching, graph-switching-lora-policy, skip-lora-validation, shared-engine',
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

describe('values', () => {
  it('says what was expected and what was found', () => {
    expect(() => parseDialog((d) => (d.context.size = -3))).toThrow(ConfigError);
    expect(() => parseDialog((d) => (d.context.size = -3))).toThrow(/^dialog\.context\.size: expected a positive integer, found -3$/);
  });

  it.each<[string, (d: Json) => void, string, string]>([
    ['non-integer size', (d) => (d.context.size = 4096.5), 'dialog.context.size', 'expected a positive integer, found 4096.5'],
    ['n-vocab 0', (d) => (d.context['n-vocab'] = 0), 'dialog.context.n-vocab', 'expected a positive integer, found 0'],
    ['bos -2', (d) => (d.context['bos-token'] = -2), 'dialog.context.bos-token', 'expected a token id, or -1 for none, found -2'],
    ['eos string', (d) => (d.context['eos-token'] = '151645'), 'dialog.context.eos-token', 'expected a token id or a non-empty array of token ids, found "151645"'],
    ['eos empty array', (d) => (d.context['eos-token'] = []), 'dialog.context.eos-token', 'expected a token id or a non-empty array of token ids, found an empty array'],
    ['pad -1', (d) => (d.context['pad-token'] = -1), 'dialog.context.pad-token', 'expected a token id (an integer >= 0), found -1'],
    ['bos at n-vocab', (d) => (d.context['bos-token'] = 151936), 'dialog.context.bos-token', 'expected a token id below n-vocab (151936), found 151936'],
    ['an eos past n-vocab', (d) => (d.context['eos-token'] = [151645, 200000]), 'dialog.context.eos-token[1]', 'expected a token id below n-vocab (151936), found 200000'],
    ['eos past a smaller n-vocab', (d) => (d.context['n-vocab'] = 32000), 'dialog.context.eos-token', 'expected a token id below n-vocab (32000), found 151645'],
    ['eot past n-vocab', (d) => (d.context['eot-token'] = 152000), 'dialog.context.eot-token', 'expected a token id below n-vocab (151936), found 152000'],
    ['pad past n-vocab', (d) => (d.context['pad-token'] = 999999), 'dialog.context.pad-token', 'expected a token id below n-vocab (151936), found 999999'],
    ['dialog type', (d) => (d.type = 'greedy'), 'dialog.type', 'expected one of "basic", "ssd-q1", "lade", "spd", "multistream", "eaglet", "kv-share", found "greedy"'],
    ['cpu-mask without 0x', (d) => (d.engine.backend.QnnHtp['cpu-mask'] = 'e0'), 'dialog.engine.backend.QnnHtp.cpu-mask', 'expected a hex string like "0xe0", found "e0"'],
    ['cpu-mask not hex', (d) => (d.engine.backend.QnnHtp['cpu-mask'] = '0xg0'), 'dialog.engine.backend.QnnHtp.cpu-mask', 'expected a hex string like "0xe0", found "0xg0"'],
    ['cpu-mask as a number', (d) => (d.engine.backend.QnnHtp['cpu-mask'] = 224), 'dialog.engine.backend.QnnHtp.cpu-mask', 'expected a hex string like "0xe0", found 224'],
    ['use-mmap as a string', (d) => (d.engine.backend.QnnHtp['use-mmap'] = 'true'), 'dialog.engine.backend.QnnHtp.use-mmap', 'expected true or false, found "true"'],
    ['negative spill-fill', (d) => (d.engine.backend.QnnHtp['spill-fill-bufsize'] = -1), 'dialog.engine.backend.QnnHtp.spill-fill-bufsize', 'expected an integer >= 0, found -1'],
    ['kv-dim 0', (d) => (d.engine.backend.QnnHtp['kv-dim'] = 0), 'dialog.engine.backend.QnnHtp.kv-dim', 'expected a positive integer, or -1 to deduce it from the past_key tensors, found 0'],
    ['kv-update-method', (d) => (d.engine.backend.QnnHtp['kv-update-method'] = 'SHIFT'), 'dialog.engine.backend.QnnHtp.kv-update-method', 'expected one of "SMART_MASK", "NATIVE_KV", "SHIFT_CONCAT", "POINTER_SHIFT", found "SHIFT"'],
    ['n-threads 0', (d) => (d.engine['n-threads'] = 0), 'dialog.engine.n-threads', 'expected a positive integer, found 0'],
    ['backend type', (d) => (d.engine.backend.type = 'Htp'), 'dialog.engine.backend.type', 'expected one of "QnnHtp", "QnnGpu", "QnnGenAiTransformer", "Reference", found "Htp"'],
    ['empty ctx-bins', (d) => (d.engine.model.binary['ctx-bins'] = []), 'dialog.engine.model.binary.ctx-bins', 'expected a non-empty array of context binary paths, found an empty array'],
    ['ctx-bin not a string', (d) => (d.engine.model.binary['ctx-bins'][1] = 7), 'dialog.engine.model.binary.ctx-bins[1]', 'expected a non-empty path string, found 7'],
    ['empty tokenizer path', (d) => (d.tokenizer.path = ''), 'dialog.tokenizer.path', 'expected a non-empty path string, found ""'],
    ['stop-sequence not an array', (d) => (d['stop-sequence'] = 'User:'), 'dialog.stop-sequence', 'expected an array of non-empty strings, found "User:"'],
    ['empty stop sequence', (d) => (d['stop-sequence'] = ['User:', '']), 'dialog.stop-sequence[1]', 'expected a non-empty string, found ""'],
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
        d.context = { ...d.context, 'eos-token': [128001, 128008], 'eot-token': 128009, 'pad-token': 0, 'n-embd': 896, 'draft-n-vocab': 32000, 'embedding-length': 896 };
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
      dialogIssues((d) => (d.engine.backend = { version: 1, type: 'QnnGenAiTransformer', QnnGenAiTransformer: { version: 1, 'n-layer': 0 } })),
    ).toEqual([issue('dialog.engine.backend.QnnGenAiTransformer.n-layer', 'expected a positive integer, found 0')]);
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

  it('requires longrope factor lists of rope-dim entries', () => {
    const issues = withEncoding({
      type: 'rope', 'rope-dim': 32,
      'rope-scaling': { 'rope-type': 'longrope', 'short-factor': Array(31).fill(1), 'long-factor': Array(32).fill(2), 'original-max-position-embeddings': 4096 },
    });
    expect(issues).toEqual([issue(`${at}.rope-scaling.short-factor`, 'expected 32 factors (rope-dim), found 31')]);
  });

  it('measures longrope lists against the default rope-dim 64 when none is given', () => {
    const issues = withEncoding({
      type: 'rope',
      'rope-scaling': { 'rope-type': 'longrope', 'short-factor': Array(64).fill(1), 'long-factor': Array(32).fill(2), 'original-max-position-embeddings': 4096 },
    });
    expect(issues).toEqual([issue(`${at}.rope-scaling.long-factor`, 'expected 64 factors (rope-dim), found 32')]);
  });

  it('rejects an unknown or missing rope-type, and keys of another rope-type', () => {
    expect(withEncoding({ type: 'rope', 'rope-scaling': { 'rope-type': 'yarn' } })).toEqual([
      issue(`${at}.rope-scaling.rope-type`, 'expected one of "default", "llama3", "longrope", found "yarn"'),
    ]);
    expect(withEncoding({ type: 'rope', 'rope-scaling': { factor: 8 } })).toEqual([
      issue(`${at}.rope-scaling.rope-type`, 'mandatory key is missing (expected one of "default", "llama3", "longrope")'),
    ]);
    expect(withEncoding({ type: 'rope', 'rope-scaling': { 'rope-type': 'default', factor: 8 } }).map((i) => i.path)).toEqual([
      `${at}.rope-scaling.factor`,
    ]);
  });

  it('llama3 needs all four keys and high-freq-factor > low-freq-factor', () => {
    expect(withEncoding({ type: 'rope', 'rope-scaling': { 'rope-type': 'llama3', factor: 8 } }).map((i) => i.path)).toEqual([
      `${at}.rope-scaling.low-freq-factor`,
      `${at}.rope-scaling.high-freq-factor`,
      `${at}.rope-scaling.original-max-position-embeddings`,
    ]);
    const scaling = { 'rope-type': 'llama3', factor: 8, 'low-freq-factor': 4, 'high-freq-factor': 4, 'original-max-position-embeddings': 8192 };
    expect(withEncoding({ type: 'rope', 'rope-scaling': scaling })).toEqual([
      issue(`${at}.rope-scaling.high-freq-factor`, 'expected a number > low-freq-factor (4), found 4'),
    ]);
  });

  it('rejects an unknown encoding type and a bad theta', () => {
    expect(withEncoding({ type: 'rotary', 'rope-theta': 0 })).toEqual([
      issue(`${at}.type`, 'expected one of "rope", "absolute", "alibi", found "rotary"'),
      issue(`${at}.rope-theta`, 'expected a positive number, found 0'),
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

  it('needs one bin-section per ctx-bin', () => {
    expect(dialogIssues((d) => (d.engine.model.binary.lora = lora({ adapters: [{ version: 1, name: 'a', 'bin-sections': ['a.bin'] }] })))).toEqual([
      issue(`${at}.adapters[0].bin-sections`, 'expected 2 entries (one per ctx-bin, "" for none), found 1'),
    ]);
  });

  it('matches adapter files to lora-version', () => {
    expect(dialogIssues((d) => (d.engine.model.binary.lora = lora({ adapters: [{ version: 1, name: 'a', path: 'a.bin' }] })))).toEqual([
      issue(`${at}.adapters[0].bin-sections`, 'mandatory key is missing (required when lora-version is 2)'),
      issue(`${at}.adapters[0].path`, 'not allowed when lora-version is 2, found "a.bin"'),
    ]);
    expect(
      dialogIssues((d) => (d.engine.model.binary.lora = lora({ 'lora-version': 1, adapters: [{ version: 1, name: 'a', 'bin-sections': ['', ''] }] }))),
    ).toEqual([
      issue(`${at}.adapters[0].path`, 'mandatory key is missing (required when lora-version is 1)'),
      issue(`${at}.adapters[0].bin-sections`, 'not allowed when lora-version is 1, found an array of 2'),
    ]);
  });

  it('rejects repeated adapter names and group members that name no adapter', () => {
    const adapter = { version: 1, name: 'a', 'bin-sections': ['', 'x.bin'] };
    expect(
      dialogIssues((d) => (d.engine.model.binary.lora = lora({
        adapters: [adapter, { ...adapter }],
        groups: [{ version: 1, name: 'g', members: ['a', 'b'] }],
      }))),
    ).toEqual([
      issue(`${at}.adapters[1].name`, 'expected a unique adapter name, found "a" twice'),
      issue(`${at}.groups[0].members[1]`, 'expected the name of an adapter in adapters, found "b"'),
    ]);
  });

  it('rejects a bad lora-version', () => {
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

  it('keydiff needs its block, and the other type\'s block is an error', () => {
    expect(dialogIssues((d) => (d.engine.longcontext = { version: 1, type: 'keydiff', 'sliding-window': { version: 1, 'window-size': 8 } }))).toEqual([
      issue('dialog.engine.longcontext.keydiff', 'mandatory key is missing (required when type is "keydiff")'),
      issue('dialog.engine.longcontext.sliding-window', 'not allowed when type is "keydiff" (a sliding-window object needs type "sliding-window"), found an object'),
    ]);
  });

  it('rejects prefixes that are prefixes of one another, and an empty list', () => {
    expect(dialogIssues((d) => (d.engine['cache-groups'] = [{ version: 1, prefix: 'past_' }, { version: 1, prefix: 'past_swa_' }]))).toEqual([
      issue('dialog.engine.cache-groups[1].prefix', 'expected a prefix that is not a prefix of another group\'s (nor has one), found "past_swa_" against "past_" of cache-groups[0]'),
    ]);
    expect(dialogIssues((d) => (d.engine['cache-groups'] = []))).toEqual([
      issue('dialog.engine.cache-groups', 'expected a non-empty array of cache-group objects, found an empty array'),
    ]);
  });
});

describe('engine array and roles', () => {
  const pair = (roles: (string | undefined)[]) =>
    roles.map((role) => (role === undefined ? engine() : { ...engine(), role }));

  it('accepts two engines with the roles of spd, kv-share and eaglet', () => {
    expect(() => parseDialog((d) => Object.assign(d, { type: 'spd', engine: pair(['draft', 'target']) }))).not.toThrow();
    expect(() => parseDialog((d) => Object.assign(d, { type: 'kv-share', engine: pair(['secondary', 'primary']) }))).not.toThrow();
    expect(() => parseDialog((d) => Object.assign(d, { type: 'eaglet', engine: pair(['target', 'draft']) }))).not.toThrow();
  });

  it('rejects an engine array for basic', () => {
    expect(dialogIssues((d) => (d.engine = pair(['target', 'draft'])))).toEqual([
      issue('dialog.engine', 'expected a single engine object for type "basic", found an array of 2 (only spd, kv-share and eaglet take two)'),
    ]);
  });

  it('checks count, presence, value and uniqueness of roles', () => {
    expect(dialogIssues((d) => Object.assign(d, { type: 'spd', engine: pair(['draft', undefined]) }))).toEqual([
      issue('dialog.engine[1].role', 'mandatory key is missing (required when the engine is an array (type "spd"))'),
    ]);
    expect(dialogIssues((d) => Object.assign(d, { type: 'spd', engine: pair(['draft', 'primary']) }))).toEqual([
      issue('dialog.engine[1].role', 'expected one of "draft", "target" for type "spd", found "primary"'),
    ]);
    expect(dialogIssues((d) => Object.assign(d, { type: 'spd', engine: pair(['draft', 'draft', 'target']) }))).toEqual([
      issue('dialog.engine', 'expected 2 engines (roles "draft" and "target"), found 3'),
      issue('dialog.engine[1].role', 'expected each role once, found "draft" twice'),
    ]);
  });

  it('requires a role on a single engine for spd and kv-share', () => {
    expect(dialogIssues((d) => (d.type = 'kv-share'))).toEqual([
      issue('dialog.engine.role', 'mandatory key is missing (required when type is "kv-share")'),
    ]);
  });

  it('reports errors inside an array engine with its index', () => {
    expect(dialogIssues((d) => Object.assign(d, { type: 'spd', engine: [{ ...engine(), role: 'draft', 'n-threads': -1 }, { ...engine(), role: 'target' }] }))).toEqual([
      issue('dialog.engine[0].n-threads', 'expected a positive integer, found -1'),
    ]);
  });
});

describe('decoding-strategy sub-objects', () => {
  it('parses every type\'s block', () => {
    const blocks: Json = {
      'ssd-q1': { version: 1, 'ssd-version': 1, 'forecast-token-count': 4, branches: [4, 4], 'forecast-prefix': 16, 'forecast-prefix-name': 'ssd_forecast', 'branch-mode': 'top-1', 'n-streams': 2, 'p-threshold': 0.5 },
      lade: { version: 1, 'update-mode': 'FWD_MAX_HIT', window: 8, ngram: 5, gcap: 8 },
      multistream: { version: 1, 'n-streams': 8, 'p-threshold': 0.1 },
      eaglet: { version: 1, 'eaglet-version': 1, 'draft-len': 6, 'n-branches': 8, 'max-tokens-target-can-evaluate': 32, 'draft-kv-cache': true },
    };
    for (const [type, block] of Object.entries(blocks)) {
      expect(() => parseDialog((d) => Object.assign(d, { type, [type]: block }))).not.toThrow();
    }
    expect(() => parseDialog((d) => Object.assign(d, { type: 'spd', spd: { version: 1, 'draft-len': 4 }, engine: { ...engine(), role: 'target' } }))).not.toThrow();
    expect(() => parseDialog((d) => Object.assign(d, { type: 'kv-share', 'kv-share': { 'enable-in-memory-kv-share': true }, engine: { ...engine(), role: 'primary' } }))).not.toThrow();
  });

  it('ssd-q1: branches <= forecast-token-count, p-threshold needs n-streams > 1', () => {
    const ssd = { version: 1, 'ssd-version': 1, 'forecast-token-count': 1, branches: [4, 4], 'forecast-prefix': 16, 'forecast-prefix-name': 'p', 'p-threshold': 0.5 };
    expect(dialogIssues((d) => Object.assign(d, { type: 'ssd-q1', 'ssd-q1': ssd }))).toEqual([
      issue('dialog.ssd-q1.branches', 'expected at most forecast-token-count (1) branches, found 2'),
      issue('dialog.ssd-q1.p-threshold', 'needs n-streams > 1, found no n-streams'),
    ]);
  });

  it('lade: update-mode from its set', () => {
    expect(dialogIssues((d) => Object.assign(d, { type: 'lade', lade: { version: 1, 'update-mode': 'FAST' } }))).toEqual([
      issue('dialog.lade.update-mode', 'expected one of "FWD_MAX_HIT", "FWD_LEVEL", "ALWAYS_FWD_ONE", found "FAST"'),
    ]);
  });
});

describe('accumulator-size', () => {
  it('belongs to text-generator only', () => {
    expect(dialogIssues((d) => (d['accumulator-size'] = 1000)).map((i) => i.path)).toEqual(['dialog.accumulator-size']);
    const body = { ...dialog(), 'accumulator-size': 1000 };
    expect(parseConfig({ 'text-generator': body }, { baseDir: BASE_DIR }).root).toBe('text-generator');
    expect(issuesOf({ 'text-generator': { ...body, 'accumulator-size': 0 } })).toEqual([
      issue('text-generator.accumulator-size', 'expected a positive integer, found 0'),
    ]);
  });
});

describe('reporting', () => {
  it('reports all mistakes of a config together: 3 mistakes, 3 issues', () => {
    const issues = dialogIssues((d) => {
      d.context.size = -3;
      d.engine.backend.QnnHtp['cpu-mask'] = 'e0';
      d.sampler = { version: 1, type: 'custom' };
    });
    expect(issues).toEqual([
      issue('dialog.context.size', 'expected a positive integer, found -3'),
      issue('dialog.engine.backend.QnnHtp.cpu-mask', 'expected a hex string like "0xe0", found "e0"'),
      issue('dialog.sampler.callback-name', 'mandatory key is missing (required when type is "custom")'),
    ]);
  });

  it('keeps working after a failure', () => {
    expect(() => parseDialog((d) => (d.context.size = 0))).toThrow(ConfigError);
    expect(parseDialog().root).toBe('dialog');
  });

  it('the message lists every issue, one per line', () => {
    try {
      parseDialog((d) => {
        d.context.size = 0;
        d.tokenizer.path = 3;
      });
      throw new Error('unreachable');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).code).toBe('INVALID_CONFIG');
      expect((error as Error).message.split('\n')).toEqual([
        'dialog.context.size: expected a positive integer, found 0',
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
