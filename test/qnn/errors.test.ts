import { describe, it, expect } from 'vitest';
import seedrandom from 'seedrandom';
import {
  checkQnn,
  QnnError,
  QnnErrorCode,
  qnnErrorCode,
  qnnErrorHint,
  qnnErrorName,
} from '../../src/qnn/index.js';
import { GenieError, InvalidArgumentError } from '../../src/errors.js';

/** A failure from `fn`, for inspecting its fields. */
function caught(fn: () => void): QnnError {
  try {
    fn();
  } catch (error) {
    if (error instanceof QnnError) return error;
    throw error;
  }
  throw new Error('expected a QnnError');
}

describe('qnnErrorCode: low 16 bits of a Qnn_ErrorHandle_t (docs/qnn-abi.md#scalars-handles-and-versions)', () => {
  it('agrees with BigInt modulo 65536 for numbers and bigints across the uint64 range', () => {
    const random = seedrandom('qnn-error-code');
    for (let i = 0; i < 500; i++) {
      const high = BigInt(Math.floor(random() * 2 ** 32));
      const low = BigInt(Math.floor(random() * 2 ** 32));
      const value = (high << 32n) | low;
      expect(qnnErrorCode(value)).toBe(Number(value % 65536n));
      const asNumber = Number(value >> 11n); // <= 2^53: what Koffi returns as a number
      expect(qnnErrorCode(asNumber)).toBe(Number(BigInt(asNumber) % 65536n));
    }
    expect(qnnErrorCode(0xffff_ffff_ffff_ffffn)).toBe(0xffff);
    expect(qnnErrorCode(Number.MAX_SAFE_INTEGER)).toBe(0xffff);
  });

  it('rejects values that are not a uint64 with InvalidArgumentError and keeps working', () => {
    for (const [bad, shown] of [[-1, '-1'], [1.5, '1.5'], [Number.NaN, 'NaN'], [2 ** 53, String(2 ** 53)]] as const) {
      expect(() => qnnErrorCode(bad)).toThrow(InvalidArgumentError);
      expect(() => qnnErrorCode(bad)).toThrow(`Qnn_ErrorHandle_t result must be a uint64 number or bigint, got ${shown}`);
    }
    expect(() => qnnErrorCode('5005' as unknown as number)).toThrow(/got 5005/);
    expect(() => qnnErrorCode(-1n)).toThrow(InvalidArgumentError);
    expect(() => qnnErrorCode(-1n)).toThrow('Qnn_ErrorHandle_t result must be a uint64, got -1');
    expect(() => qnnErrorCode(1n << 64n)).toThrow(`got ${1n << 64n}`);
    expect(qnnErrorCode(5005)).toBe(5005);
  });
});

describe('checkQnn', () => {
  it('returns on success, including success codes with internal tracking bits, without asking for a message', () => {
    let asked = 0;
    const getMessage = () => {
      asked++;
      return 'unused';
    };
    for (const ok of [0, 0n, 0x0001_0000n, 0x7f00_0000_0000_0000n]) {
      expect(() => checkQnn('QnnBackend_create', ok, getMessage)).not.toThrow();
    }
    expect(asked).toBe(0);
  });

  it('throws a QnnError carrying function, masked code, name, QNN message and hint', () => {
    const handle = (0x1234n << 32n) | 5005n;
    let passed: number | bigint | undefined;
    const error = caught(() =>
      checkQnn('QnnContext_createFromBinary', handle, (rc) => {
        passed = rc;
        return 'Failed to load skel';
      }),
    );
    expect(passed).toBe(handle);
    expect(error).toBeInstanceOf(GenieError);
    expect(error.code).toBe('QNN_ERROR');
    expect(error.name).toBe('QnnError');
    expect(error.functionName).toBe('QnnContext_createFromBinary');
    expect(error.qnnCode).toBe(5005);
    expect(error.qnnName).toBe('CONTEXT_CREATE_FROM_BINARY');
    expect(error.qnnMessage).toBe('Failed to load skel');
    expect(error.hint).toMatch(/compiled for this SoC and QAIRT version/);
    expect(error.message).toBe(
      `QnnContext_createFromBinary failed with QNN error 5005 (CONTEXT_CREATE_FROM_BINARY): Failed to load skel. Hint: ${error.hint}`,
    );
  });

  it('omits the message part when there is no lookup, it returns nothing, or it throws', () => {
    const plain = 'QnnBackend_create failed with QNN error 4000 (BACKEND_CANNOT_INITIALIZE)';
    expect(caught(() => checkQnn('QnnBackend_create', 4000)).message).toBe(plain);
    expect(caught(() => checkQnn('QnnBackend_create', 4000, () => undefined)).message).toBe(plain);
    expect(caught(() => checkQnn('QnnBackend_create', 4000, () => '')).message).toBe(plain);
    const fromThrowing = caught(() =>
      checkQnn('QnnBackend_create', 4000n, () => {
        throw new Error('errorGetMessage slot is NULL');
      }),
    );
    expect(fromThrowing.message).toBe(plain);
    expect(fromThrowing.qnnMessage).toBeUndefined();
  });

  it('reports undocumented codes by number only', () => {
    const error = caught(() => checkQnn('QnnGraph_execute', 4242));
    expect(error.qnnName).toBeUndefined();
    expect(error.hint).toBeUndefined();
    expect(error.message).toBe('QnnGraph_execute failed with QNN error 4242');
  });

  it('rejects a malformed result with InvalidArgumentError before calling the lookup', () => {
    let asked = 0;
    expect(() => checkQnn('QnnGraph_execute', -5, () => String(++asked))).toThrow(InvalidArgumentError);
    expect(() => checkQnn('QnnGraph_execute', -5)).toThrow('Qnn_ErrorHandle_t result must be a uint64 number or bigint, got -5');
    expect(asked).toBe(0);
    expect(() => checkQnn('QnnGraph_execute', 0)).not.toThrow();
  });
});

describe('hints for the errors users hit most (docs/genie-behaviour.md#known-load-errors)', () => {
  it('explains library and binary mismatches', () => {
    expect(qnnErrorHint(1008)).toMatch(/different SDK versions/);
    expect(qnnErrorHint(1009)).toMatch(/loaded twice in this process|another chip/);
    expect(qnnErrorHint(5000)).toMatch(/older than the SDK that compiled the context binary/);
    expect(qnnErrorHint(5004)).toMatch(/at least as new as the SDK that compiled it/);
    expect(qnnErrorHint(5005)).toMatch(/VTCM/);
    expect(qnnErrorHint(5008)).toMatch(/another SoC model or Hexagon arch/);
    expect(qnnErrorHint(14003)).toMatch(/free in FILO order/);
  });

  it('gives every graph (6xxx) failure a hint, specific ones where the cause is known', () => {
    expect(qnnErrorHint(6001)).toMatch(/die with the context/);
    expect(qnnErrorHint(6002)).toMatch(/graph names from the binary metadata/);
    for (const code of [6000, 6004, 6033, 6999]) expect(qnnErrorHint(code)).toMatch(/does not match the graph/);
    expect(qnnErrorHint(5999)).toBeUndefined();
    expect(qnnErrorHint(7000)).toBeUndefined();
  });

  it('shows the hint in the error message', () => {
    const error = caught(() => checkQnn('QnnContext_createFromBinary', 1008));
    expect(error.message).toBe(
      `QnnContext_createFromBinary failed with QNN error 1008 (COMMON_INCOMPATIBLE_BINARIES). Hint: ${qnnErrorHint(1008)}`,
    );
  });
});

describe('error names', () => {
  it('names documented codes and nothing else; each code has one name', () => {
    expect(qnnErrorName(1009)).toBe('COMMON_LOADING_BINARIES');
    expect(qnnErrorName(5008)).toBe('CONTEXT_BINARY_CONFIGURATION');
    expect(qnnErrorName(14003)).toBe('DEVICE_ASSOCIATED_TO_CONTEXT');
    expect(qnnErrorName(30010)).toBe('SYSTEM_CONTEXT_MALFORMED_BINARY');
    expect(qnnErrorName(1001)).toBeUndefined();
    const codes = Object.values(QnnErrorCode);
    expect(new Set(codes).size).toBe(codes.length);
  });
});

describe('QnnError constructor', () => {
  it('rejects codes outside 1..65535 with InvalidArgumentError', () => {
    for (const bad of [0, 65536, 12.5]) {
      expect(() => new QnnError('QnnGraph_execute', bad)).toThrow(InvalidArgumentError);
      expect(() => new QnnError('QnnGraph_execute', bad)).toThrow(`QnnError qnnCode must be an integer in 1..65535, got ${bad}`);
    }
    expect(new QnnError('QnnGraph_execute', 6004).qnnName).toBe('GRAPH_INVALID_TENSOR');
  });
});
