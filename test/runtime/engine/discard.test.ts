/**
 * `Engine.discardFrom`, what a dialog's decode loop calls for a token it fed ahead and does not keep:
 * a step still running is abandoned (its entry goes at once, rewinds are taken meanwhile, the next
 * step waits for its end), a finished one is cut back. Oracle: an engine that never ran the step.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { GraphBackend } from '../../../src/backends/backend.js';
import { openReferenceBackend } from '../../../src/backends/reference/index.js';
import { InvalidArgumentError } from '../../../src/errors.js';
import { Engine } from '../../../src/runtime/engine/index.js';
import { writeBundle } from '../../backends/qnn/bundle.js';
import { exactError } from '../../expect-error.js';
import { logitsHex } from './logits-hex.js';

const OPTIONS = { contextSize: 16, padToken: 0, eosToken: 1, rope: { theta: 1e4, scaling: { type: 'default' as const } } };
const PROMPT = [5, 17, 3, 250, 9];
let paths: string[];

beforeAll(async () => {
  ({ paths } = await writeBundle('engine-discard'));
});

/** `inner` off the JS thread: each execute runs a timer later; `executed` counts the graphs run. */
function laterBackend(inner: GraphBackend): GraphBackend & { executed: number } {
  const backend = {
    type: inner.type,
    graphs: inner.graphs,
    executesOffThread: true,
    executed: 0,
    allocate: (n: number) => inner.allocate(n),
    bind: (graph: string, buffers: ReadonlyMap<string, Uint8Array>) => inner.bind(graph, buffers),
    execute: (graph: string) =>
      new Promise<void>((resolve, reject) =>
        setTimeout(() => {
          backend.executed++;
          inner.execute(graph).then(resolve, reject);
        }, 2),
      ),
    dispose: () => inner.dispose(),
  };
  return backend;
}

describe('Engine.discardFrom', () => {
  it('abandons a running decode: its entry goes at once, a rewind is taken meanwhile, the next step waits and computes as if it never ran', async () => {
    const backend = laterBackend(await openReferenceBackend(paths));
    const engine = Engine.create(backend, OPTIONS);
    const oracle = Engine.create(await openReferenceBackend(paths), OPTIONS);
    for (const e of [engine, oracle]) await e.prefill(PROMPT);
    const running = engine.decode(42);
    expect(engine.nValid).toBe(PROMPT.length + 1); // counted once its first split was submitted
    engine.discardFrom(PROMPT.length);
    expect(engine.nValid).toBe(PROMPT.length);
    engine.rewind(PROMPT.length - 1);
    const next = engine.decode(7); // waits for the abandoned step
    await running;
    const partsRun = backend.executed;
    await next;
    expect(backend.executed).toBeGreaterThan(partsRun);
    oracle.rewind(PROMPT.length - 1);
    await oracle.decode(7);
    expect(engine.nValid).toBe(oracle.nValid);
    expect(logitsHex(engine)).toBe(logitsHex(oracle));
    await engine.dispose();
    await oracle.dispose();
  });

  it('cuts a finished step back; a slot at or past the entries held changes nothing', async () => {
    const engine = Engine.create(laterBackend(await openReferenceBackend(paths)), OPTIONS);
    await engine.prefill(PROMPT);
    await engine.decode(42);
    engine.discardFrom(PROMPT.length + 1);
    expect(engine.nValid).toBe(PROMPT.length + 1);
    engine.discardFrom(PROMPT.length);
    expect(engine.nValid).toBe(PROMPT.length);
    expect(engine.position).toBe(PROMPT.length);
    await engine.dispose();
    engine.discardFrom(0); // disposed: nothing to do, no error
  });

  it('a slot that is not an integer >= 0 is an InvalidArgumentError, and a running step is left running', async () => {
    const engine = Engine.create(laterBackend(await openReferenceBackend(paths)), OPTIONS);
    await engine.prefill(PROMPT);
    const running = engine.decode(42);
    for (const [slot, shown] of [[-1, '-1'], [1.5, '1.5'], [Number.NaN, 'NaN'], ['3', 'the string "3"']] as const) {
      expect(() => engine.discardFrom(slot as number)).toThrow(exactError(InvalidArgumentError, `discardFrom: slot must be an integer >= 0, got ${shown}`));
    }
    await running;
    expect(engine.nValid).toBe(PROMPT.length + 1);
    await engine.dispose();
  });
});
