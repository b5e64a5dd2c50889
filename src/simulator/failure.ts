/** How simulated QNN functions fail: a QNN error code plus a message kept for `errorGetMessage`. */
import { QnnErrorCode, qnnErrorName } from '../qnn/errors.js';

/** Thrown by a simulated function to return `code`; caught at the native boundary. */
export class QnnCallFailure extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export function fail(code: number, message: string): never {
  throw new QnnCallFailure(code, message);
}

const CODE_SPAN = 0x10000;
/** How many failures keep their message; older error handles get the generic text. */
const KEPT_MESSAGES = 256;

/**
 * Error handles carry the code in the low 16 bits and a failure sequence number above them, the
 * way QNN reserves the high bits "for internal tracking", so callers must mask. The message of
 * each recent failure can be looked up by its full handle.
 */
export class ErrorMessages {
  private sequence = 0;
  private readonly messages = new Map<number, string>();

  /** The error handle of a new failure with `code` (1..65535) and `message`. */
  record(code: number, message: string): number {
    this.sequence = (this.sequence % 0xffff_ffff) + 1;
    const handle = this.sequence * CODE_SPAN + code;
    this.messages.set(handle, message);
    if (this.messages.size > KEPT_MESSAGES) this.messages.delete(this.messages.keys().next().value!);
    return handle;
  }

  /** The message for a full error handle, or a generic one naming its code. */
  messageOf(handle: number): string {
    const kept = this.messages.get(handle);
    if (kept !== undefined) return kept;
    const code = handle % CODE_SPAN;
    if (code === 0) return 'success';
    return `QNN error ${code}${qnnErrorName(code) === undefined ? '' : ` (${qnnErrorName(code)})`}`;
  }
}

export { QnnErrorCode as Code };
