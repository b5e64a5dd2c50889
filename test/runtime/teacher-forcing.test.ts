/**
 * `QueryOptions.forceTokens` and `genie-ts run --force-tokens`: Reference and QnnHtp (simulated)
 * forced with the same tokens feed the same tokens step for step; each logits row equals a float64
 * recompute of the prompt and the forced tokens (no cache), and the sampler's recorded picks are the
 * argmax of those recomputed rows. Bad values are typed errors at the call.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import type { StepEvent } from '../../src/runtime/engine/index.js';
import { fullForward } from '../backends/reference/qwen2-oracle.js';
import { cli, writeConfig } from '../cli/fixtures.js';
import {
  argmax, BACKENDS, DialogPool, makeModel, tempDir, tokenIds, tokenTurn, writeBundle, type BackendKind, type Bundle, type Turn,
} from './fixtures.js';

const model = makeModel({}, 'teacher-forcing');
const PROMPT = tokenIds(9, 11, 1, 1000);
/** Not what greedy decoding would pick (arbitrary ids), so the forcing is visible. */
const FORCED = [17, 400, 3, 999, 256];

interface Forced {
  readonly turn: Turn;
  /** Per step: the tokens it fed. */
  readonly fed: number[][];
}

describe('QueryOptions.forceTokens: Reference and QnnHtp stay aligned', () => {
  const root = tempDir('teacher-forcing');
  const pools = new Map(BACKENDS.map((b) => [b, new DialogPool(b)] as const));
  let bundle: Bundle;
  const runs = new Map<BackendKind, Forced>();

  beforeAll(async () => {
    bundle = await writeBundle(root, model, { name: 'b', arSet: [1, 4], cl: 32, splits: 2 });
    for (const [backend, pool] of pools) {
      const dialog = await pool.open(bundle);
      const fed: number[][] = [];
      const turn = await tokenTurn(dialog, PROMPT, { forceTokens: FORCED, onStep: (e: StepEvent) => fed.push([...e.tokens]) });
      runs.set(backend, { turn, fed });
    }
  });
  afterAll(async () => {
    for (const pool of pools.values()) await pool.disposeAll();
  });

  it('generates exactly the forced tokens and ends with stop reason "forced"', () => {
    for (const { turn } of runs.values()) {
      expect(turn.result.stopReason).toBe('forced');
      expect(turn.result.generatedTokens).toEqual(FORCED);
      expect(turn.sampled).toEqual(FORCED);
    }
  });

  it('feeds the same tokens step for step on both backends: the prompt in AR-4 chunks, then the forced tokens but the last', () => {
    const reference = runs.get('Reference')!.fed;
    expect(reference).toEqual([PROMPT.slice(0, 4), PROMPT.slice(4, 8), PROMPT.slice(8), ...FORCED.slice(0, -1).map((t) => [t])]);
    expect(runs.get('QnnHtp')!.fed).toEqual(reference);
  });

  it('logits rows equal a float64 recompute of prompt + forced tokens; samplerTokens are its argmax', () => {
    const expected = fullForward(model.config, model.weights, [...PROMPT, ...FORCED.slice(0, -1)]);
    for (const [backend, { turn }] of runs) {
      expect(turn.logits, backend).toHaveLength(FORCED.length);
      turn.logits.forEach((row, i) => {
        const want = expected[PROMPT.length - 1 + i];
        let worst = 0;
        for (let v = 0; v < want.length; v++) worst = Math.max(worst, Math.abs(row[v] - want[v]));
        expect(worst, `${backend} row ${i}`).toBeLessThanOrEqual(1e-4);
      });
      expect(turn.result.samplerTokens, backend).toEqual(FORCED.map((_, i) => argmax(expected[PROMPT.length - 1 + i])));
    }
    // And the two backends' rows agree with each other, row by row.
    const [a, b] = [runs.get('Reference')!.turn, runs.get('QnnHtp')!.turn];
    a.logits.forEach((row, i) => expect(Array.from(b.logits[i])).toEqual(Array.from(row)));
  });

  it('a free query has no samplerTokens; maxTokens below the forced count ends first', async () => {
    const dialog = await pools.get('Reference')!.open(bundle);
    const free = await tokenTurn(dialog, PROMPT, { maxTokens: 2 });
    expect(free.result.samplerTokens).toBeUndefined();
    dialog.reset();
    const capped = await tokenTurn(dialog, PROMPT, { maxTokens: 2, forceTokens: FORCED });
    expect(capped.result).toMatchObject({ stopReason: 'max-tokens', generatedTokens: FORCED.slice(0, 2) });
  });

  it('rejects bad forceTokens at the call, naming the entry', async () => {
    const dialog = await pools.get('Reference')!.open(bundle);
    const vocab = model.config.vocabSize;
    expect(() => dialog.tokenQuery(PROMPT, { forceTokens: [] })).toThrow(
      new InvalidArgumentError('forceTokens must not be empty (leave the option out to sample freely)'),
    );
    expect(() => dialog.tokenQuery(PROMPT, { forceTokens: [1, vocab] })).toThrow(
      new InvalidArgumentError(`forceTokens[1] = ${vocab} is not a token id in [0, ${vocab})`),
    );
    expect(() => dialog.tokenQuery(PROMPT, { forceTokens: '1 2' as never })).toThrow(
      new InvalidArgumentError('forceTokens must be an array (or typed array) of token ids, got the string "1 2"'),
    );
    expect(() => dialog.tokenQuery(PROMPT, { forceTokens: [1.5] })).toThrow(InvalidArgumentError);
    // Still usable.
    expect((await tokenTurn(dialog, PROMPT, { forceTokens: [5] })).result.generatedTokens).toEqual([5]);
  });

  it('genie-ts run --force-tokens FILE generates the file\'s tokens (--json: samplerTokens too)', async () => {
    const config = writeConfig(bundle, 'forced.json', {});
    const promptFile = join(root, 'prompt.txt');
    const forcedFile = join(root, 'forced.txt');
    writeFileSync(promptFile, PROMPT.join(' '));
    writeFileSync(forcedFile, `${FORCED.slice(0, 3).join('\n')}\n`);
    const { code, stdout, stderr } = await cli(['run', '-c', config, '-tok', promptFile, '--force-tokens', forcedFile, '--json']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const json = JSON.parse(stdout);
    expect(json).toMatchObject({ stopReason: 'forced', generatedTokens: FORCED.slice(0, 3) });
    expect(json.samplerTokens).toEqual(runs.get('Reference')!.turn.result.samplerTokens!.slice(0, 3));

    writeFileSync(forcedFile, '17 x');
    const bad = await cli(['run', '-c', config, '-tok', promptFile, '--force-tokens', forcedFile]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`--force-tokens file "${forcedFile}": entry 2 "x" is not a token id`);
  });
});
