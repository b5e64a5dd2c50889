import { InvalidArgumentError } from '../../errors.js';
import { byteSize } from '../../tensor/dtype.js';
import { describeValue } from '../check-options.js';
import type { QueryOptions, QueryResult } from '../dialog-types.js';
import { Accumulator } from '../embeddings/accumulator.js';
import type { EmbeddingRows } from '../embeddings/rows.js';
import { ImageEncoderNode, PipelineError, TextEncoderNode, TextGeneratorNode, type PipelineNode, type RowSink } from './nodes.js';

/**
 * Genie's pipeline (GeniePipeline, docs/genie-behaviour.md#vlm-pipeline): encoder nodes connected to
 * a text generator append their rows to its accumulator in the order their data is set, so a
 * prompt is built by setting prefix text, the image, then suffix text; `execute` runs the generator
 * on the accumulated rows (an embedding query whose generated tokens go back through the LUT) and
 * empties the accumulator.
 *
 * ```ts
 * const pipeline = new Pipeline();
 * pipeline.addNode(lut).addNode(vision).addNode(generator);
 * pipeline.connect(lut, generator).connect(vision, generator);
 * lut.setText('<|im_start|>user\n');
 * vision.setImage('photo.jpg');
 * lut.setText('\nDescribe the image.<|im_end|>\n<|im_start|>assistant\n');
 * for await (const piece of pipeline.execute()) process.stdout.write(piece);
 * ```
 */
export class Pipeline implements RowSink {
  private readonly nodes = new Set<PipelineNode>();
  private generator: TextGeneratorNode | null = null;
  private accumulator: Accumulator | null = null;
  /** Appends in call order: each waits for the one before. */
  private appends: Promise<void> = Promise.resolve();
  private text: string | null = null;
  private disposed = false;

  /** Genie's `GeniePipeline_addNode`. A pipeline holds one text generator. */
  addNode(node: PipelineNode): this {
    this.checkUsable();
    if (!isNode(node)) throw new InvalidArgumentError(`addNode takes a pipeline node, got ${describeValue(node)}`);
    if (this.nodes.has(node)) throw new PipelineError(`the ${node.kind} node was already added`);
    if (node instanceof TextGeneratorNode) {
      if (this.generator !== null) throw new PipelineError('the pipeline already has a text-generator node');
      const format = node.dialog.embeddingFormat;
      if (format === undefined) throw new PipelineError('the text-generator node\'s model takes token ids: encoders can only feed a model that takes embeddings');
      const size = node.dialog.config.accumulatorSize;
      this.generator = node;
      this.accumulator = new Accumulator(format, size ?? node.dialog.contextLimit * format.rowElements * byteSize(format.dtype));
    }
    this.nodes.add(node);
    return this;
  }

  /**
   * Genie's `GeniePipeline_connect(producer, producerIO, consumer, consumerIO)`: the producer's rows go
   * to the consumer's accumulator (Genie ignores the IO names; so does this). Encoders connect only
   * to the text generator.
   */
  connect(producer: PipelineNode, consumer: PipelineNode): this {
    this.checkUsable();
    for (const node of [producer, consumer]) {
      if (!this.nodes.has(node)) throw new PipelineError(`connect: the ${isNode(node) ? node.kind : describeValue(node)} node was not added to this pipeline`);
    }
    if (!(consumer instanceof TextGeneratorNode)) throw new PipelineError(`connect: encoders connect only to a text-generator node, not to a ${consumer.kind} node`);
    if (!(producer instanceof TextEncoderNode || producer instanceof ImageEncoderNode)) {
      throw new PipelineError(`connect: only text-encoder and image-encoder nodes produce rows, not a ${producer.kind} node`);
    }
    if (producer.sink !== null) throw new PipelineError(`connect: the ${producer.kind} node is already connected`);
    if (producer instanceof ImageEncoderNode && producer.embedder.width !== this.accumulator!.format.rowElements) {
      throw new PipelineError(
        `connect: the image encoder's rows have ${producer.embedder.width} elements but the text generator's embedding rows have ${this.accumulator!.format.rowElements}`,
      );
    }
    producer.sink = this;
    return this;
  }

  /** Genie's `setData(TEXT_GENERATOR_TEXT_INPUT)`: the text a generator runs when nothing was accumulated. */
  setText(text: string): void {
    this.checkUsable();
    if (typeof text !== 'string') throw new InvalidArgumentError(`setText takes a string, got ${describeValue(text)}`);
    this.requireGenerator();
    this.text = text;
  }

  /** Bytes the accumulated rows take (`accumulator-size` bounds them). */
  get accumulatedBytes(): number {
    return this.accumulator?.byteLength ?? 0;
  }

  /** Used by connected encoders (`RowSink`): rows are appended after every earlier append settles. */
  append(what: string, rows: () => Promise<EmbeddingRows> | EmbeddingRows): Promise<void> {
    this.checkUsable();
    const accumulator = this.accumulator!;
    const size = accumulator.format.rowElements;
    const next = this.appends.then(async () => {
      const r = await rows();
      accumulator.appendRows(r, 0, r.data.length / size, what);
    });
    this.appends = next.catch(() => undefined); // a failed append adds nothing; later ones still run
    return next;
  }

  /**
   * Genie's `GeniePipeline_execute`: waits for pending appends, then runs the text generator on the
   * accumulated rows (or its text when none were set) and streams the reply; the accumulator is
   * emptied when the query starts.
   */
  async *execute(options: QueryOptions = {}): AsyncGenerator<string, QueryResult> {
    this.checkUsable();
    const generator = this.requireGenerator();
    await this.appends;
    const accumulator = this.accumulator!;
    const rows = accumulator.rowCount > 0 ? copyRows(accumulator.rows()) : null;
    if (rows === null && this.text === null) throw new PipelineError('execute: nothing was set (no text and no encoder output)');
    const query = generator.query(this.text, rows, options);
    accumulator.clear();
    this.text = null;
    return yield* query;
  }

  /** Genie's `GeniePipeline_reset`: the generator forgets the conversation; nothing stays accumulated. */
  reset(): void {
    this.checkUsable();
    this.generator?.dialog.reset();
    this.accumulator?.clear();
    this.text = null;
  }

  /** Disposes every node. */
  async dispose(): Promise<void> {
    this.disposed = true;
    await this.appends;
    for (const node of this.nodes) await node.dispose();
    this.nodes.clear();
  }

  private requireGenerator(): TextGeneratorNode {
    if (this.generator === null) throw new PipelineError('the pipeline has no text-generator node (addNode)');
    return this.generator;
  }

  private checkUsable(): void {
    if (this.disposed) throw new PipelineError('the pipeline was disposed');
  }
}

/** The rows leave the accumulator, which the next set of data reuses. */
function copyRows(rows: EmbeddingRows): EmbeddingRows {
  return { ...rows, data: rows.data.slice() };
}

function isNode(value: unknown): value is PipelineNode {
  return value instanceof TextEncoderNode || value instanceof ImageEncoderNode || value instanceof TextGeneratorNode;
}
