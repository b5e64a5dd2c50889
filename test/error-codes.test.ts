/**
 * `GenieError.code` is a union (`GenieErrorCode`, from `GENIE_ERROR_CODES`): the type checker keeps
 * every code thrown inside it; this test keeps the list free of codes nothing throws, and checks a
 * thrown error's code is one of them at run time.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GENIE_ERROR_CODES, GenieError, InvalidArgumentError, NotSupportedError, type GenieErrorCode } from '../src/errors.js';
import * as api from '../src/index.js';

const src = fileURLToPath(new URL('../src', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

describe('GenieErrorCode', () => {
  it('lists each code once, and every code is thrown somewhere in src/ (outside the list itself)', () => {
    expect(new Set(GENIE_ERROR_CODES).size).toBe(GENIE_ERROR_CODES.length);
    const text = sources(src)
      .map((file) => readFileSync(file, 'utf8').replace(/export const GENIE_ERROR_CODES = \[[^\]]*\]/, ''))
      .join('\n');
    const unused = GENIE_ERROR_CODES.filter((code) => !text.includes(`'${code}'`));
    expect(unused).toEqual([]);
  });

  it('the errors the package exports carry a listed code', () => {
    const thrown: GenieError[] = [new InvalidArgumentError('x'), new NotSupportedError('y'), new api.CallbackError('onToken', new Error('z'))];
    for (const error of thrown) expect(GENIE_ERROR_CODES).toContain(error.code);
    const describe = (code: GenieErrorCode): string => code; // compiles only for listed codes
    expect(describe(thrown[2].code)).toBe('CALLBACK_FAILED');
  });
});
