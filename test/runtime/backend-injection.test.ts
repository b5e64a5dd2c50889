/**
 * `DialogOptions.wrapBackend` and `graphBackend`, on every backend: a wrapper that perturbs one
 * logits element moves greedy sampling to that token (the bump is computed here from an unperturbed
 * run), a recording wrapper sees every split in plan order (the plan counted here from the graph
 * names), a backend of the caller's own runs the dialog and is disposed with it, and bad values
 * are typed errors at `Dialog.create`.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphBackend } from '../../src/backends/backend.js';
import { openReferenceBackend } from '../../src/backends/reference/index.js';
import { InvalidArgumentError } from '../../src/errors.js';
import type { StepEvent } from '../../src/runtime/engine/index.js';
import { argmax, BACKENDS, DialogPool, makeModel, silentEos, tempDir, tokenIds, tokenTurn, writeBundle, type Bundle } from './fixtures.js';

const model = makeModel({}, 'backend-injection');
const PROMPT = tokenIds(11, 5, 1, 1000);

/** Forwards everything to `inner`; `after(graph, bound)` runs after each execute. */
function wrapper(inner: GraphBackend, after: (graph: string, bound: ReadonlyMap<string, Uint8Array>) => void): GraphBackend {
  const bound = new Map<string, ReadonlyMap<string, Uint8Array>>();
  return {
    type: inner.type,
    graphs: inner.graphs,
    executesOffThread: inner.executesOffThread,
    allocate: (n) => inner.allocate(n),
    bind: (graph, buffers) => {
      bound.set(graph, buffers);
      inner.bind(graph, buffers);
    },
    execute: async (graph) => {
      await inner.execute(graph);
      after(graph, bound.get(graph)!);
    },
    dispose: () => inner.dispose(),
  };
}

/** `_<i>_of_<n>` of a graph name. */
const splitOf = (name: string): number => Number(/_(\d+)_of_\d+$/.exec(name)![1]);

describe.each(BACKENDS)('Dialog.create options wrapBackend and graphBackend (%s)', (backend) => {
  const root = tempDir(`backend-injection-${backend}`);
  const pool = new DialogPool(backend);
  let bundle: Bundle;

  beforeAll(async () => {
    bundle = await writeBundle(root, model, { name: 'b', arSet: [1, 8], cl: 64, splits: 2 });
  });
  afterAll(() => pool.disposeAll());

  it('a wrapper that adds a constant to one logits element moves greedy sampling there', async () => {
    const plain = await tokenTurn(await pool.open(bundle), PROMPT, { maxTokens: 1 });
    const row = plain.logits[0];
    const first = argmax(row);
    // The token with the lowest logit (not the silent EOS) becomes the argmax once bumped past the best.
    let target = first === 0 ? 1 : 0;
    for (let i = 0; i < row.length; i++) if (i !== first && i !== silentEos(model) && row[i] < row[target]) target = i;
    const bump = row[first] - row[target] + 1;

    let logitsDtype = '';
    const dialog = await pool.open(bundle, pool.config(bundle), {
      wrapBackend: (configured) =>
        wrapper(configured, (graph, bound) => {
          const spec = configured.graphs.find((g) => g.name === graph)!.outputs.find((t) => t.name === 'logits');
          if (spec === undefined) return;
          logitsDtype = spec.dtype;
          const bytes = bound.get('logits')!;
          const logits = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
          for (let r = 0; r < logits.length / row.length; r++) logits[r * row.length + target] += bump;
        }),
    });
    const bumped = await tokenTurn(dialog, PROMPT, { maxTokens: 1 });
    expect(logitsDtype).toBe('FLOAT_32');
    expect(bumped.sampled[0]).toBe(target);
    expect(bumped.result.generatedTokens).toEqual([target]);
    const expected = Array.from(row);
    expected[target] = Math.fround(row[target] + bump);
    expect(Array.from(bumped.logits[0])).toEqual(expected);
  });

  it('a recording wrapper sees every split, in order; the step events report the same executions', async () => {
    const executed: string[] = [];
    const dialog = await pool.open(bundle, pool.config(bundle), {
      wrapBackend: (configured) => wrapper(configured, (graph) => executed.push(graph)),
    });
    const events: string[] = [];
    const onStep = (e: StepEvent): void => {
      for (const s of e.splits) if (s.executed) events.push(s.graph);
    };
    await tokenTurn(dialog, PROMPT, { maxTokens: 3, onStep });
    const partsOf = (ar: number): string[] => {
      const names = [...new Set(executed.filter((g) => new RegExp(`ar${ar}_cl64_`).test(g)))];
      return names.sort((a, b) => splitOf(a) - splitOf(b));
    };
    const ar8 = partsOf(8);
    const ar1 = partsOf(1);
    expect(ar8).toHaveLength(2);
    expect(ar1).toHaveLength(2);
    // 11 prompt tokens: AR-8 chunks of 8 and 3; then the 2 generated tokens fed back through AR-1
    // (the third hits the cap and is never fed).
    expect(executed).toEqual([...ar8, ...ar8, ...ar1, ...ar1]);
    expect(events).toEqual(executed);
  });

  it('graphBackend: a backend of the caller\'s own runs the dialog and is disposed with it', async () => {
    if (backend !== 'Reference') return; // one own backend is enough; the pool's QnnHtp options do not apply to it
    const own = await openReferenceBackend(bundle.ctxBins.map((p) => join(bundle.dir, p)));
    let disposed = 0;
    const counted: GraphBackend = { ...wrapper(own, () => {}), dispose: async () => (disposed++, own.dispose()) };
    const dialog = await pool.open(bundle, pool.config(bundle), { graphBackend: counted });
    const mine = await tokenTurn(dialog, PROMPT, { maxTokens: 4 });
    const plain = await tokenTurn(await pool.open(bundle), PROMPT, { maxTokens: 4 });
    expect(mine.result.generatedTokens).toEqual(plain.result.generatedTokens);
    await dialog.dispose();
    expect(disposed).toBe(1);
  });

  it('bad values are InvalidArgumentErrors at Dialog.create; a wrapper returning no backend disposes the configured one', async () => {
    await expect(pool.open(bundle, pool.config(bundle), { wrapBackend: 'spy' as never })).rejects.toThrow(
      new InvalidArgumentError('Dialog.create option wrapBackend must be a function (configured: GraphBackend) => GraphBackend, got the string "spy"'),
    );
    await expect(pool.open(bundle, pool.config(bundle), { graphBackend: { graphs: [] } as never })).rejects.toThrow(
      new InvalidArgumentError(
        'Dialog.create option graphBackend must be a GraphBackend (graphs, allocate, bind, execute, dispose), got an object (Object)',
      ),
    );
    let configured: GraphBackend | undefined;
    await expect(
      pool.open(bundle, pool.config(bundle), {
        wrapBackend: (b) => {
          configured = b;
          return undefined as never;
        },
      }),
    ).rejects.toThrow(
      new InvalidArgumentError('Dialog.create option wrapBackend must return a GraphBackend (graphs, allocate, bind, execute, dispose), got undefined'),
    );
    expect(() => configured!.allocate(4)).toThrow();
  });
});
