/**
 * The derived view of an `image-encoder` config root (docs/genie-behaviour.md#other-config-roots):
 * the engine's backend and ctx-bins (paths already absolute, resolved against the config file's
 * folder by the config loader), checked for what genie-ts runs.
 */
import { InvalidArgumentError } from '../../errors.js';
import type { BackendType } from '../backend-registry.js';
import { assertLoadable } from '../config/loadable.js';
import type { BackendTarget } from '../backend-factory.js';
import type { GenieConfig } from '../config/types.js';

/** What opening an image encoder needs from its config. */
export interface DerivedImageEncoder extends BackendTarget {
  readonly backendType: BackendType;
  /** Absolute ctx-bin paths, in config order. */
  readonly ctxBins: string[];
}

/** The QnnHtp keys of an image encoder's engine that reach the backend (those present). */
interface ImageEncoderHtp {
  readonly 'spill-fill-bufsize'?: number;
  readonly 'mmap-budget'?: number;
  readonly 'use-mmap'?: boolean;
  readonly 'enable-graph-switching'?: boolean;
  readonly 'allow-async-init'?: boolean;
}

/** The keys of the image-encoder engine read here (the schema has validated their types). */
interface ImageEncoderEngine {
  readonly mode?: unknown;
  readonly backend: { readonly type: string; readonly extensions?: string; readonly QnnHtp?: ImageEncoderHtp };
  readonly model: {
    readonly type: string;
    readonly binary?: { readonly 'ctx-bins': readonly string[]; readonly lora?: unknown };
    readonly 'positional-encoding'?: unknown;
  };
}

const ROOT = 'image-encoder';

/**
 * The derived image-encoder config.
 * @throws InvalidArgumentError for another config root.
 * @throws NotSupportedError (`assertLoadable`) for a mode other than "image", a backend type genie-ts
 * does not run, a `library` model, or keys it would otherwise accept and ignore (LoRA, `positional-encoding`: the caller supplies the encoder's
 * position_ids_sin/cos; `allow-async-init` true; `extensions` on Reference).
 */
export function deriveImageEncoder(config: GenieConfig): DerivedImageEncoder {
  if (config.root !== ROOT) {
    throw new InvalidArgumentError(`an image encoder needs an "${ROOT}" config, found a "${config.root}" config`);
  }
  const engine = config[ROOT].engine as unknown as ImageEncoderEngine;
  assertLoadable(config);
  const { backend, model } = engine;
  const type = backend.type as BackendType;
  const htp = backend.QnnHtp;
  return {
    backendType: type,
    ctxBins: [...model.binary!['ctx-bins']], // model.type "binary" (assertLoadable) comes with its binary block
    htp: htp === undefined ? null : htpSettings(htp),
    extensionsPath: backend.extensions ?? null,
  };
}

/** The keys present, under the backend's names (an absent key keeps the backend's default). */
function htpSettings(htp: ImageEncoderHtp): NonNullable<BackendTarget['htp']> {
  const settings: { -readonly [K in keyof NonNullable<BackendTarget['htp']>]: NonNullable<BackendTarget['htp']>[K] } = {};
  if (htp['spill-fill-bufsize'] !== undefined) settings.spillFillBufsize = htp['spill-fill-bufsize'];
  if (htp['mmap-budget'] !== undefined) settings.mmapBudget = htp['mmap-budget'];
  if (htp['use-mmap'] !== undefined) settings.useMmap = htp['use-mmap'];
  if (htp['enable-graph-switching'] !== undefined) settings.enableGraphSwitching = htp['enable-graph-switching'];
  return settings;
}
