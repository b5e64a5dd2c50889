/**
 * Per-call overhead of one graph execute through the QNN binding: a 24-layer model part with 101 IO
 * tensors (ids, mask, cos, sin, 4 KV tensors per layer, logits) on the simulated HTP provider in
 * validate-only mode (it decodes and checks all 101 `Qnn_Tensor_t`s but runs nothing). The floor is
 * a bare Koffi call of a no-op native function pointer (libc `abs`), measured in the same run; the
 * same call through Koffi's `.async` worker hop is reported too, since execute defaults to `.async`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import koffi from 'koffi';
import type { QnnGraphBackend } from '../src/backends/qnn/index.js';
import { qwen2WeightShapes, splitQwen2Checkpoint, writeReferenceCtxBin, type Qwen2Config } from '../src/backends/reference/index.js';
import type { QnnExecuteMode } from '../src/qnn/binding/index.js';
import { openQnnHtpBackend } from '../src/runtime/backend-factory.js';
import { byteSize } from '../src/tensor/dtype.js';
import { medianAsyncUs, medianUs, type Measurement } from './harness.js';

const CONFIG: Qwen2Config = {
  hiddenSize: 8,
  numAttentionHeads: 2,
  numKeyValueHeads: 1,
  headDim: 4,
  intermediateSize: 8,
  numHiddenLayers: 24,
  rmsNormEps: 1e-6,
  vocabSize: 16,
  ropeTheta: 10000,
  tieWordEmbeddings: false,
  maxPositionEmbeddings: 64,
};

async function writeModel(dir: string): Promise<string> {
  const weights = new Map(
    [...qwen2WeightShapes(CONFIG)].map(([name, shape]) => [name, { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }]),
  );
  const [part] = splitQwen2Checkpoint({ config: CONFIG, weights, arSet: [1], cl: 16, splits: 1, inputKind: 'ids' });
  const path = join(dir, 'bench.safetensors');
  await writeReferenceCtxBin(path, part);
  return path;
}

function bind(backend: QnnGraphBackend): { name: string; ioCount: number } {
  const [graph] = backend.graphs;
  const buffers = new Map<string, Uint8Array>();
  for (const t of [...graph.inputs, ...graph.outputs]) {
    buffers.set(t.name, backend.allocate(t.shape.reduce((a, b) => a * b, 1) * byteSize(t.dtype)));
  }
  backend.bind(graph.name, buffers);
  return { name: graph.name, ioCount: graph.inputs.length + graph.outputs.length };
}

export async function run(): Promise<Measurement[]> {
  const dir = mkdtempSync(join(tmpdir(), 'genie-ts-bench-qnn-'));
  try {
    const path = await writeModel(dir);
    const libc = koffi.load(process.platform === 'win32' ? 'msvcrt.dll' : process.platform === 'darwin' ? 'libSystem.B.dylib' : 'libc.so.6');
    const noop = koffi.decode(libc.symbol('abs'), koffi.proto(null, 'int', ['int'])) as ((x: number) => number) & {
      async: (x: number, cb: (err: unknown, r: number) => void) => void;
    };
    const floorUs = medianUs(() => noop(1), { inner: 10_000 });
    const asyncFloorUs = await medianAsyncUs(() => new Promise((resolve) => noop.async(1, resolve)));
    const rows: Measurement[] = [{ name: 'floor: bare Koffi call of a no-op native function pointer (abs)', medianUs: floorUs }];
    rows.push({ name: 'floor: the same call through Koffi .async', medianUs: asyncFloorUs, ratio: asyncFloorUs / floorUs });
    for (const executeMode of ['async', 'sync'] as QnnExecuteMode[]) {
      const backend = await openQnnHtpBackend([path], { simulatedOptions: { validateOnly: true }, executeMode });
      try {
        const { name, ioCount } = bind(backend);
        const us = await medianAsyncUs(() => backend.execute(name));
        rows.push({
          name: `QNN graphExecute (${executeMode}), ${ioCount} IO tensors, simulated provider validate-only`,
          medianUs: us,
          ratio: us / floorUs,
          target: '<= 20 us',
        });
      } finally {
        await backend.dispose();
      }
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
