/**
 * Catalog: `Dialog.restore` (and `rewindTo`) with bad input. A good save is taken from another
 * conversation on the same model, then damaged one way per case: every restore must fail with one
 * typed error naming the file or key, and leave the dialog unchanged (its next turn equals that of a
 * dialog that saw no bad call).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dialog } from '../../../src/runtime/dialog.js';
import { SaveFormatError, SaveModelMismatchError, SaveWriteError, StaleCheckpointError } from '../../../src/runtime/save/errors.js';
import { DialogPool, makeModel, tempDir, tokenIds, tokenTurn, writeBundle, type Json } from '../../runtime/fixtures.js';
import { DialogProbe, expectRejects, expectThrows, type ErrorClass } from './catalog.js';

interface BadSave {
  readonly name: string;
  /** Damages a copy of the good save in `dir` (or makes `dir` something else). */
  readonly make: (dir: string, good: string) => void;
  readonly error: ErrorClass;
  /** Words the message must contain; `DIR` is replaced by the case's folder. */
  readonly words: readonly string[];
}

const copy = (good: string, dir: string): void => cpSync(good, dir, { recursive: true });
const editManifest = (dir: string, edit: (m: Json) => void): void => {
  const path = join(dir, 'dialog.json');
  const m = JSON.parse(readFileSync(path, 'utf8')) as Json;
  edit(m);
  writeFileSync(path, JSON.stringify(m));
};
const flipByte = (path: string, at: (size: number) => number): void => {
  const bytes = readFileSync(path);
  const i = at(bytes.length);
  bytes[i] ^= 0x5a;
  writeFileSync(path, bytes);
};

const BAD: readonly BadSave[] = [
  { name: 'a folder that does not exist', make: () => undefined, error: SaveFormatError, words: ['DIR', 'cannot read the save folder'] },
  { name: 'an empty folder (not a save)', make: (dir) => mkdirSync(dir), error: SaveFormatError, words: ['not a dialog save', 'dialog.json'] },
  { name: 'a file, not a folder', make: (dir) => writeFileSync(dir, 'x'), error: SaveFormatError, words: ['not a folder'] },
  {
    name: 'a folder of other files with a dialog.json of another kind',
    make: (dir) => { mkdirSync(dir); writeFileSync(join(dir, 'dialog.json'), '{"dialog":{"version":1}}'); },
    error: SaveFormatError, words: ['format', 'not a genie-ts dialog save'],
  },
  { name: 'a truncated dialog.json', make: (dir, good) => { copy(good, dir); truncateSync(join(dir, 'dialog.json'), 100); }, error: SaveFormatError, words: ['dialog.json', 'not valid JSON'] },
  { name: 'a truncated kv.safetensors', make: (dir, good) => { copy(good, dir); truncateSync(join(dir, 'kv.safetensors'), 200); }, error: SaveFormatError, words: ['kv.safetensors', 'truncated'] },
  { name: 'a corrupt byte in the KV data', make: (dir, good) => { copy(good, dir); flipByte(join(dir, 'kv.safetensors'), (n) => n - 3); }, error: SaveFormatError, words: ['kv.safetensors', 'sha256', 'corrupt'] },
  { name: 'a missing kv.safetensors', make: (dir, good) => { copy(good, dir); unlinkSync(join(dir, 'kv.safetensors')); }, error: SaveFormatError, words: ['kv.safetensors', 'missing'] },
  { name: 'a missing sampler.primary.rng', make: (dir, good) => { copy(good, dir); unlinkSync(join(dir, 'sampler.primary.rng')); }, error: SaveFormatError, words: ['sampler.primary.rng', 'missing'] },
  { name: 'a corrupt sampler.primary.rng', make: (dir, good) => { copy(good, dir); flipByte(join(dir, 'sampler.primary.rng'), () => 10); }, error: SaveFormatError, words: ['sampler.primary.rng', 'sha256'] },
  { name: 'a folder where kv.safetensors should be', make: (dir, good) => { copy(good, dir); unlinkSync(join(dir, 'kv.safetensors')); mkdirSync(join(dir, 'kv.safetensors')); }, error: SaveFormatError, words: ['kv.safetensors'] },
  { name: 'a FIFO as dialog.json (must not hang)', make: (dir, good) => { copy(good, dir); unlinkSync(join(dir, 'dialog.json')); execFileSync('mkfifo', [join(dir, 'dialog.json')]); }, error: SaveFormatError, words: ['dialog.json', 'not a regular file'] },
  { name: 'format version 3', make: (dir, good) => { copy(good, dir); editManifest(dir, (m) => { m.version = 3; }); }, error: SaveFormatError, words: ['version', '3', 'reads versions 1 and 2'] },
  { name: 'a stage state for another chain', make: (dir, good) => { copy(good, dir); editManifest(dir, (m) => { m.sampler.stages.stages = [{ name: 'mirostat-v2', size: 1 }]; }); }, error: SaveFormatError, words: ['sampler.stages.stages', 'mirostat-v2:1', 'not this chain\'s stateful stages'] },
  { name: 'kv.nValid beyond the context', make: (dir, good) => { copy(good, dir); editManifest(dir, (m) => { m.kv.nValid = 100000; }); }, error: SaveFormatError, words: ['kv.nValid', '100000'] },
  { name: 'a ledger entry outside the vocabulary', make: (dir, good) => { copy(good, dir); editManifest(dir, (m) => { m.ledger.entries[2] = 5_000_000; }); }, error: SaveFormatError, words: ['ledger.entries[2]', '5000000', 'vocabulary'] },
  { name: 'one position fewer than entries', make: (dir, good) => { copy(good, dir); editManifest(dir, (m) => { m.positions.pop(); }); }, error: SaveFormatError, words: ['positions', 'one per KV entry'] },
  { name: 'bad sampler params', make: (dir, good) => { copy(good, dir); editManifest(dir, (m) => { m.sampler.params.temp = -1; }); }, error: SaveFormatError, words: ['sampler.params', 'temp'] },
  { name: 'the model identity edited (a KV encoding)', make: (dir, good) => { copy(good, dir); editManifest(dir, (m) => { m.model.kv[0].key.dtype = 'UFIXED_POINT_8'; }); }, error: SaveModelMismatchError, words: ['model.kv[0].key.dtype', 'UFIXED_POINT_8', 'another model'] },
];

describe('catalog: Dialog.restore', () => {
  const probe = new DialogProbe();
  const root = tempDir('catalog-restore');
  const otherPool = new DialogPool('Reference');
  let good: string;
  let otherModel: string;

  beforeAll(async () => {
    await probe.setup();
    // A save of a different conversation on the same model: a restore that went through would change the turn.
    const source = await probe.open();
    await tokenTurn(source, tokenIds(9, 11, 1, probe.model.config.vocabSize - 1), { maxTokens: 3 });
    good = join(root, 'good');
    await source.save(good);
    // A save of another model (other context length, so other graph specs).
    const other = await writeBundle(root, makeModel({}, 'catalog-other'), { name: 'other', arSet: [1, 32], cl: 96, splits: 1 });
    const dialog = await otherPool.open(other, otherPool.config(other, { contextSize: 64 }));
    await tokenTurn(dialog, tokenIds(5, 12, 1, 1000), { maxTokens: 2 });
    otherModel = join(root, 'other-save');
    await dialog.save(otherModel);
  });
  afterAll(async () => {
    await probe.dispose();
    await otherPool.disposeAll();
  });

  it('the good save restores (the cases below fail only for their damage)', async () => {
    const dialog = await probe.ready();
    await dialog.restore(good);
    expect(dialog.contextUsed).toBeGreaterThan(9);
  });

  it.each(BAD)('$name: typed error naming the file or key; the dialog is unchanged', async ({ name, make, error, words }) => {
    const dir = join(root, name.replace(/[^a-z0-9]+/gi, '-'));
    rmSync(dir, { recursive: true, force: true });
    make(dir, good);
    const dialog = await probe.ready();
    const used = dialog.contextUsed;
    const e = await expectRejects(() => dialog.restore(dir), error, words.map((w) => w.replace('DIR', dir)));
    if (e instanceof SaveFormatError) expect(e.file.startsWith(dir)).toBe(true);
    expect(dialog.contextUsed).toBe(used);
    await probe.expectUnchanged(dialog);
  });

  it('every manifest field deleted or replaced by null, a string, an array or -1: a typed save error, never another class', async () => {
    const manifest = JSON.parse(readFileSync(join(good, 'dialog.json'), 'utf8')) as Json;
    const paths: string[][] = [];
    const walk = (value: unknown, path: string[]): void => {
      if (path.length > 0 && path[0] !== 'model') paths.push(path);
      if (path.length < 3 && typeof value === 'object' && value !== null && !Array.isArray(value)) {
        for (const key of Object.keys(value)) walk((value as Json)[key], [...path, key]);
      }
    };
    walk(manifest, []);
    paths.push(['model']);
    expect(paths.length).toBeGreaterThan(15);
    const dialog = await probe.ready();
    const accepted: string[] = [];
    const dir = join(root, 'fields');
    for (const path of paths) {
      for (const replacement of [undefined, null, 'x', [], -1]) {
        rmSync(dir, { recursive: true, force: true });
        copy(good, dir);
        editManifest(dir, (m) => {
          let at = m;
          for (const key of path.slice(0, -1)) at = at[key];
          if (replacement === undefined) delete at[path.at(-1)!];
          else at[path.at(-1)!] = replacement;
        });
        const error = await dialog.restore(dir).then(() => null, (e: unknown) => e);
        const what = `${path.join('.')} = ${JSON.stringify(replacement)}`;
        if (error === null) {
          accepted.push(what);
          continue;
        }
        expect([SaveFormatError, SaveModelMismatchError], `${what}: ${String(error)}`).toContain((error as Error).constructor);
      }
    }
    // Still valid states: no carried-over token, no turns (a save written before turns were recorded:
    // every entry in turn 0), an empty penalty history, negative presence/frequency penalties; and the
    // default chain's stage state, which is empty (no stateful stage, no journal).
    expect(accepted).toEqual([
      'ledger.turns = undefined', 'ledger.carried = null', 'ledger.history.tokens = []', 'sampler.params.presencePenalty = -1',
      'sampler.params.frequencyPenalty = -1', 'sampler.stages.stages = []', 'sampler.stages.state = []', 'sampler.stages.journal = null',
    ]);
  });

  it('a save of another model: SaveModelMismatchError naming the first key that differs', async () => {
    const dialog = await probe.ready();
    const e = await expectRejects(() => dialog.restore(otherModel), SaveModelMismatchError, ['another model', 'differs']);
    expect((e as SaveModelMismatchError).key).toMatch(/^model\./);
    await probe.expectUnchanged(dialog);
  });

  it('save over a non-empty folder that is not a save is refused; the folder is left alone', async () => {
    const dialog = await probe.ready();
    const dir = join(root, 'not-ours');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'notes.txt'), 'keep me');
    await expectRejects(() => dialog.save(dir), (await import('../../../src/errors.js')).InvalidArgumentError, ['not a dialog save', 'not replacing']);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('keep me');
    await probe.expectUnchanged(dialog);
  });

  it('a staging folder left by a save that was killed is removed by the next save of that folder; one of a live process stays', async () => {
    const dialog = await probe.ready();
    const target = join(root, 'resaved');
    const dead = `${target}.tmp-2147483646-deadbeef`;
    const live = `${target}.tmp-${process.pid}-0badf00d`;
    mkdirSync(dead, { recursive: true });
    mkdirSync(live, { recursive: true });
    await dialog.save(target);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(join(target, 'dialog.json'))).toBe(true);
    rmSync(live, { recursive: true });
  });

  it('save under a path whose parent is a file: SaveWriteError naming the folder, the file system error as cause', async () => {
    const dialog = await probe.ready();
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    const target = join(file, 'save');
    const e = await expectRejects(() => dialog.save(target), SaveWriteError, [target, 'cannot write']);
    expect((e.cause as NodeJS.ErrnoException).code).toMatch(/^(EEXIST|ENOTDIR)$/);
    await probe.expectUnchanged(dialog);
  });

  it('rewindTo something that is not a checkpoint, or a stale one: StaleCheckpointError, the dialog unchanged', async () => {
    const dialog: Dialog = await probe.ready();
    expectThrows(() => dialog.rewindTo({ contextUsed: 3 }), StaleCheckpointError, ['checkpoint()']);
    const fresh = await probe.open();
    const foreign = fresh.checkpoint();
    expectThrows(() => dialog.rewindTo(foreign), StaleCheckpointError, ['another dialog']);
    await probe.expectUnchanged(dialog);
  });
});
