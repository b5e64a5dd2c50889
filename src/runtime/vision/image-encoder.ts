/**
 * Genie's image-encoder node below the dialog: an `image-encoder` config's graphs (engine mode
 * "image", its own ctx-bins) run through the same GraphBackend seam as the decoder, on Reference or
 * QnnHtp. Inputs are set by tensor name (`pixel_values` and Genie's optional encoder inputs,
 * docs/genie-behaviour.md#tensor-names), as Genie's `setData` does; the output is the image's rows
 * in the output tensor's own encoding.
 */
import type { GraphBackend } from '../../backends/backend.js';
import { GenieError, InvalidArgumentError } from '../../errors.js';
import { discoverImageEncoderLayout, type ImageEncoderLayout } from '../../graphs/image-encoder.js';
import { tensorByteLength } from '../../graphs/sizes.js';
import type { TensorSpec } from '../../graphs/spec.js';
import { checkBackendOptions, openBackend, type BackendOptions } from '../backend-factory.js';
import { checkOptionKeys, describeValue } from '../check-options.js';
import { loadConfigFile } from '../config/load.js';
import { parseConfig } from '../config/parse.js';
import { DisposedError } from '../engine/engine.js';
import { deriveImageEncoder } from './config.js';

/** `encode` was called while another `encode` of the same encoder was running. */
export class ImageEncoderBusyError extends GenieError {
  constructor() {
    super('BUSY', 'image encoder is busy: an encode is running; call encode again once it has returned');
  }
}

/** `encode` stopped because its signal was aborted (before a graph ran; a running graph is not interrupted). */
export class ImageEncodeAbortedError extends GenieError {
  constructor(detail: string) {
    super('ABORTED', `image encode aborted ${detail}`);
  }
}

export interface ImageEncoderOptions {
  /** Folder a config object's relative paths resolve against (default: the current directory). */
  readonly baseDir?: string;
  /** Options of the backend `engine.backend.type` names (e.g. `qnn: { provider: 'simulated' }`). */
  readonly backend?: BackendOptions;
}

export interface EncodeOptions {
  /** Checked before each graph; an aborted encode rejects with `ImageEncodeAbortedError`. */
  readonly signal?: AbortSignal;
}

/** One image's rows, as the encoder (or its projector) output them. */
export interface EncodedImage {
  /** The output tensor's bytes: a copy the caller owns. */
  readonly bytes: Uint8Array;
  /** The output tensor (dtype and encoding of `bytes`). */
  readonly spec: TensorSpec;
  readonly rows: number;
  /** Elements per row. */
  readonly width: number;
  /** Wall time of each graph; `projectorMs` is 0 without a separate projector graph. */
  readonly timings: { readonly encoderMs: number; readonly projectorMs: number };
}

const OPEN_OPTION_KEYS = { baseDir: true, backend: true } as const satisfies Record<keyof ImageEncoderOptions, true>;
const ENCODE_OPTION_KEYS = { signal: true } as const satisfies Record<keyof EncodeOptions, true>;

/** A macrotask turn: timers, signal handlers and I/O callbacks run before it resolves. */
function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * An image encoder (Genie's image-encoder node): its graphs' IO buffers are allocated once through
 * the backend and bound once; each `encode` writes the inputs, runs the encoder graph (then the
 * projector graph, when the projector is a graph of its own) and copies the output rows out.
 *
 * One encode at a time: a second call while one runs rejects with `ImageEncoderBusyError`.
 * `dispose()` during an encode waits for the graph being executed; that encode then rejects with
 * `DisposedError`, and the backend's memory is freed only after it.
 *
 * ```ts
 * const encoder = await ImageEncoder.open('image-encoder.json');
 * const image = await encoder.encode(new Map([['pixel_values', pixelBytes]]));
 * ```
 */
export class ImageEncoder {
  readonly layout: ImageEncoderLayout;
  /** The encoder's `pixel_values` input. */
  readonly pixelValues: TensorSpec;
  /** Every input of the encoder graph; `encode` takes bytes for each of them. */
  readonly inputs: readonly TensorSpec[];
  /** The final rows tensor: the projector's output, else the encoder's. */
  readonly output: TensorSpec;
  readonly rows: number;
  /** Elements per row. */
  readonly width: number;
  /** The backend's `type` (`reference`, `QnnHtp`), for messages and KPIs. */
  readonly backendType: string;

  private readonly backend: GraphBackend;
  /** One buffer per tensor name (the encoder -> projector handoff is one buffer). */
  private readonly buffers = new Map<string, Uint8Array>();
  private readonly yieldPerRun: boolean;
  private running = false;
  private disposed = false;
  private disposal: Promise<void> | null = null;
  /** Set by `dispose` during an encode: called when it ends. */
  private runEnded: (() => void) | null = null;

  private constructor(backend: GraphBackend) {
    const layout = discoverImageEncoderLayout(backend.graphs);
    this.layout = layout;
    this.pixelValues = layout.pixelValues;
    this.inputs = layout.inputs;
    this.output = layout.output;
    this.rows = layout.rows;
    this.width = layout.width;
    this.backend = backend;
    this.backendType = backend.type;
    this.yieldPerRun = backend.executesOffThread !== true;
    const sizes = new Map<string, number>();
    for (const graph of layout.graphs) {
      for (const t of [...graph.inputs, ...graph.outputs]) sizes.set(t.name, Math.max(sizes.get(t.name) ?? 0, tensorByteLength(t)));
    }
    for (const [name, size] of sizes) this.buffers.set(name, backend.allocate(size));
    for (const graph of layout.graphs) {
      const views = new Map<string, Uint8Array>();
      for (const t of [...graph.inputs, ...graph.outputs]) views.set(t.name, this.buffers.get(t.name)!.subarray(0, tensorByteLength(t)));
      backend.bind(graph.name, views);
    }
  }

  /**
   * Loads an `image-encoder` config (a file path, or a parsed object whose relative paths resolve
   * against `options.baseDir`), opens its backend and binds its graphs.
   * @throws InvalidArgumentError for a bad argument or option, or another config root.
   * @throws ConfigError / ConfigFileError for a config Genie would reject, or a mode other than "image".
   * @throws NotSupportedError for what genie-ts does not run (see `deriveImageEncoder`).
   * @throws ModelLayoutError when the graphs are not an image encoder (see `discoverImageEncoderLayout`).
   */
  static async open(config: string | object, options: ImageEncoderOptions = {}): Promise<ImageEncoder> {
    if (config === '' || (typeof config !== 'string' && (typeof config !== 'object' || config === null || Array.isArray(config)))) {
      throw new InvalidArgumentError(`ImageEncoder.open takes a config file path or a parsed config object, got ${describeValue(config)}`);
    }
    checkOptionKeys('ImageEncoder.open options', options, OPEN_OPTION_KEYS);
    if (options.baseDir !== undefined && typeof options.baseDir !== 'string') {
      throw new InvalidArgumentError(`ImageEncoder.open option baseDir must be a folder path (a string), got ${describeValue(options.baseDir)}`);
    }
    checkBackendOptions(options.backend, 'ImageEncoder.open');
    const parsed =
      typeof config === 'string' ? (await loadConfigFile(config)).config : parseConfig(config, { baseDir: options.baseDir ?? process.cwd() });
    const backend = await openBackend(deriveImageEncoder(parsed), options.backend);
    try {
      return ImageEncoder.create(backend);
    } catch (error) {
      await backend.dispose();
      throw error;
    }
  }

  /**
   * An image encoder over an open backend's graphs, which it then owns (`dispose` disposes it).
   * When this throws, the backend stays the caller's to dispose.
   * @throws ModelLayoutError when the graphs are not an image encoder.
   */
  static create(backend: GraphBackend): ImageEncoder {
    return new ImageEncoder(backend);
  }

  /**
   * Encodes one image. `inputs` holds the bytes of every encoder input (`inputs`) by tensor name,
   * each exactly the tensor's byte size in its dtype and layout (e.g. `pixel_values` as
   * preprocessing made it). The bytes are copied in before anything runs.
   * @throws InvalidArgumentError (rejects) naming the input: not a Map, an unknown or missing
   * input, bytes that are not a Uint8Array of the tensor's size; or a bad option.
   * @throws ImageEncoderBusyError while another encode runs; DisposedError once disposed or when
   * disposed during this encode; ImageEncodeAbortedError when `signal` aborts before a graph.
   */
  async encode(inputs: ReadonlyMap<string, Uint8Array>, options: EncodeOptions = {}): Promise<EncodedImage> {
    this.checkUsable();
    if (this.running) throw new ImageEncoderBusyError();
    checkOptionKeys('encode options', options, ENCODE_OPTION_KEYS);
    const signal = options.signal;
    if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof signal.aborted !== 'boolean')) {
      throw new InvalidArgumentError(`encode option signal must be an AbortSignal, got ${describeValue(signal)}`);
    }
    this.checkInputs(inputs);
    this.running = true;
    try {
      for (const t of this.inputs) this.buffers.get(t.name)!.set(inputs.get(t.name)!);
      if (this.yieldPerRun) {
        await nextMacrotask();
        this.checkNotDisposedDuring('before the encoder graph ran');
      }
      if (signal?.aborted) throw new ImageEncodeAbortedError('before the encoder graph ran');
      const encoderMs = await this.run(this.layout.encoder.name);
      let projectorMs = 0;
      const projector = this.layout.projector;
      if (projector !== undefined) {
        if (signal?.aborted) throw new ImageEncodeAbortedError(`after the encoder graph, before the projector graph "${projector.name}" ran`);
        projectorMs = await this.run(projector.name);
      }
      const bytes = this.buffers.get(this.output.name)!.slice(0, tensorByteLength(this.output));
      return { bytes, spec: this.output, rows: this.rows, width: this.width, timings: { encoderMs, projectorMs } };
    } finally {
      this.running = false;
      const ended = this.runEnded;
      this.runEnded = null;
      ended?.();
    }
  }

  /**
   * Disposes the backend (freeing the IO memory) after a running encode, if any, has finished its
   * graph: that encode rejects with `DisposedError`. Idempotent; every call resolves when the
   * backend is disposed. Any later `encode` throws `DisposedError`.
   */
  dispose(): Promise<void> {
    if (this.disposal === null) {
      this.disposed = true;
      const runDone = this.running ? new Promise<void>((resolve) => (this.runEnded = resolve)) : null;
      this.disposal = (async () => {
        if (runDone !== null) await runDone;
        await this.backend.dispose();
      })();
    }
    return this.disposal;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  /** Runs one graph; its wall time in ms. */
  private async run(graph: string): Promise<number> {
    const start = performance.now();
    await this.backend.execute(graph);
    const ms = performance.now() - start;
    this.checkNotDisposedDuring(`while graph "${graph}" executed; the encode was cancelled`);
    return ms;
  }

  private checkUsable(): void {
    if (this.disposed) throw new DisposedError('image encoder');
  }

  private checkNotDisposedDuring(detail: string): void {
    if (this.disposed) throw new DisposedError('image encoder', `dispose() was called ${detail}`);
  }

  private checkInputs(inputs: ReadonlyMap<string, Uint8Array>): void {
    const names = this.inputs.map((t) => `"${t.name}"`).join(', ');
    if (!(inputs instanceof Map)) {
      throw new InvalidArgumentError(`encode takes a Map from input name to bytes (inputs: ${names}), got ${describeValue(inputs)}`);
    }
    for (const name of inputs.keys()) {
      if (!this.inputs.some((t) => t.name === name)) {
        throw new InvalidArgumentError(`encode: unknown input ${describeValue(name)}; the encoder graph "${this.layout.encoder.name}" takes ${names}`);
      }
    }
    for (const t of this.inputs) {
      const bytes = inputs.get(t.name);
      if (bytes === undefined) throw new InvalidArgumentError(`encode: missing input "${t.name}" [${t.shape.join(', ')}] ${t.dtype} (inputs: ${names})`);
      if (!(bytes instanceof Uint8Array)) {
        throw new InvalidArgumentError(`encode: input "${t.name}" must be a Uint8Array of its bytes, got ${describeValue(bytes)}`);
      }
      const expected = tensorByteLength(t);
      if (bytes.byteLength !== expected) {
        throw new InvalidArgumentError(
          `encode: input "${t.name}" [${t.shape.join(', ')}] ${t.dtype} takes ${expected} bytes, got ${bytes.byteLength}`,
        );
      }
    }
  }
}
