import type { GraphBackend } from '../../backends/backend.js';
import type { BufferPlan, StepInputBuffers } from '../../graphs/buffer-plan.js';
import type { IoTensor } from '../../graphs/layout.js';
import type { ElementArray } from '../../tensor/dtype.js';
import { typedView } from '../../tensor/views.js';

/**
 * The engine's IO memory: one allocation per planned buffer (a tensor name shared by every graph
 * that uses it, or one KV `[in | out]` region), bound once to every graph. Views are created here,
 * once, and reused for every step.
 */
export class EngineBuffers {
  readonly totalBytes: number;
  private readonly bytes = new Map<string, Uint8Array>();
  /** Each graph's tensors as bound (views of the buffers), for step reports. */
  readonly bound = new Map<string, ReadonlyMap<string, Uint8Array>>();
  private readonly stepInputs: ReadonlyMap<string, StepInputBuffers>;

  constructor(backend: GraphBackend, plan: BufferPlan) {
    this.stepInputs = plan.stepInputs;
    for (const buffer of plan.buffers) this.bytes.set(buffer.name, backend.allocate(buffer.byteLength));
    this.totalBytes = plan.totalBytes;
    for (const [graph, placements] of plan.placements) {
      const views = new Map<string, Uint8Array>();
      for (const [tensor, p] of placements) {
        const base = this.require(p.buffer);
        views.set(tensor, base.subarray(p.byteOffset, p.byteOffset + p.byteLength));
      }
      this.bound.set(graph, views);
      backend.bind(graph, views);
    }
  }

  /** The whole buffer named `name` (a tensor name or a KV region name) as raw bytes. */
  require(name: string): Uint8Array {
    const bytes = this.bytes.get(name);
    if (bytes === undefined) throw new Error(`internal: no buffer planned for "${name}"`);
    return bytes;
  }

  /** A typed view of the tensor's whole buffer in its dtype's element type. */
  view(tensor: IoTensor): ElementArray {
    return typedView(this.require(tensor.name), tensor.dtype) as ElementArray;
  }

  /**
   * A step-position input's buffers as typed views: the one the variants' first parts read, and the
   * one the later parts read when it is another (null where there is none; see `BufferPlan.stepInputs`).
   */
  stepInputViews(tensor: IoTensor): { readonly first: ElementArray | null; readonly rest: ElementArray | null } {
    const buffers = this.stepInputs.get(tensor.name);
    if (buffers === undefined) throw new Error(`internal: "${tensor.name}" is not a step-position input`);
    const view = (name: string | null): ElementArray | null => (name === null ? null : (typedView(this.require(name), tensor.dtype) as ElementArray));
    return { first: view(buffers.first), rest: view(buffers.rest) };
  }
}
