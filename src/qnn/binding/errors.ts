import { GenieError, InvalidArgumentError } from '../../errors.js';

/** A QNN library (backend or QnnSystem) was not found; the message lists every place looked at. */
export class QnnLibraryNotFoundError extends GenieError {
  readonly searched: readonly string[];
  constructor(message: string, searched: readonly string[], options?: { cause?: unknown }) {
    super('QNN_LIBRARY_NOT_FOUND', message, options);
    this.searched = searched;
  }
}

/** Why a QNN library file could not be loaded (`QnnLibraryLoadError.problem`). */
export type QnnLibraryProblem =
  | 'directory'
  | 'not-a-file'
  | 'unreadable'
  | 'not-a-shared-library'
  | 'wrong-platform'
  | 'load-failed'
  | 'missing-symbol';

/**
 * A QNN library (backend or QnnSystem) exists but cannot be used: a directory, a device or other
 * non-regular file, not a shared library for this platform and architecture, refused by the
 * dynamic loader, or lacking the QNN entry point. The message names the file and what is wrong.
 */
export class QnnLibraryLoadError extends GenieError {
  readonly path: string;
  readonly problem: QnnLibraryProblem;
  /** The missing entry point, for `missing-symbol`. */
  readonly symbol: string | undefined;
  constructor(path: string, problem: QnnLibraryProblem, message: string, options?: { cause?: unknown; symbol?: string }) {
    super('QNN_LIBRARY_LOAD', message, options);
    this.path = path;
    this.problem = problem;
    this.symbol = options?.symbol;
  }
}

/** The process environment cannot run the backend (e.g. Android `ADSP_LIBRARY_PATH`); says what is missing. */
export class QnnEnvironmentError extends GenieError {
  constructor(message: string) {
    super('QNN_ENVIRONMENT', message);
  }
}

/** No interface provider of a loaded library has an API version this binding supports. */
export class QnnProviderError extends GenieError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('QNN_PROVIDER', message, options);
  }
}

/** A QNN function this binding needs is a NULL slot (or beyond the valid slots) of the backend's table. */
export class QnnFunctionUnavailableError extends GenieError {
  readonly functionName: string;
  constructor(functionName: string, message: string) {
    super('QNN_FUNCTION_UNAVAILABLE', message);
    this.functionName = functionName;
  }
}

/** A context binary cannot be read or described (missing file, unreadable metadata); names the file. */
export class QnnContextBinaryError extends GenieError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BAD_CTX_BIN', message, options);
  }
}

/** A call on a QNN session, graph or buffer set after `dispose`. */
export class QnnDisposedError extends GenieError {
  constructor(message: string) {
    super('DISPOSED', message);
  }
}

/** A buffer handed to `bind` is not (a view of) memory this session allocated. */
export class ForeignBufferError extends InvalidArgumentError {}

/** `execute` of a graph whose IO was never bound. */
export class QnnGraphNotBoundError extends GenieError {
  constructor(message: string) {
    super('GRAPH_NOT_BOUND', message);
  }
}

/**
 * A queued execution submitted to follow another one (`executeAfter`) that failed or was itself not
 * run: it was never submitted. Names both graphs; the failure of the one it followed is reported there.
 */
export class QnnExecutionNotRunError extends GenieError {
  constructor(message: string) {
    super('QNN_NOT_RUN', message);
  }
}
