import type { GraphBackend } from '../../backends/backend.js';
import { InvalidArgumentError } from '../../errors.js';
import type { GraphSpec } from '../../graphs/spec.js';
import { isFixedPoint, isFloat } from '../../tensor/dtype.js';
import { elementCount } from '../../tensor/shape.js';
import type { TensorRanges } from './ranges.js';

/**
 * A float32 model's backend that records, after each `execute`, the range of every float IO
 * tensor of that graph (inputs and outputs, by tensor name) into `ranges`. Integer tensors
 * (input_ids, position_ids, cache_index) are not recorded.
 */
export class RangeRecordingBackend implements GraphBackend {
  readonly type: string;
  readonly graphs: readonly GraphSpec[];
  private readonly views = new Map<string, readonly (readonly [string, Float32Array])[]>();

  constructor(
    private readonly inner: GraphBackend,
    private readonly ranges: TensorRanges,
  ) {
    this.type = inner.type;
    this.graphs = inner.graphs;
  }

  allocate(byteLength: number): Uint8Array {
    return this.inner.allocate(byteLength);
  }

  /** @throws InvalidArgumentError when a float-valued tensor of the graph is not FLOAT_32 (calibration runs the float model). */
  bind(graph: string, buffers: ReadonlyMap<string, Uint8Array>): void {
    const spec = this.graphs.find((g) => g.name === graph);
    const recorded = (spec === undefined ? [] : [...spec.inputs, ...spec.outputs]).filter((t) => isFloat(t.dtype) || isFixedPoint(t.dtype));
    const other = recorded.find((t) => t.dtype !== 'FLOAT_32');
    if (other !== undefined) {
      throw new InvalidArgumentError(`calibration needs a float32 model: tensor "${other.name}" of graph "${graph}" is ${other.dtype}`);
    }
    this.inner.bind(graph, buffers);
    this.views.set(
      graph,
      recorded.map((t) => {
        const bytes = buffers.get(t.name)!;
        return [t.name, new Float32Array(bytes.buffer, bytes.byteOffset, elementCount(t.shape))] as const;
      }),
    );
  }

  async execute(graph: string): Promise<void> {
    await this.inner.execute(graph);
    for (const [name, values] of this.views.get(graph) ?? []) this.ranges.observe(name, values);
  }

  dispose(): Promise<void> {
    return this.inner.dispose();
  }
}
