/**
 * The backend registry: every `engine.backend.type` a Genie config may name and what genie-ts does
 * with it. The config schema's enum (`BACKEND_TYPES`), the load check (`assertLoadable`), the list
 * of project extensions and the backend factory all derive from this one table. It holds names
 * only, so the config code imports it without loading a backend; `backend-factory.ts` maps each
 * type genie-ts runs to its opener in a `Record<RuntimeBackendType, ...>`, so a type marked `runs`
 * without an opener (or an opener without such a type) does not compile.
 */

interface BackendEntry {
  /** genie-ts opens this backend (`backend-factory.ts` has its opener); otherwise it is rejected at load. */
  readonly runs: boolean;
  /** Present for a genie-ts extension (not one of Genie's backends): what it does, for PROJECT_EXTENSIONS. */
  readonly extension?: string;
}

export const BACKEND_REGISTRY = {
  QnnHtp: { runs: true },
  QnnGpu: { runs: false },
  QnnGenAiTransformer: { runs: false },
  Reference: {
    runs: true,
    extension:
      "run the model on this project's pure-TypeScript reference executor (no backend object; a QnnHtp object next to it is an error)",
  },
} as const satisfies Readonly<Record<string, BackendEntry>>;

export type BackendType = keyof typeof BACKEND_REGISTRY;

/** The backend types genie-ts runs. */
export type RuntimeBackendType = {
  [T in BackendType]: (typeof BACKEND_REGISTRY)[T]['runs'] extends true ? T : never;
}[BackendType];

/** Every `engine.backend.type` the config schema accepts: Genie's backends, then the extensions. */
export const BACKEND_TYPES = Object.keys(BACKEND_REGISTRY) as readonly BackendType[];

export function isRuntimeBackendType(type: BackendType): type is RuntimeBackendType {
  return BACKEND_REGISTRY[type].runs;
}

/** The backend types genie-ts runs; the others are valid Genie but rejected at load. */
export const RUNTIME_BACKEND_TYPES: readonly RuntimeBackendType[] = BACKEND_TYPES.filter(isRuntimeBackendType);

/** The backend types that are genie-ts extensions, with what they do. */
export const BACKEND_EXTENSIONS: readonly { readonly type: BackendType; readonly description: string }[] = BACKEND_TYPES.flatMap(
  (type) => {
    const entry: BackendEntry = BACKEND_REGISTRY[type];
    return entry.extension === undefined ? [] : [{ type, description: entry.extension }];
  },
);
