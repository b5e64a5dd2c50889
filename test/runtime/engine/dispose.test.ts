/**
 * The Engine and the event loop, on a synthetic 2-part model whose backend the test drives:
 * - `dispose()` during a step waits for the graph part being executed, then disposes the backend;
 *   the step stops there (no KV update) and rejects with `DisposedError`, so nothing touches the IO
 *   buffers once the backend freed them.
 * - A backend that executes on the JS thread (no `executesOffThread`) gets one macrotask turn per
 *   step, so a timer lands within one step; one that declares `executesOffThread` gets none.
 */
import { describe, expect, it } from 'vitest';
import type { GraphBackend } from '../../../src/backends/backend.js';
import { DisposedError, Engine, EngineBusyError } from '../../../src/runtime/engine/index.js';
import { bundle } from '../../graphs/fixtures.js';

const graphs = bundle({ ars: [1, 8], cls: [64], splits: 2, vocab: 50 }).graphs;
const options = { contextSize: 64, padToken: 0, eosToken: 1, rope: { theta: 1e4, scaling: { type: 'default' as const } } };

interface DrivenBackend extends GraphBackend {
  /** What happened, in order: `execute <graph>`, `executed <graph>`, `dispose`. */
  readonly events: string[];
  /** Set while an execute waits for `release()` (gated backends only). */
  pending: (() => void) | null;
}

/**
 * A backend whose executes complete synchronously (`gated` false) or wait until the test releases
 * them (`gated` true); `dispose` detaches the memory it handed out, as the real backends do.
 */
function drivenBackend(gated: boolean, executesOffThread?: boolean): DrivenBackend {
  const blocks: ArrayBuffer[] = [];
  const backend: DrivenBackend = {
    type: 'driven',
    graphs,
    events: [],
    pending: null,
    ...(executesOffThread === undefined ? {} : { executesOffThread }),
    allocate: (n) => {
      const block = new ArrayBuffer(n);
      blocks.push(block);
      return new Uint8Array(block);
    },
    bind: () => {},
    execute: async (graph) => {
      backend.events.push(`execute ${graph}`);
      if (gated) await new Promise<void>((resolve) => (backend.pending = resolve));
      backend.pending = null;
      backend.events.push(`executed ${graph}`);
    },
    dispose: async () => {
      backend.events.push('dispose');
      for (const block of blocks.splice(0)) structuredClone(block, { transfer: [block] });
    },
  };
  return backend;
}

const macrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await macrotask();
  expect(condition()).toBe(true);
}

describe('Engine.dispose() during a step', () => {
  it.each([true, false])('waits for the executing part, then disposes the backend; the step rejects with DisposedError (executesOffThread %s)', async (offThread) => {
    const backend = drivenBackend(true, offThread);
    const engine = Engine.create(backend, options);
    const prefill = engine.prefill([2, 3, 4]);
    const settled = prefill.then(() => 'resolved', (error: unknown) => error);
    await until(() => backend.pending !== null);
    let disposed = false;
    const disposal = engine.dispose().then(() => void (disposed = true));
    expect(engine.dispose()).toBe(engine.dispose());
    for (let i = 0; i < 5; i++) await macrotask();
    // The backend is not disposed under the running execute.
    expect(disposed).toBe(false);
    expect(backend.events).toEqual(['execute prompt_ar8_cl64_1_of_2']);
    backend.pending!();
    await disposal;
    // The step stopped after the part it was executing: part 2 never ran, and dispose came last.
    expect(backend.events).toEqual(['execute prompt_ar8_cl64_1_of_2', 'executed prompt_ar8_cl64_1_of_2', 'dispose']);
    const error = await settled;
    expect(error).toBeInstanceOf(DisposedError);
    expect((error as Error).message).toBe(
      'engine is disposed: dispose() was called while graph "prompt_ar8_cl64_1_of_2" executed; the step was cancelled before its KV update',
    );
    await expect(engine.decode(5)).rejects.toThrow(DisposedError);
  });

  it('cancels a step whose macrotask turn the dispose landed in, before anything executes', async () => {
    const backend = drivenBackend(false);
    const engine = Engine.create(backend, options);
    const prefill = engine.prefill([2, 3, 4]);
    const disposal = engine.dispose();
    await expect(prefill).rejects.toThrow('engine is disposed: dispose() was called before the step ran; the step was cancelled');
    await disposal;
    expect(backend.events).toEqual(['dispose']);
  });

  it('disposes at once when no step runs', async () => {
    const backend = drivenBackend(false);
    const engine = Engine.create(backend, options);
    await engine.prefill([2, 3, 4]);
    backend.events.length = 0;
    await engine.dispose();
    expect(backend.events).toEqual(['dispose']);
    expect(() => engine.reset()).toThrow(DisposedError);
  });
});

describe('Engine calls that overlap a running step', () => {
  it('prefill, decode, rewind, reset, evict and setPosition during a step throw EngineBusyError; the step completes unharmed', async () => {
    const backend = drivenBackend(true);
    const engine = Engine.create(backend, options);
    const running = engine.prefill([2, 3, 4]);
    await until(() => backend.pending !== null);
    const calls: Array<[string, () => unknown]> = [
      ['prefill', () => engine.prefill([5])],
      ['decode', () => engine.decode(5)],
      ['rewind', () => engine.rewind(0)],
      ['reset', () => engine.reset()],
      ['evict', () => engine.evict([0])],
      ['setPosition', () => engine.setPosition(40)],
    ];
    for (const [name, call] of calls) {
      let thrown: unknown;
      try {
        await call();
      } catch (error) {
        thrown = error;
      }
      expect(thrown, name).toBeInstanceOf(EngineBusyError);
      expect((thrown as Error).message).toBe(`${name}: a step is running; call it once the running prefill or decode has returned`);
    }
    let done = false;
    void running.finally(() => (done = true));
    while (!done) {
      backend.pending?.();
      await macrotask();
    }
    await running;
    expect(engine.nValid).toBe(3);
    expect(engine.position).toBe(3);
    await engine.dispose();
  });
});

describe('Engine steps and the event loop', () => {
  /** Decode steps run before a 0 ms timer fires (capped at `max`). */
  async function stepsBeforeTimer(engine: Engine, max: number): Promise<number> {
    await engine.prefill([2, 3]);
    let fired = false;
    setTimeout(() => (fired = true), 0);
    let steps = 0;
    const start = Date.now();
    while (Date.now() - start < 2) {} // the timer is due before the first step
    while (!fired && steps < max) {
      await engine.decode(7);
      steps++;
    }
    return steps;
  }

  it('a backend executing on the JS thread: a due timer runs within one step', async () => {
    const engine = Engine.create(drivenBackend(false), options);
    expect(await stepsBeforeTimer(engine, 20)).toBeLessThanOrEqual(1);
    await engine.dispose();
  });

  it('a backend that declares executesOffThread: no macrotask turn is added to its steps', async () => {
    const engine = Engine.create(drivenBackend(false, true), options);
    // Its (fake) executes complete at once, so nothing lets the timer run during the 20 steps.
    expect(await stepsBeforeTimer(engine, 20)).toBe(20);
    await engine.dispose();
  });
});

describe('Engine.dispose and the logits view it handed out', () => {
  it('the view throws after dispose even when a backend does not detach its memory (a second guard)', async () => {
    // A backend breaking the allocate() contract: dispose frees memory that JS views would still reach.
    const backend: GraphBackend = {
      type: 'native-memory',
      graphs,
      allocate: (n) => new Uint8Array(n),
      bind: () => {},
      execute: async () => {},
      dispose: async () => {},
    };
    const engine = Engine.create(backend, options);
    const view = (await engine.prefill([1, 2, 3]))!;
    expect(view.argmax()).toBeGreaterThanOrEqual(0);
    await engine.dispose();
    const message = 'logits view is disposed: the engine that owned its memory is disposed';
    expect(() => view.argmax()).toThrow(new DisposedError('logits view', 'the engine that owned its memory is disposed'));
    expect(() => engine.logits.argmax()).toThrow(DisposedError);
    expect(() => view.argmax()).toThrow(message);
    expect(() => view.dequantizeInto(new Float32Array(50))).toThrow(message);
    expect(() => view.topKInto(3, new Int32Array(3), new Float32Array(3))).toThrow(message);
    expect(() => view.value(0)).toThrow(message);
    expect(() => view.setRow(0)).toThrow(message);
  });
});
