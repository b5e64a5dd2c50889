import { describe, expect, it } from 'vitest';
import { NotSupportedError } from '../../../src/errors.js';
import { assertLoadable, deriveDialog, parseConfig, unsupportedFeatures } from '../../../src/runtime/config/index.js';
import { exactError } from '../../expect-error.js';
import { BASE_DIR, dialog, engine, parseDialog, type Json } from './fixtures.js';

/** Each type's own block, as Genie requires it. */
const BLOCKS: Json = {
  lade: { version: 1, 'update-mode': 'FWD_MAX_HIT', window: 8, ngram: 5, gcap: 8 },
  'ssd-q1': { version: 1, 'ssd-version': 1, 'forecast-token-count': 4, branches: [3, 2], 'forecast-prefix': 16, 'forecast-prefix-name': 'prefix' },
  multistream: { version: 1, 'n-streams': 8 },
  eaglet: { version: 1, 'eaglet-version': 1, 'draft-len': 6, 'n-branches': 8, 'max-tokens-target-can-evaluate': 32, 'draft-kv-cache': true },
};

describe('assertLoadable', () => {
  it('accepts a basic dialog on QnnHtp or the Reference executor, and a text-generator', () => {
    expect(() => assertLoadable(parseDialog())).not.toThrow();
    expect(() => assertLoadable(parseDialog((d) => (d.engine.backend = { version: 1, type: 'Reference' })))).not.toThrow();
    expect(() => assertLoadable(parseConfig({ 'text-generator': dialog() }, { baseDir: BASE_DIR }))).not.toThrow();
  });

  it('rejects lade, which parses, with exactly "not supported yet: dialog.type \\"lade\\""', () => {
    const config = parseDialog((d) => Object.assign(d, { type: 'lade', lade: BLOCKS.lade }));
    expect(() => assertLoadable(config)).toThrow(exactError(NotSupportedError, 'not supported yet: dialog.type "lade"'));
  });

  it.each(['ssd-q1', 'multistream', 'eaglet'])('rejects dialog.type %s', (type) => {
    const config = parseDialog((d) => Object.assign(d, { type, [type]: BLOCKS[type] }));
    expect(() => assertLoadable(config)).toThrow(exactError(NotSupportedError, `not supported yet: dialog.type "${type}"`));
  });

  it('names the text-generator root in its message', () => {
    const pair = [{ ...engine(), role: 'draft' }, { ...engine(), role: 'target' }];
    const config = parseConfig({ 'text-generator': { ...dialog(), type: 'spd', spd: { version: 1, 'draft-len': 4 }, engine: pair } }, { baseDir: BASE_DIR });
    expect(() => assertLoadable(config)).toThrow(exactError(NotSupportedError, 'not supported yet: text-generator.type "spd"'));
  });

  it('rejects the QnnGpu and QnnGenAiTransformer backends, naming the key', () => {
    const gpu = parseDialog((d) => (d.engine.backend = { version: 1, type: 'QnnGpu' }));
    expect(() => assertLoadable(gpu)).toThrow(exactError(NotSupportedError, 'not supported yet: dialog.engine.backend.type "QnnGpu"'));
    const genAi = parseDialog((d) => {
      d.engine.backend = { version: 1, type: 'QnnGenAiTransformer', QnnGenAiTransformer: { version: 1 } };
      d.engine.model = { version: 1, type: 'library', library: { version: 1, 'model-bin': 'model.bin' } };
    });
    expect(() => assertLoadable(genAi)).toThrow(
      exactError(
        NotSupportedError,
        'not supported yet: dialog.engine.backend.type "QnnGenAiTransformer"; not supported yet: dialog.engine.model.type "library"',
      ),
    );
  });

  it('rejects a library model on a supported backend', () => {
    const config = parseDialog((d) => (d.engine.model = { version: 1, type: 'library', library: { version: 1, 'model-bin': 'model.bin' } }));
    expect(() => assertLoadable(config)).toThrow(exactError(NotSupportedError, 'not supported yet: dialog.engine.model.type "library"'));
  });

  it('rejects roots the engine does not run; the embedding root says what it is', () => {
    expect(() => assertLoadable(parseConfig({ profile: { version: 1 } }))).toThrow(
      exactError(NotSupportedError, 'not supported yet: config root "profile" (the engine runs "dialog" and "text-generator" configs)'),
    );
    const embedding = {
      version: 1,
      context: { version: 1, 'n-vocab': 30522, 'ctx-size': 512, 'embed-size': 1024, 'pad-token': 0 },
      tokenizer: { version: 1, path: 'tokenizer.json' },
      engine: {
        version: 1,
        backend: { version: 1, type: 'QnnHtp', QnnHtp: { version: 1, 'spill-fill-bufsize': 0, 'use-mmap': true, 'pooled-output': true, 'allow-async-init': false } },
        model: { version: 1, type: 'binary', binary: { version: 1, 'ctx-bins': ['bge.bin'] } },
      },
    };
    expect(() => assertLoadable(parseConfig({ embedding }, { baseDir: BASE_DIR }))).toThrow(
      exactError(
        NotSupportedError,
        'not supported yet: config root "embedding" (text-embedding models (genie-t2e-run) are not implemented; the engine runs "dialog" and "text-generator" configs)',
      ),
    );
  });

  it('rejects values Genie accepts that genie-ts does not run, naming each with its path', () => {
    const config = parseDialog((d) => {
      d.context.size = -3;
      d.engine.backend.QnnHtp['cpu-mask'] = 'e0';
    });
    expect(() => assertLoadable(config)).toThrow(
      exactError(
        NotSupportedError,
        'cannot run: dialog.context.size: expected a positive integer, found -3; ' +
          'cannot run: dialog.engine.backend.QnnHtp.cpu-mask: expected a hex string like "0xe0", found "e0"',
      ),
    );
    expect(() => deriveDialog(config)).toThrow(NotSupportedError);
  });

  it('rejects integers past 2^53 (a double cannot hold them exactly), saying so', () => {
    const config = parseDialog((d) => {
      d.engine.backend.QnnHtp['spill-fill-bufsize'] = 1e20;
      d.engine.backend.QnnHtp['mmap-budget'] = 2 ** 53 + 2;
    });
    expect(() => assertLoadable(config)).toThrow(
      exactError(
        NotSupportedError,
        'cannot run: dialog.engine.backend.QnnHtp.spill-fill-bufsize: expected an integer >= 0, found 100000000000000000000 (past 2^53: not held exactly); ' +
          'cannot run: dialog.engine.backend.QnnHtp.mmap-budget: expected an integer >= 0, found 9007199254740994 (past 2^53: not held exactly)',
      ),
    );
    // 2^53 - 1 still runs.
    expect(() => assertLoadable(parseDialog((d) => (d.engine.backend.QnnHtp['mmap-budget'] = 2 ** 53 - 1)))).not.toThrow();
  });
});

describe('unsupportedFeatures', () => {
  it('lists everything at once: type, backend, model type, keys, then values', () => {
    const config = parseDialog((d) => {
      Object.assign(d, { type: 'lade', lade: BLOCKS.lade });
      d.engine.backend = { version: 1, type: 'QnnGpu' };
      d.engine.model = { version: 1, type: 'library', library: { version: 1, 'model-bin': 'model.bin' } };
      d.context['n-vocab'] = 100;
    });
    expect(unsupportedFeatures(config)).toEqual([
      'not supported yet: dialog.type "lade"',
      'not supported yet: dialog.engine.backend.type "QnnGpu"',
      'not supported yet: dialog.engine.model.type "library"',
      'cannot run: dialog.context.eos-token: expected a token id below n-vocab (100), found 151645',
    ]);
  });

  it('an image encoder without an engine (Genie does not require one): the missing engine, no crash', () => {
    expect(unsupportedFeatures(parseConfig({ 'image-encoder': { version: 1 } }))).toEqual([
      'cannot run: image-encoder.engine: mandatory key is missing (genie-ts needs it to encode images)',
    ]);
  });

  it('is empty for a config genie-ts runs', () => {
    expect(unsupportedFeatures(parseDialog())).toEqual([]);
  });
});
