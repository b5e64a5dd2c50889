import { describe, expect, it } from 'vitest';
import { NotSupportedError } from '../../../src/errors.js';
import { assertLoadable, parseConfig } from '../../../src/runtime/config/index.js';
import { BASE_DIR, dialog, engine, parseDialog } from './fixtures.js';

describe('assertLoadable', () => {
  it('accepts a basic dialog on QnnHtp or the Reference executor, and a text-generator', () => {
    expect(() => assertLoadable(parseDialog())).not.toThrow();
    expect(() => assertLoadable(parseDialog((d) => (d.engine.backend = { version: 1, type: 'Reference' })))).not.toThrow();
    expect(() => assertLoadable(parseConfig({ 'text-generator': dialog() }, { baseDir: BASE_DIR }))).not.toThrow();
  });

  it('rejects lade, which parses, with exactly "not supported yet: dialog.type \\"lade\\""', () => {
    const config = parseDialog((d) => Object.assign(d, { type: 'lade', lade: { version: 1, window: 8, ngram: 5, gcap: 8 } }));
    expect(() => assertLoadable(config)).toThrow(NotSupportedError);
    expect(() => assertLoadable(config)).toThrow(/^not supported yet: dialog\.type "lade"$/);
  });

  it.each(['ssd-q1', 'multistream', 'eaglet'])('rejects dialog.type %s', (type) => {
    const config = parseDialog((d) => (d.type = type));
    expect(() => assertLoadable(config)).toThrow(new NotSupportedError(`not supported yet: dialog.type "${type}"`));
  });

  it('names the text-generator root in its message', () => {
    const config = parseConfig({ 'text-generator': { ...dialog(), type: 'spd', engine: { ...engine(), role: 'target' } } }, { baseDir: BASE_DIR });
    expect(() => assertLoadable(config)).toThrow(new NotSupportedError('not supported yet: text-generator.type "spd"'));
  });

  it('rejects the QnnGpu and QnnGenAiTransformer backends, naming the key', () => {
    const gpu = parseDialog((d) => (d.engine.backend = { version: 1, type: 'QnnGpu' }));
    expect(() => assertLoadable(gpu)).toThrow(new NotSupportedError('not supported yet: dialog.engine.backend.type "QnnGpu"'));
    const genAi = parseDialog((d) => {
      d.engine.backend = { version: 1, type: 'QnnGenAiTransformer', QnnGenAiTransformer: { version: 1 } };
      d.engine.model = { version: 1, type: 'library', library: { version: 1, 'model-bin': 'model.bin' } };
    });
    expect(() => assertLoadable(genAi)).toThrow(new NotSupportedError('not supported yet: dialog.engine.backend.type "QnnGenAiTransformer"'));
  });

  it('rejects a library model on a supported backend', () => {
    const config = parseDialog((d) => (d.engine.model = { version: 1, type: 'library', library: { version: 1, 'model-bin': 'model.bin' } }));
    expect(() => assertLoadable(config)).toThrow(new NotSupportedError('not supported yet: dialog.engine.model.type "library"'));
  });

  it('rejects roots the engine does not run', () => {
    expect(() => assertLoadable(parseConfig({ profile: { version: 1 } }))).toThrow(
      new NotSupportedError('not supported yet: config root "profile" (the engine runs "dialog" and "text-generator" configs)'),
    );
  });
});
