/**
 * trace diff on hand-made traces: the metrics against mathjs formulas on independently dequantised
 * values, masks compared as patterns across encodings, logits argmax, the first parting, alignment
 * failures (other prompts, variants, models), and damaged trace folders.
 */
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as math from 'mathjs';
import { describe, expect, it } from 'vitest';
import { diffTraces, TraceAlignError, type TraceDiff } from '../../../src/runtime/trace/trace-diff.js';
import { readTrace } from '../../../src/runtime/trace/trace-reader.js';
import { TraceError } from '../../../src/runtime/trace/trace-writer.js';
import { tempRoot, writeHandTrace, type HandStep, type HandTensor } from './fixtures.js';

const root = tempRoot('trace-diff');
let n = 0;
const trace = (steps: readonly HandStep[], options?: { complete?: boolean }): string => writeHandTrace(join(root, `t${n++}`), steps, options);
const diff = async (a: string, b: string, minSqnrDb?: number): Promise<TraceDiff> =>
  diffTraces(await readTrace(a), await readTrace(b), { minSqnrDb });

/** Oracles, written from the definitions with mathjs. */
const sqnr = (a: number[], b: number[]): number => 10 * (math.log10(math.sum(math.dotPow(a, 2)) / math.sum(math.dotPow(math.subtract(a, b), 2))) as number);
const cosine = (a: number[], b: number[]): number => (math.dot(a, b) / ((math.norm(a) as number) * (math.norm(b) as number)));
const maxAbs = (a: number[], b: number[]): number => math.max(math.abs(math.subtract(a, b)) as number[]);
const f32 = (values: number[]): number[] => Array.from(Float32Array.from(values));

const HIDDEN_A = f32([0.5, -1.25, 2, 0.125, -3, 1.5]);
const ENC = { scale: 0.001, offset: -32768 };
/** B's hidden state as uint16 codes of a slightly different signal. */
const HIDDEN_B_CODES = [0.51, -1.2, 1.98, 0.13, -3.05, 1.5].map((v) => Math.round(v / ENC.scale) - ENC.offset);
const HIDDEN_B = HIDDEN_B_CODES.map((q) => (q + ENC.offset) * ENC.scale);

const tensor = (name: string, role: string, dtype: HandTensor['dtype'], values: number[], extra: Partial<HandTensor> = {}): HandTensor =>
  ({ name, role, dtype, shape: [1, values.length], values, ...extra });

/** A float mask (0 attend, -1000 masked) and the same pattern as AI Hub's uint16 mask codes (65535 attend, 0 masked). */
const MASK_PATTERN = [1, 1, 0, 0];
const floatMask = (pattern: number[]): HandTensor => tensor('attention_mask', 'attention_mask', 'FLOAT_32', pattern.map((p) => (p ? 0 : -1000)));
const u16Mask = (pattern: number[]): HandTensor =>
  tensor('attention_mask', 'attention_mask', 'UFIXED_POINT_16', pattern.map((p) => (p ? 65535 : 0)), { encoding: { scale: 50 / 65535, offset: -65535 } });

describe('trace diff metrics', () => {
  it('SQNR, max abs error and cosine of dequantised tensors match the formulas; a uint16 mask equals a float mask of the same pattern', async () => {
    const logitsA = [0.1, 2.5, -1, 0.3];
    const logitsB = [0.2, 2.4, -0.9, 0.1];
    const a = trace([{ tokens: [7], tensors: [tensor('input_ids', 'input_ids', 'INT_32', [7]), floatMask(MASK_PATTERN), tensor('hidden', 'other', 'FLOAT_32', HIDDEN_A), tensor('logits', 'logits', 'FLOAT_32', logitsA)] }]);
    const b = trace([{ tokens: [7], tensors: [tensor('input_ids', 'input_ids', 'INT_32', [7]), u16Mask(MASK_PATTERN), tensor('hidden', 'other', 'UFIXED_POINT_16', HIDDEN_B_CODES, { encoding: ENC }), tensor('logits', 'logits', 'FLOAT_32', logitsB)] }]);
    const result = await diff(a, b);
    const byName = new Map(result.steps[0].tensors.map((t) => [t.name, t]));
    const hidden = byName.get('hidden')!;
    const hiddenB = f32(HIDDEN_B);
    expect(hidden.comparison).toBe('values');
    expect(hidden.sqnrDb).toBeCloseTo(sqnr(HIDDEN_A, hiddenB), 9);
    expect(hidden.maxAbsError).toBeCloseTo(maxAbs(HIDDEN_A, hiddenB), 12);
    expect(hidden.cosine).toBeCloseTo(cosine(HIDDEN_A, hiddenB), 12);
    const logits = byName.get('logits')!;
    expect(logits.sqnrDb).toBeCloseTo(sqnr(f32(logitsA), f32(logitsB)), 9);
    expect(logits.argmax).toEqual({ a: 1, b: 1 });
    expect(byName.get('attention_mask')).toMatchObject({ comparison: 'mask', mismatches: 0, parts: null });
    expect(byName.get('input_ids')).toMatchObject({ comparison: 'exact', mismatches: 0, sqnrDb: Number.POSITIVE_INFINITY });
    expect(result.firstParting).toBeNull();
    expect(result.notes).toEqual([]);
  });

  it('a trace diffed with itself: infinite SQNR, no error, cosine 1, no parting', async () => {
    const a = trace([
      { tokens: [3, 4], tensors: [floatMask(MASK_PATTERN), tensor('hidden', 'other', 'UFIXED_POINT_16', HIDDEN_B_CODES, { encoding: ENC }), tensor('zeros', 'kv', 'FLOAT_32', [0, 0, 0])] },
      { tokens: [5], tensors: [tensor('logits', 'logits', 'FLOAT_32', [1, 2, 3])] },
    ]);
    const result = await diff(a, a);
    const all = result.steps.flatMap((s) => s.tensors);
    expect(all).toHaveLength(4);
    for (const t of all) expect([t.name, t.sqnrDb, t.maxAbsError, t.cosine, t.mismatches, t.parts]).toEqual([t.name, Number.POSITIVE_INFINITY, 0, 1, 0, null]);
    expect(result.firstParting).toBeNull();
  });

  it("logits are compared on the step's valid rows: a padding row that differs does not count; the argmax is the last valid row's", async () => {
    const variant = { id: 'ar4_cl16', ar: 4, cl: 16 };
    const logits = (padding: number[]): HandTensor => tensor('logits', 'logits', 'FLOAT_32', [0, 3, 1, 2, 0, 1, ...padding], { shape: [1, 4, 2] });
    // Rows 0..2 hold the 3 entries; row 3 is padding (values 9 / -9 in the two runs).
    const a = trace([{ tokens: [1, 2, 3], nNew: 3, variant, tensors: [logits([9, 0])] }]);
    const b = trace([{ tokens: [1, 2, 3], nNew: 3, variant, tensors: [logits([-9, 5])] }]);
    const [t] = (await diff(a, b)).steps[0].tensors;
    expect([t.sqnrDb, t.maxAbsError, t.elements, t.argmax]).toEqual([Number.POSITIVE_INFINITY, 0, 6, { a: 1, b: 1 }]);
  });

  it('the first parting: the earliest step, then the earliest tensor, by the threshold, a mask pattern or the argmax', async () => {
    const steps = (mask: number[], hidden: number[], logits: number[]): HandStep[] => [
      { tokens: [1], tensors: [tensor('hidden', 'other', 'FLOAT_32', HIDDEN_A)] },
      { tokens: [2], tensors: [floatMask(mask), tensor('hidden', 'other', 'FLOAT_32', hidden), tensor('logits', 'logits', 'FLOAT_32', logits)] },
    ];
    const a = trace(steps(MASK_PATTERN, HIDDEN_A, [0, 1, 0.5]));
    const argmaxOnly = await diff(a, trace(steps(MASK_PATTERN, HIDDEN_A, [0, 1, 1.5])));
    expect(argmaxOnly.firstParting).toEqual({ step: 1, tensor: 'logits', why: expect.stringMatching(/^the logits' argmax is 1 in A and 2 in B; SQNR -?\d+\.\d\d dB < 10 dB$/) });
    const maskFirst = await diff(a, trace(steps([1, 0, 0, 0], HIDDEN_A, [0, 1, 1.5])));
    expect(maskFirst.firstParting).toEqual({ step: 1, tensor: 'attention_mask', why: '1 mask elements attend in one run and are masked in the other' });
    // 0.1 of noise on the hidden state: SQNR = 10 log10(sum a^2 / 6 * 0.01): above 10 dB, below 40 dB.
    const noisy = HIDDEN_A.map((v) => v + 0.1);
    const expected = sqnr(HIDDEN_A, f32(noisy));
    expect((await diff(a, trace(steps(MASK_PATTERN, noisy, [0, 1, 0.5])))).firstParting).toBeNull();
    const strict = await diff(a, trace(steps(MASK_PATTERN, noisy, [0, 1, 0.5])), 40);
    expect(strict.firstParting).toEqual({ step: 1, tensor: 'hidden', why: `SQNR ${expected.toFixed(2)} dB < 40 dB` });
  });
});

describe('trace diff alignment and bad input', () => {
  const one = (tokens: number[], extra: Partial<HandStep> = {}): HandStep => ({ tokens, tensors: [tensor('hidden', 'other', 'FLOAT_32', HIDDEN_A)], ...extra });

  it('different prompts, variants or models cannot be aligned: the error says why', async () => {
    const a = trace([one([1, 2, 3]), one([9])]);
    await expect(diff(a, trace([one([1, 5, 3]), one([9])]))).rejects.toEqual(
      new TraceAlignError('the traces cannot be aligned: different prompts: step 0 feeds token 2 in A and 5 in B at position 1'),
    );
    await expect(diff(a, trace([one([1, 2]), one([3])]))).rejects.toEqual(
      new TraceAlignError('the traces cannot be aligned: step 0 processes entries 0..2 in A and 0..1 in B (different prompts?)'),
    );
    await expect(diff(a, trace([one([1, 2, 3], { variant: { id: 'ar8_cl16', ar: 8, cl: 16 } }), one([9])]))).rejects.toEqual(
      new TraceAlignError('the traces cannot be aligned: step 0 runs variant ar1_cl16 in A and ar8_cl16 in B (models with other AR/CL variants)'),
    );
    const wider = trace([{ tokens: [1, 2, 3], tensors: [tensor('hidden', 'other', 'FLOAT_32', [...HIDDEN_A, 0])] }]);
    await expect(diff(a, wider)).rejects.toEqual(
      new TraceAlignError('the traces cannot be aligned: at step 0, tensor "hidden" is [1, 6] in A and [1, 7] in B (different models)'),
    );
  });

  it('runs that sampled different tokens are compared up to there; a note says why the rest is not', async () => {
    const a = trace([one([1, 2]), one([5]), one([6])]);
    const b = trace([one([1, 2]), one([5]), one([7])], { complete: false });
    const result = await diff(a, b);
    expect(result.steps.map((s) => s.index)).toEqual([0, 1]);
    expect(result.notes).toEqual([
      `trace B (${b}) is incomplete: its run stopped after 3 indexed steps`,
      'the runs sampled different tokens: step 2 feeds 6 in A and 7 in B; steps 2 and later are not compared (run both with --force-tokens to keep them aligned)',
    ]);
  });

  it('steps without tensors and tensors stored in one trace only are noted, not compared', async () => {
    const a = trace([one([1]), { tokens: [2], tensors: [tensor('hidden', 'other', 'FLOAT_32', HIDDEN_A), tensor('extra', 'kv', 'FLOAT_32', [1])] }, one([3])]);
    const b = trace([one([1]), one([2]), { tokens: [3], tensors: null }]);
    const result = await diff(a, b);
    expect(result.steps.map((s) => s.tensors.length)).toEqual([1, 1, 0]);
    expect(result.notes).toEqual(['step 2: no tensors in trace B', 'tensor "extra" is stored only in trace A (not compared)']);
  });

  it('missing, truncated or foreign indexes and damaged step files are TraceErrors naming the file', async () => {
    const dir = trace([one([1]), one([2])]);
    const index = join(dir, 'trace.json');
    await expect(readTrace(join(root, 'nowhere'))).rejects.toEqual(
      new TraceError(`cannot read the trace index "${join(root, 'nowhere', 'trace.json')}": ENOENT: no such file or directory`),
    );
    const text = readFileSync(index, 'utf8');
    const cut = trace([one([1])]);
    writeFileSync(join(cut, 'trace.json'), text.slice(0, 200));
    await expect(readTrace(cut)).rejects.toThrow(new RegExp(`^the trace index "${join(cut, 'trace.json')}" is not valid JSON \\(truncated\\?\\): `));
    await expect(readTrace(cut)).rejects.toBeInstanceOf(TraceError);
    const foreign = trace([one([1])]);
    writeFileSync(join(foreign, 'trace.json'), JSON.stringify({ ...JSON.parse(text), format: 'other' }));
    await expect(readTrace(foreign)).rejects.toEqual(
      new TraceError(`the trace index "${join(foreign, 'trace.json')}" is not a genie-ts trace: key format: Invalid input: expected "genie-ts trace"`),
    );
    const badStep = trace([one([1])]);
    writeFileSync(join(badStep, 'trace.json'), JSON.stringify({ ...JSON.parse(text), steps: [{ ...JSON.parse(text).steps[0], nNew: -1 }] }));
    await expect(readTrace(badStep)).rejects.toEqual(
      new TraceError(`the trace index "${join(badStep, 'trace.json')}" is not a genie-ts trace: key steps[0].nNew: Too small: expected number to be >=0`),
    );
    // A step file cut short: the header promises more data than the file holds.
    const stepFile = join(dir, 'step-00001.safetensors');
    truncateSync(stepFile, readFileSync(stepFile).byteLength - 4);
    const error = await diff(dir, dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TraceError);
    expect((error as Error).message).toMatch(new RegExp(`^the trace file "${stepFile}" \\(step 1\\) is damaged: `));
  });
});
