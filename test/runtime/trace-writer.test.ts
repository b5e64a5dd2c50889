/**
 * TraceWriter on a quantized demo bundle (uint16 mask / cos / sin / logits, uint8 KV): every tensor
 * in the step files holds the codes a recording backend saw at execute time, in the matching
 * safetensors dtype, and the index carries each tensor's encoding. Bad folders are TraceErrors.
 */
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDemoBundle } from '../../src/demo/index.js';
import { parseSafetensorsBytes } from '../../src/formats/safetensors.js';
import { StepListenerError, type Engine, type StepEvent } from '../../src/runtime/engine/index.js';
import { readTrace } from '../../src/runtime/trace/trace-reader.js';
import { TraceError, TraceWriter } from '../../src/runtime/trace/trace-writer.js';
import { readTensor, spiedEngine, tempDir, TINY, type SpyBackend } from './quant/fixtures.js';

const root = tempDir('trace-writer');
const PROMPT = [9707, 11, 1879, 0, 151644, 872];
const SAFETENSORS_OF: Record<string, string> = { UFIXED_POINT_16: 'U16', UFIXED_POINT_8: 'U8', INT_32: 'I32', FLOAT_32: 'F32', FLOAT_16: 'F16' };

describe('TraceWriter', () => {
  let engine: Engine;
  let spy: SpyBackend;

  beforeAll(async () => {
    ({ engine, spy } = await spiedEngine(await writeDemoBundle(join(root, 'htp'), { ...TINY, quant: 'htp' })));
  });
  afterAll(() => engine.dispose());

  it('step files hold the codes the graphs read and wrote; the index holds specs and encodings', async () => {
    const dir = join(root, 'trace');
    const trace = new TraceWriter(dir);
    engine.setStepListener(trace.listener);
    spy.executions.length = 0;
    await engine.prefill(PROMPT);
    await engine.decode(42);
    engine.setStepListener(null);
    const summary = trace.finish();
    expect(summary).toMatchObject({ steps: 3, stepsWithTensors: 3, cappedAtStep: null });

    const index = JSON.parse(readFileSync(join(dir, 'trace.json'), 'utf8'));
    let execution = 0;
    let checked = 0;
    for (const step of index.steps) {
      const bytes = new Uint8Array(readFileSync(join(dir, step.file)));
      const layout = parseSafetensorsBytes(bytes, step.file);
      for (const split of step.splits) {
        if (!split.executed) continue;
        const seen = spy.executions[execution++];
        expect(split.graph).toBe(seen.graph.name);
        for (const t of split.tensors) {
          const spec = [...seen.graph.inputs, ...seen.graph.outputs].find((s) => s.name === t.name)!;
          expect({ dtype: t.dtype, shape: t.shape, encoding: t.encoding }).toEqual({ dtype: spec.dtype, shape: spec.shape, encoding: spec.encoding });
          const info = layout.tensors.get(t.name)!;
          expect(info.dtype).toBe(SAFETENSORS_OF[spec.dtype]);
          const data = bytes.slice(layout.dataStart + info.begin, layout.dataStart + info.end);
          // A tensor two splits share (the hidden-state handoff) is stored once: no split changes it afterwards.
          expect(readTensor(spec, data), `${split.graph} ${t.name}`).toEqual(seen.tensors.get(t.name));
          checked++;
        }
      }
    }
    expect(execution).toBe(spy.executions.length);
    expect(checked).toBeGreaterThan(10);
  });

  it('a step file that cannot be written fails the step with StepListenerError (a TraceError as cause); the engine goes on', async () => {
    const dir = join(root, 'vanishing');
    const trace = new TraceWriter(dir);
    rmSync(dir, { recursive: true });
    engine.reset();
    engine.setStepListener(trace.listener, 'trace');
    const error = await engine.prefill([1, 2, 3]).catch((e: unknown) => e);
    engine.setStepListener(null);
    expect(error).toBeInstanceOf(StepListenerError);
    const cause = (error as StepListenerError).cause;
    expect(cause).toBeInstanceOf(TraceError);
    expect((cause as TraceError).message).toBe(`cannot write the trace file "${join(dir, 'step-00000.safetensors')}": ENOENT: no such file or directory`);
    expect(engine.nValid).toBe(0);
    expect(() => trace.finish()).toThrow(new TraceError(`cannot write the trace index "${join(dir, 'trace.json')}": ENOENT: no such file or directory`));
    await engine.prefill([1, 2, 3]);
    expect(engine.nValid).toBe(3);
  });

  it('the index is on disk and valid after every step, before finish (a run that dies leaves a readable trace)', async () => {
    const dir = join(root, 'live');
    const trace = new TraceWriter(dir);
    const seen: Array<[number, boolean, number]> = [];
    engine.reset();
    engine.setStepListener((event) => {
      trace.listener(event);
      const index = JSON.parse(readFileSync(join(dir, 'trace.json'), 'utf8'));
      seen.push([event.index, index.complete, index.steps.length]);
      // The "crash": the query dies at its third step, finish() is never called.
      if (event.index === 2) throw new Error('killed');
    });
    await engine.prefill([1, 2, 3, 4, 5, 6, 7, 8, 9]).catch(() => undefined);
    engine.setStepListener(null);
    expect(seen).toEqual([[0, false, 1], [1, false, 2], [2, false, 3]]);
    const left = await readTrace(dir);
    expect([left.complete, left.steps.length]).toEqual([false, 3]);
    expect(left.steps.map((s) => s.file)).toEqual(['step-00000.safetensors', 'step-00001.safetensors', 'step-00002.safetensors']);
  });

  it('a long run rewrites the index less often: it lags by at most 1/16 of its steps, and rewrites stay fewer than the steps', () => {
    const dir = join(root, 'long');
    const trace = new TraceWriter(dir);
    const event = (index: number): StepEvent => ({
      index, kind: 'decode', variant: { id: 'ar1_cl4096', ar: 1, cl: 4096 }, inputs: [], nValid: index, nNew: 1, positions: { first: index, end: index + 1 },
      tokens: [index], embeddingRows: 0, final: true, fillUs: 0, splits: [], logits: null,
    });
    let rewrites = 0;
    let indexed = 0;
    for (let n = 1; n <= 400; n++) {
      trace.listener(event(n - 1));
      const onDisk = JSON.parse(readFileSync(join(dir, 'trace.json'), 'utf8')).steps.length;
      if (onDisk !== indexed) rewrites++;
      indexed = onDisk;
      expect(n - indexed, `after ${n} steps`).toBeLessThanOrEqual(Math.max(0, Math.floor(n / 16)));
    }
    expect(rewrites).toBeLessThan(120);
    trace.finish();
    expect(JSON.parse(readFileSync(join(dir, 'trace.json'), 'utf8')).steps.length).toBe(400);
  });

  it('a full disk is a TraceError naming the file (ENOSPC), for a step file and for the index', async () => {
    const dir = join(root, 'full');
    const trace = new TraceWriter(dir);
    symlinkSync('/dev/full', join(dir, 'step-00000.safetensors'));
    engine.reset();
    engine.setStepListener(trace.listener, 'trace');
    const error = await engine.prefill([1, 2]).catch((e: unknown) => e);
    expect((error as StepListenerError).cause).toEqual(
      new TraceError(`cannot write the trace file "${join(dir, 'step-00000.safetensors')}": ENOSPC: no space left on device`),
    );
    rmSync(join(dir, 'step-00000.safetensors'));
    symlinkSync('/dev/full', join(dir, 'trace.json.tmp'));
    const indexError = await engine.prefill([1, 2]).catch((e: unknown) => e);
    engine.setStepListener(null);
    expect((indexError as StepListenerError).cause).toEqual(
      new TraceError(`cannot write the trace index "${join(dir, 'trace.json')}": ENOSPC: no space left on device`),
    );
    // The step was undone; the engine goes on.
    expect(engine.nValid).toBe(0);
  });

  it('refuses a non-empty folder and one it cannot create', () => {
    const busy = join(root, 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'x'), '');
    expect(() => new TraceWriter(busy)).toThrow(new TraceError(`trace folder "${busy}" is not empty (give a new or empty folder)`));
    const file = join(root, 'a-file');
    writeFileSync(file, '');
    expect(() => new TraceWriter(join(file, 'sub'))).toThrow(TraceError);
    expect(() => new TraceWriter(join(file, 'sub'))).toThrow(/^cannot create the trace folder ".*a-file\/sub": ENOTDIR/);
  });
});
