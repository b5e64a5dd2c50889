import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GenieError, isSystemError, systemErrorReason } from '../src/errors.js';

function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('did not throw');
}

describe('system errors', () => {
  const missing = thrownBy(() => readFileSync('/nonexistent/genie-ts/file'));

  it('recognises an OS error by its code and syscall, and nothing else with a code', () => {
    expect(isSystemError(missing)).toBe(true);
    expect(isSystemError(new GenieError('FILE', 'x'))).toBe(false);
    expect(isSystemError(Object.assign(new Error('x'), { code: 'ERR_SOMETHING' }))).toBe(false);
    expect(isSystemError('ENOENT')).toBe(false);
  });

  it('keeps the code and description, drops the syscall and path', () => {
    expect(systemErrorReason(missing)).toBe('ENOENT: no such file or directory');
    expect(systemErrorReason(new Error('something else, with a comma'))).toBe('something else, with a comma');
    expect(systemErrorReason('plain')).toBe('plain');
  });
});
