/**
 * Engine step events on a quantized demo bundle (uint16 mask / cos / sin / logits, uint8 KV, two
 * AR variants, two parts): what each event reports against independent counts of the planned
 * chunks, its tensor views against what a recording backend saw at execute time, its float32
 * copies against the dequantisation formula written in the test, and a listener that throws.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDemoBundle, type DemoBundle } from '../../../src/demo/index.js';
import { InvalidArgumentError } from '../../../src/errors.js';
import { DisposedError, Engine, StepListenerError, type StepEvent, type StepTensor } from '../../../src/runtime/engine/index.js';
import type { LogitsView } from '../../../src/sampler/logits-view.js';
import { float16ToFloat32 } from '../../../src/tensor/fp16.js';
import { oracleDequantize, readTensor, spiedEngine, tempDir, TINY, type SpyBackend } from '../quant/fixtures.js';

const root = tempDir('engine-step-events');
const PROMPT = [9707, 11, 1879, 0, 151644, 872];

interface Recorded {
  readonly event: Omit<StepEvent, 'splits' | 'logits'>;
  readonly splits: { graph: string; executed: boolean; executeUs: number; tensors: Map<string, { t: StepTensor; elements: number[]; float: Float32Array }> }[];
  readonly logitsRow: Float32Array | null;
}

function dequantized(logits: LogitsView): Float32Array {
  const row = new Float32Array(logits.vocab);
  logits.dequantizeInto(row);
  return row;
}

function record(into: Recorded[]): (event: StepEvent) => void {
  return (event) => {
    const { splits, logits, ...rest } = event;
    into.push({
      event: { ...rest, tokens: [...event.tokens], inputs: [...event.inputs] },
      splits: splits.map((s) => ({
        graph: s.graph,
        executed: s.executed,
        executeUs: s.executeUs,
        tensors: new Map(s.tensors().map((t) => [t.name, { t, elements: readTensor(t.spec, t.bytes()), float: t.toFloat32() }])),
      })),
      logitsRow: logits === null ? null : dequantized(logits),
    });
  };
}

describe('Engine.setStepListener on a quantized bundle (Reference behind a recording backend)', () => {
  let bundle: DemoBundle;
  let engine: Engine;
  let spy: SpyBackend;

  beforeAll(async () => {
    bundle = await writeDemoBundle(join(root, 'htp'), { ...TINY, quant: 'htp' });
    ({ engine, spy } = await spiedEngine(bundle));
  });
  afterAll(() => engine.dispose());

  it('reports every chunk: kind, variant, slots, positions, ids; tensors equal what the graphs read and wrote', async () => {
    engine.reset();
    const events: Recorded[] = [];
    engine.setStepListener(record(events));
    spy.executions.length = 0;
    await engine.prefill(PROMPT);
    await engine.decode(42);
    await engine.decode(7);
    engine.setStepListener(null);

    // Genie's plan for 6 tokens over AR {1, 4}: AR-4 chunks of 4 and 2, then AR-1 decodes.
    const nNew = [4, 2, 1, 1];
    const starts = nNew.map((_, i) => nNew.slice(0, i).reduce((a, b) => a + b, 0));
    expect(events.map((e) => e.event.index)).toEqual([0, 1, 2, 3]);
    expect(events.map((e) => e.event.kind)).toEqual(['prefill', 'prefill', 'decode', 'decode']);
    expect(events.map((e) => e.event.variant.ar)).toEqual([4, 4, 1, 1]);
    expect(events.map((e) => e.event.variant.cl)).toEqual([16, 16, 16, 16]);
    expect(events.map((e) => e.event.nNew)).toEqual(nNew);
    expect(events.map((e) => e.event.nValid)).toEqual(starts);
    expect(events.map((e) => e.event.positions)).toEqual(starts.map((s, i) => ({ first: s, end: s + nNew[i] })));
    expect(events.map((e) => e.event.tokens)).toEqual([PROMPT.slice(0, 4), PROMPT.slice(4), [42], [7]]);
    expect(events.map((e) => e.event.embeddingRows)).toEqual([0, 0, 0, 0]);
    expect(events.map((e) => e.event.final)).toEqual([false, true, true, true]);
    expect(events[0].event.inputs).toEqual(engine.inputs.map((p) => p.name));

    // Each executed split is one execute of the recording backend, in order, with the same bytes.
    const executed = events.flatMap((e) => e.splits.filter((s) => s.executed));
    expect(executed.map((s) => s.graph)).toEqual(spy.executions.map((x) => x.graph.name));
    let compared = 0;
    executed.forEach((split, i) => {
      const seen = spy.executions[i].tensors;
      expect([...split.tensors.keys()].sort()).toEqual([...seen.keys()].sort());
      for (const [name, { elements }] of split.tensors) {
        expect(elements, `${split.graph} ${name}`).toEqual(seen.get(name));
        compared++;
      }
      expect(split.executeUs).toBeGreaterThanOrEqual(0);
    });
    expect(compared).toBeGreaterThan(20);
  });

  it('toFloat32 is the dequantisation formula (fixed point) or the float16 conversion; logits is the last valid row', async () => {
    engine.reset();
    const events: Recorded[] = [];
    engine.setStepListener(record(events));
    await engine.prefill(PROMPT.slice(0, 3));
    engine.setStepListener(null);
    expect(events).toHaveLength(1);
    const split = events[0].splits.at(-1)!;
    const dtypes = new Set<string>();
    for (const { t, elements, float } of events[0].splits.flatMap((s) => [...s.tensors.values()])) {
      dtypes.add(t.spec.dtype);
      const expected = elements.map((q) =>
        t.spec.encoding !== undefined ? oracleDequantize(q, t.spec.encoding) : t.spec.dtype === 'FLOAT_16' ? float16ToFloat32(q) : q,
      );
      expect(Array.from(float), t.name).toEqual(expected.map((x) => Math.fround(x)));
    }
    expect(dtypes.has('UFIXED_POINT_16') && dtypes.has('UFIXED_POINT_8')).toBe(true);
    for (const { t } of events[0].splits.flatMap((s) => [...s.tensors.values()])) {
      expect(t.role === 'kv', t.name).toBe(/^past_(key|value)_\d+_(in|out)$/.test(t.name));
      expect(t.role === 'logits', t.name).toBe(t.name === 'logits');
    }
    // The logits view selects the row of the 3rd (last valid) entry of the AR-4 chunk (the only
    // row of a last-position head).
    const logits = split.tensors.get('logits')!;
    const vocab = logits.t.spec.shape.at(-1)!;
    const row = logits.float.length / vocab === 1 ? 0 : 2;
    expect(Array.from(events[0].logitsRow!)).toEqual(Array.from(logits.float.subarray(row * vocab, (row + 1) * vocab)));
  });

  it('views kept past the call throw DisposedError', async () => {
    engine.reset();
    let kept: StepTensor | undefined;
    let keptEvent: StepEvent | undefined;
    engine.setStepListener((e) => {
      keptEvent = e;
      kept = e.splits[0].tensors()[0];
    });
    await engine.prefill([1, 2]);
    engine.setStepListener(null);
    expect(() => kept!.bytes()).toThrow(DisposedError);
    expect(() => kept!.toFloat32()).toThrow(/valid only during the listener call/);
    expect(() => keptEvent!.splits[1].tensors()).toThrow(DisposedError);
  });

  it('a listener that throws fails the step with StepListenerError, before its KV update; the engine goes on', async () => {
    engine.reset();
    await engine.prefill(PROMPT);
    const before = engine.nValid;
    const boom = new Error('boom');
    engine.setStepListener(function inspectKv() {
      throw boom;
    });
    const error = await engine.decode(5).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StepListenerError);
    expect((error as StepListenerError).message).toBe(
      'the inspectKv callback threw at step 0 (decode, ar1_cl16): boom; the step was cancelled before its KV update',
    );
    expect((error as StepListenerError).cause).toBe(boom);
    expect(engine.nValid).toBe(before);
    engine.setStepListener(null);
    await engine.decode(5);
    expect(engine.nValid).toBe(before + 1);
  });

  it('setStepListener takes a function or null', () => {
    expect(() => engine.setStepListener('log' as never)).toThrow(InvalidArgumentError);
    expect(() => engine.setStepListener({} as never)).toThrow(
      'step listener must be a function (event) => void or null, got an object (Object)',
    );
    expect(engine.stepListener).toBeNull();
  });
});
