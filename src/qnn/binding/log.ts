/**
 * The QNN log callback (docs/qnn-abi.md#log-callback). Its `va_list` is declared `void *`
 * (pointer-sized as a parameter on every target) and formatted once with the C library's
 * `vsnprintf`, synchronously inside the callback. QNN may log from backend threads; Koffi then
 * queues the call to the JS thread, which is why long QNN calls run through `.async` while a logger
 * is registered.
 */
import koffi from 'koffi';
import { abi } from '../abi.js';
import { QnnLogLevel } from '../enums.js';
import type { NativeFunction, NativePointer } from './native.js';

export const QNN_LOG_LEVELS = ['error', 'warn', 'info', 'verbose'] as const;
/** Mirrors the CLI's `--log error|warn|info|verbose`. */
export type QnnLogLevelName = (typeof QNN_LOG_LEVELS)[number];
/** Where log lines go; `debug` only comes from backends that log below verbose. */
export type QnnLogSink = (level: QnnLogLevelName | 'debug', message: string) => void;

const LEVEL_VALUE: Readonly<Record<QnnLogLevelName, number>> = {
  error: QnnLogLevel.ERROR,
  warn: QnnLogLevel.WARN,
  info: QnnLogLevel.INFO,
  verbose: QnnLogLevel.VERBOSE,
};
const LEVEL_NAME = new Map<number, QnnLogLevelName | 'debug'>([
  ...QNN_LOG_LEVELS.map((name) => [LEVEL_VALUE[name], name] as const),
  [QnnLogLevel.DEBUG, 'debug'],
]);

export function isQnnLogLevelName(value: unknown): value is QnnLogLevelName {
  return typeof value === 'string' && (QNN_LOG_LEVELS as readonly string[]).includes(value);
}

/** Whether a logger configured at `configured` emits a message of `level`. */
export function logLevelAdmits(configured: QnnLogLevelName, level: QnnLogLevelName): boolean {
  return LEVEL_VALUE[level] <= LEVEL_VALUE[configured];
}

export const stderrLogSink: QnnLogSink = (level, message) => {
  process.stderr.write(`[qnn ${level}] ${message}\n`);
};

let vsnprintfFunction: NativeFunction | null | undefined;

/** The C library's `vsnprintf` for this platform (loaded once), or null when none can be loaded. */
function vsnprintf(): NativeFunction | null {
  vsnprintfFunction ??= loadVsnprintf();
  return vsnprintfFunction;
}

function loadVsnprintf(): NativeFunction | null {
  const candidates: Record<string, readonly [string, string][]> = {
    win32: [['ucrtbase.dll', '_vsnprintf'], ['msvcrt.dll', '_vsnprintf']],
    darwin: [['libSystem.B.dylib', 'vsnprintf']],
    android: [['libc.so', 'vsnprintf']],
  };
  for (const [library, symbol] of candidates[process.platform] ?? [['libc.so.6', 'vsnprintf'], ['libc.so', 'vsnprintf']]) {
    try {
      return koffi.load(library).func(`int ${symbol}(void *buffer, size_t size, const char *format, void *args)`) as NativeFunction;
    } catch {
      // try the next C library name
    }
  }
  return null;
}

const MESSAGE_CAPACITY = 4096;

export class QnnLogger {
  /** The registered `QnnLog_Callback_t` to pass to `logCreate`. */
  readonly callback: NativePointer;
  /** The `QnnLog_Level_t` to pass to `logCreate`. */
  readonly maxLevel: number;
  private readonly vsnprintf = vsnprintf();
  private readonly message = koffi.alloc('char', MESSAGE_CAPACITY) as NativePointer;
  private registered = true;

  constructor(
    readonly level: QnnLogLevelName,
    private readonly sink: QnnLogSink,
  ) {
    this.maxLevel = LEVEL_VALUE[level];
    this.callback = koffi.register(
      (format: string | null, level: number, _timestamp: unknown, args: NativePointer | null) =>
        this.onBackendLog(format, level, args),
      koffi.pointer(abi.QnnLog_Callback_t),
    );
  }

  /** Logs one of the binding's own messages when `level` passes the configured level. */
  log(level: QnnLogLevelName, message: string): void {
    if (logLevelAdmits(this.level, level)) this.emit(level, message);
  }

  /** Unregisters the callback; call only after `logFree`. Idempotent. */
  dispose(): void {
    if (!this.registered) return;
    this.registered = false;
    koffi.unregister(this.callback);
    koffi.free(this.message);
  }

  private onBackendLog(format: string | null, level: number, args: NativePointer | null): void {
    if (format === null) return;
    this.emit(LEVEL_NAME.get(level) ?? 'verbose', this.format(format, args).replace(/\s+$/, ''));
  }

  // A va_list can be consumed once only: format exactly once, here, while the callback runs.
  private format(format: string, args: NativePointer | null): string {
    if (this.vsnprintf === null || args === null) return format;
    const length = this.vsnprintf(this.message, MESSAGE_CAPACITY, format, args) as number;
    if (length < 0) return format;
    const text = koffi.decode.string(this.message);
    return length < MESSAGE_CAPACITY ? text : `${text}...`;
  }

  private emit(level: QnnLogLevelName | 'debug', message: string): void {
    // An exception must not unwind into the backend (Koffi would return 0 to it).
    try {
      this.sink(level, message);
    } catch {
      // the sink's own failure is not the backend's concern
    }
  }
}
