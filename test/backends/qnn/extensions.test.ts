/** The HTP extensions file reader on values the config fuzzer found (test/reliability/fuzz/config.test.ts). */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HtpExtensionsError, readHtpExtensions } from '../../../src/backends/qnn/extensions.js';
import { tempDir } from '../reference/fixtures.js';

const dir = tempDir('qnn-extensions');

describe('readHtpExtensions', () => {
  it('quotes a value nested deeper than JSON.stringify recurses, cut short, in an HtpExtensionsError', async () => {
    const path = join(dir, 'deep.json');
    writeFileSync(path, `{"devices": [${'['.repeat(100_000)}${']'.repeat(100_000)}]}`);
    const error = await readHtpExtensions(path).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HtpExtensionsError);
    expect((error as Error).message).toBe(`HTP extensions file "${path}": key devices[0] ${'['.repeat(80)}... is not an object`);
  });
});
