/**
 * Keys a valid Genie config may carry but genie-ts does not act on: loading such a config for
 * execution fails with a NotSupportedError naming each key, `config check` only warns.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configCommand } from '../../../src/cli/commands/config.js';
import type { CliIO } from '../../../src/cli/io.js';
import { NotSupportedError } from '../../../src/errors.js';
import { assertLoadable, parseConfig, unsupportedKeys } from '../../../src/runtime/config/index.js';
import { Dialog } from '../../../src/runtime/dialog.js';
import { exactError } from '../../expect-error.js';
import { BASE_DIR, dialog, parseDialog, type Json } from './fixtures.js';

const LORA = 'LoRA adapters are not implemented';

/** Each key genie-ts refuses: how to add it to a minimal valid dialog, and the exact message. */
const REFUSED: readonly { readonly name: string; readonly edit: (d: Json) => void; readonly message: string }[] = [
  {
    name: 'a multistream block on a basic dialog (Genie ignores it there)',
    edit: (d) => (d.multistream = { version: 1, 'n-streams': 8 }),
    message: 'not supported yet: dialog.multistream (only type "multistream" reads it, and this dialog is type "basic")',
  },
  {
    name: 'an eaglet block on a basic dialog, whose keys Genie does not check there',
    edit: (d) => (d.eaglet = {}),
    message: 'not supported yet: dialog.eaglet (only type "eaglet" reads it, and this dialog is type "basic")',
  },
  {
    name: 'context.draft-n-vocab',
    edit: (d) => (d.context['draft-n-vocab'] = 3200),
    message: "not supported yet: dialog.context.draft-n-vocab (a draft model's vocabulary size; only speculative dialog types use one)",
  },
  {
    name: 'engine.longcontext of type sliding-window without its window block',
    edit: (d) => (d.engine.longcontext = { version: 1, type: 'sliding-window' }),
    message: 'not supported yet: dialog.engine.longcontext (type "sliding-window" without a sliding-window block: genie-ts needs its window-size)',
  },
  {
    name: 'engine.longcontext of type keydiff',
    edit: (d) => (d.engine.longcontext = { version: 1, type: 'keydiff', keydiff: { version: 1, 'scoring-network': 'score.bin', 'update-frequency': 32 } }),
    message: 'not supported yet: dialog.engine.longcontext.type "keydiff" (KeyDiff eviction (its scoring network) is not implemented; sliding-window is)',
  },
  {
    name: 'a cache group other than the default one',
    edit: (d) => (d.engine['cache-groups'] = [{ version: 1, prefix: 'past_' }, { version: 1, prefix: 'swa_' }]),
    message: 'not supported yet: dialog.engine.cache-groups (only the default group (prefix "past_", no other keys) is implemented)',
  },
  {
    name: 'the default cache group with a mask tensor name',
    edit: (d) => (d.engine['cache-groups'] = [{ version: 1, prefix: 'past_', 'attention-mask-tensor-name': 'mask' }]),
    message: 'not supported yet: dialog.engine.cache-groups (only the default group (prefix "past_", no other keys) is implemented)',
  },
  {
    name: 'model.binary.lora',
    edit: (d) =>
      (d.engine.model.binary.lora = {
        version: 1,
        adapters: [{ version: 1, name: 'a', 'bin-sections': ['', 'a.bin'] }],
      }),
    message: `not supported yet: dialog.engine.model.binary.lora (${LORA})`,
  },
  {
    name: 'model.draft-token-map',
    edit: (d) => (d.engine.model['draft-token-map'] = 'vocab_trim.json'),
    message: 'not supported yet: dialog.engine.model.draft-token-map (vocabulary trimming for draft models is not implemented)',
  },
  {
    name: 'positional-encoding type alibi',
    edit: (d) => (d.engine.model['positional-encoding'] = { type: 'alibi' }),
    message: 'not supported yet: dialog.engine.model.positional-encoding.type "alibi" (only rope position tables are implemented)',
  },
  {
    name: 'kv-update-method NATIVE_KV',
    edit: (d) => (d.engine.backend.QnnHtp['kv-update-method'] = 'NATIVE_KV'),
    message: 'not supported yet: dialog.engine.backend.QnnHtp.kv-update-method "NATIVE_KV" (the KV cache is updated in SMART_MASK mode only)',
  },
  {
    name: 'kv-update-method POINTER_SHIFT (Genie runs it as NATIVE_KV)',
    edit: (d) => (d.engine.backend.QnnHtp['kv-update-method'] = 'POINTER_SHIFT'),
    message: 'not supported yet: dialog.engine.backend.QnnHtp.kv-update-method "POINTER_SHIFT" (the KV cache is updated in SMART_MASK mode only)',
  },
  {
    name: 'allow-async-init true',
    edit: (d) => (d.engine.backend.QnnHtp['allow-async-init'] = true),
    message: 'not supported yet: dialog.engine.backend.QnnHtp.allow-async-init true (contexts are created one after the other)',
  },
  {
    name: 'data-alignment-size',
    edit: (d) => (d.engine.backend.QnnHtp['data-alignment-size'] = 64),
    message: "not supported yet: dialog.engine.backend.QnnHtp.data-alignment-size (shared-memory allocations use the allocator's alignment)",
  },
  {
    name: 'graph-switching-lora-policy',
    edit: (d) => (d.engine.backend.QnnHtp['graph-switching-lora-policy'] = 'eager'),
    message: `not supported yet: dialog.engine.backend.QnnHtp.graph-switching-lora-policy (${LORA})`,
  },
  {
    name: 'skip-lora-validation true',
    edit: (d) => (d.engine.backend.QnnHtp['skip-lora-validation'] = true),
    message: `not supported yet: dialog.engine.backend.QnnHtp.skip-lora-validation true (${LORA})`,
  },
  {
    name: 'extensions with the Reference backend',
    edit: (d) => (d.engine.backend = { version: 1, type: 'Reference', extensions: 'htp_backend_ext_config.json' }),
    message:
      'not supported yet: dialog.engine.backend.extensions (the HTP extensions file configures QnnHtp; backend type "Reference" has no use for it)',
  },
];

describe('keys genie-ts does not act on are refused at load', () => {
  it.each(REFUSED)('$name', ({ edit, message }) => {
    const config = parseDialog(edit);
    expect(() => assertLoadable(config)).toThrow(exactError(NotSupportedError, message));
  });

  it('names every such key in one message, in schema order, under the text-generator root too', () => {
    const body = dialog();
    body.engine.backend.QnnHtp['allow-async-init'] = true;
    body.engine.backend.QnnHtp['shared-engine'] = true; // the schema wants allow-async-init with it
    body.context['draft-n-vocab'] = 3200;
    const config = parseConfig({ 'text-generator': { ...body, 'accumulator-size': 1024 } }, { baseDir: BASE_DIR });
    const expected = [
      "not supported yet: text-generator.context.draft-n-vocab (a draft model's vocabulary size; only speculative dialog types use one)",
      'not supported yet: text-generator.engine.backend.QnnHtp.allow-async-init true (contexts are created one after the other)',
      'not supported yet: text-generator.engine.backend.QnnHtp.shared-engine true (engines are not shared between dialogs)',
    ];
    if (config.root !== 'text-generator') throw new Error('expected a text-generator root');
    expect(unsupportedKeys(config)).toEqual(expected);
    expect(() => assertLoadable(config)).toThrow(exactError(NotSupportedError, expected.join('; ')));
  });

  it('accepts what genie-ts does anyway: Genie defaults, SHIFT_CONCAT, the default cache group, a rope encoding, accumulator-size, an empty stop sequence', () => {
    const config = parseDialog((d) => {
      Object.assign(d.engine.backend.QnnHtp, {
        'kv-update-method': 'SHIFT_CONCAT',
        'allow-async-init': false,
        'shared-engine': false,
        'skip-lora-validation': false,
        'enable-graph-switching': true,
      });
      d.engine['cache-groups'] = [{ version: 1, prefix: 'past_' }];
      d.engine.model['positional-encoding'] = { type: 'rope', 'rope-dim': 32 };
      d.sampler = { version: 1, greedy: true, temp: 0, 'callback-name': 'unused without type custom' };
      d['stop-sequence'] = [''];
      d['accumulator-size'] = 'unused';
    });
    if (config.root !== 'dialog') throw new Error('expected a dialog root');
    expect(unsupportedKeys(config)).toEqual([]);
    expect(() => assertLoadable(config)).not.toThrow();
    const smartMask = parseDialog((d) => (d.engine.backend.QnnHtp['kv-update-method'] = 'SMART_MASK'));
    expect(() => assertLoadable(smartMask)).not.toThrow();
    const generator = parseConfig({ 'text-generator': { ...dialog(), 'accumulator-size': 14680064 } }, { baseDir: BASE_DIR });
    expect(() => assertLoadable(generator)).not.toThrow();
  });

  it('Dialog.create refuses such a config before it opens any file', async () => {
    const body = dialog();
    body.context['draft-n-vocab'] = 3200;
    await expect(Dialog.create({ dialog: body }, { baseDir: BASE_DIR })).rejects.toThrow(
      exactError(NotSupportedError, "not supported yet: dialog.context.draft-n-vocab (a draft model's vocabulary size; only speculative dialog types use one)"),
    );
  });
});

describe('genie-ts config check on such a config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'genie-unsupported-keys-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reports the key as a warning and exits 0', async () => {
    for (const file of ['tokenizer.json', 'model_part_1_of_2.bin', 'model_part_2_of_2.bin']) writeFileSync(join(dir, file), '{}');
    const body = dialog();
    body.context['draft-n-vocab'] = 3200;
    const path = join(dir, 'draft-n-vocab.json');
    writeFileSync(path, JSON.stringify({ dialog: body }));
    let stdout = '';
    let stderr = '';
    const io: CliIO = { stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text), isTTY: false };
    expect(await configCommand(['check', path], io)).toBe(0);
    expect(stdout).toBe('ok\nroot=dialog type=basic backend=QnnHtp context=4096 ctx-bins=2\n');
    expect(stderr).toBe(
      "warning: valid Genie config, but this runtime cannot run it: not supported yet: dialog.context.draft-n-vocab (a draft model's vocabulary size; only speculative dialog types use one)\n",
    );
  });
});
