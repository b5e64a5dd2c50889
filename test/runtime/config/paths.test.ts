import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigFile, missingFiles, parseConfig, referencedFiles } from '../../../src/runtime/config/index.js';
import { BASE_DIR, dialog, engine, type Json } from './fixtures.js';

/** A dialog naming every kind of file path a dialog can hold, all relative. */
function everyPathDialog(): Json {
  const d = dialog();
  d.embedding = { version: 1, size: 896, type: 'lut', 'lut-path': 'lut.bin', datatype: 'float32' };
  d.engine.backend.extensions = 'htp_ext.json';
  d.engine.model.binary.lora = {
    version: 1,
    adapters: [{ version: 1, name: 'a', 'bin-sections': ['', 'lora/a_2_of_2.bin'] }],
    groups: [{ version: 1, name: 'g', members: ['a'], 'quant-bin-sections': ['q_1.bin', ''] }],
  };
  d.engine.model['draft-token-map'] = 'vocab_trim.json';
  d.engine.longcontext = { version: 1, type: 'keydiff', keydiff: { version: 1, 'scoring-network': 'scorer.bin', 'update-frequency': 128 } };
  d.engine['cache-groups'] = [
    { version: 1, prefix: 'swa_', longcontext: { version: 1, type: 'keydiff', keydiff: { version: 1, 'scoring-network': '../shared/swa_scorer.bin', 'update-frequency': 64 } } },
  ];
  return d;
}

describe('relative paths resolve against the config folder', () => {
  it('covers every path key of a dialog, keeping "" entries and absolute paths', () => {
    const d = everyPathDialog();
    d.engine.model.binary['ctx-bins'][1] = '/abs/part_2.bin';
    const config = parseConfig({ dialog: d }, { baseDir: BASE_DIR });
    if (config.root !== 'dialog') throw new Error('unreachable');
    const parsed = config.dialog;
    const engineOut = parsed.engine as Json;
    expect(parsed.tokenizer.path).toBe(join(BASE_DIR, 'tokenizer.json'));
    expect(parsed.embedding?.['lut-path']).toBe(join(BASE_DIR, 'lut.bin'));
    expect(engineOut.backend.extensions).toBe(join(BASE_DIR, 'htp_ext.json'));
    expect(engineOut.model.binary['ctx-bins']).toEqual([join(BASE_DIR, 'model_part_1_of_2.bin'), '/abs/part_2.bin']);
    expect(engineOut.model.binary.lora.adapters[0]['bin-sections']).toEqual(['', join(BASE_DIR, 'lora/a_2_of_2.bin')]);
    expect(engineOut.model.binary.lora.groups[0]['quant-bin-sections']).toEqual([join(BASE_DIR, 'q_1.bin'), '']);
    expect(engineOut.model['draft-token-map']).toBe(join(BASE_DIR, 'vocab_trim.json'));
    expect(engineOut.longcontext.keydiff['scoring-network']).toBe(join(BASE_DIR, 'scorer.bin'));
    expect(engineOut['cache-groups'][0].longcontext.keydiff['scoring-network']).toBe(join(BASE_DIR, '..', 'shared', 'swa_scorer.bin'));
  });

  it('lists every referenced file with its JSON path, in config order', () => {
    const config = parseConfig({ dialog: everyPathDialog() }, { baseDir: BASE_DIR });
    expect(referencedFiles(config).map((file) => file.key)).toEqual([
      'dialog.tokenizer.path',
      'dialog.embedding.lut-path',
      'dialog.engine.backend.extensions',
      'dialog.engine.model.binary.ctx-bins[0]',
      'dialog.engine.model.binary.ctx-bins[1]',
      'dialog.engine.model.binary.lora.adapters[0].bin-sections[1]',
      'dialog.engine.model.binary.lora.groups[0].quant-bin-sections[0]',
      'dialog.engine.model.draft-token-map',
      'dialog.engine.longcontext.keydiff.scoring-network',
      'dialog.engine.cache-groups[0].longcontext.keydiff.scoring-network',
    ]);
  });

  it('resolves LoRA v1 paths, library models and each engine of a pair', () => {
    const draft = { ...engine(), role: 'draft' };
    draft.model.binary.lora = { version: 1, 'lora-version': 1, adapters: [{ version: 1, name: 'a', path: 'a.safetensors' }] };
    const target = { ...engine(), role: 'target' };
    target.backend = { version: 1, type: 'QnnGenAiTransformer', QnnGenAiTransformer: { version: 1 } };
    target.model = { version: 1, type: 'library', library: { version: 1, 'model-bin': 'model.bin' } };
    const config = parseConfig({ dialog: { ...dialog(), type: 'spd', spd: { version: 1, 'draft-len': 4 }, engine: [draft, target] } }, { baseDir: BASE_DIR });
    const files = Object.fromEntries(referencedFiles(config).map((file) => [file.key, file.path]));
    expect(files['dialog.engine[0].model.binary.lora.adapters[0].path']).toBe(join(BASE_DIR, 'a.safetensors'));
    expect(files['dialog.engine[1].model.library.model-bin']).toBe(join(BASE_DIR, 'model.bin'));
  });

  it('resolves the other roots\' paths', () => {
    const textEncoder = parseConfig(
      { 'text-encoder': { version: 1, type: 'lut', lut: { version: 1, 'lut-path': 'lut.bin', size: 8 }, tokenizer: { version: 1, path: 't.json' } } },
      { baseDir: BASE_DIR },
    );
    expect(referencedFiles(textEncoder).map((f) => f.key)).toEqual(['text-encoder.tokenizer.path', 'text-encoder.lut.lut-path']);
    expect(referencedFiles(textEncoder).map((f) => f.path)).toEqual([join(BASE_DIR, 't.json'), join(BASE_DIR, 'lut.bin')]);
    const encoderModel = parseConfig(
      {
        'lut-encoder': {
          version: 1,
          engine: {
            version: 1,
            backend: { version: 1, type: 'QnnGenAiTransformer', QnnGenAiTransformer: { version: 1 } },
            model: { version: 1, type: 'library', library: { version: 1, 'model-bin': 'encoder.bin' } },
          },
        },
      },
      { baseDir: BASE_DIR },
    );
    expect(referencedFiles(encoderModel)).toEqual([{ key: 'lut-encoder.engine.model.library.model-bin', path: join(BASE_DIR, 'encoder.bin') }]);
    const standalone = parseConfig(
      { 'standalone-engine': { version: 1, embedding: { version: 1, size: 8, type: 'lut', 'lut-path': 'l.bin' }, context: dialog().context, engine: { ...engine(), role: 'draft' } } },
      { baseDir: BASE_DIR },
    );
    expect(referencedFiles(standalone).map((f) => f.key)).toEqual([
      'standalone-engine.embedding.lut-path',
      'standalone-engine.engine.model.binary.ctx-bins[0]',
      'standalone-engine.engine.model.binary.ctx-bins[1]',
    ]);
    expect(referencedFiles(parseConfig({ sampler: { version: 1 } }))).toEqual([]);
  });

  it('defaults baseDir to the current directory', () => {
    const config = parseConfig({ dialog: dialog() });
    expect(referencedFiles(config)[0].path).toBe(join(process.cwd(), 'tokenizer.json'));
  });
});

describe('files on disk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'genie-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loadConfigFile resolves against the file\'s folder; missingFiles lists what is absent', async () => {
    mkdirSync(join(dir, 'bundle'));
    writeFileSync(join(dir, 'bundle', 'genie_config.json'), JSON.stringify({ dialog: dialog() }));
    writeFileSync(join(dir, 'bundle', 'tokenizer.json'), '{}');
    writeFileSync(join(dir, 'bundle', 'model_part_2_of_2.bin'), '');
    const loaded = await loadConfigFile(join(dir, 'bundle', '..', 'bundle', 'genie_config.json'));
    expect(loaded.path).toBe(join(dir, 'bundle', 'genie_config.json'));
    expect(loaded.baseDir).toBe(join(dir, 'bundle'));
    expect(missingFiles(loaded.config)).toEqual([join(dir, 'bundle', 'model_part_1_of_2.bin')]);
  });

  it('lists a missing file once even when named twice', () => {
    const d = dialog();
    d.engine.model.binary['ctx-bins'] = ['same.bin', 'same.bin'];
    expect(missingFiles(parseConfig({ dialog: d }, { baseDir: dir }))).toEqual([join(dir, 'tokenizer.json'), join(dir, 'same.bin')]);
  });
});
