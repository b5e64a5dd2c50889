import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import {
  DEFAULT_DEMO_OPTIONS, DEMO_FORMAT_VERSION, demoCacheFolderName, demoCacheRoot, DemoOptionError, describeDemoOptions, resolveDemoOptions,
  type DemoOptions,
} from '../../src/demo/index.js';

describe('resolveDemoOptions', () => {
  it('fills the documented defaults', () => {
    expect(resolveDemoOptions()).toEqual({
      layers: 2, hidden: 64, heads: 4, kvHeads: 2, splits: 2, ar: [1, 32], cl: 512, seed: 42, input: 'ids', quant: 'none', backend: 'reference', vision: false,
    });
    expect(resolveDemoOptions()).toEqual(DEFAULT_DEMO_OPTIONS);
  });

  it('sorts the AR list and keeps every given option', () => {
    const o = resolveDemoOptions({ layers: 3, hidden: 48, heads: 6, kvHeads: 3, splits: 3, ar: [64, 1, 8], cl: 256, seed: 0xffffffff, input: 'embeds', quant: 'htp', backend: 'qnn-htp', vision: true });
    expect(o).toEqual({ layers: 3, hidden: 48, heads: 6, kvHeads: 3, splits: 3, ar: [1, 8, 64], cl: 256, seed: 4294967295, input: 'embeds', quant: 'htp', backend: 'qnn-htp', vision: true });
  });

  it('allows layers + 1 parts with ids (embedding part) but only layers with embeds', () => {
    expect(resolveDemoOptions({ layers: 3, splits: 4 }).splits).toBe(4);
    expect(resolveDemoOptions({ layers: 3, splits: 3, input: 'embeds' }).splits).toBe(3);
  });

  const bad: Array<[string, Partial<DemoOptions> | Record<string, unknown>, RegExp]> = [
    ['layers 0', { layers: 0 }, /^demo option layers 0: expected an integer in \[1, 64\]$/],
    ['layers 65', { layers: 65 }, /^demo option layers 65: expected an integer in \[1, 64\]$/],
    ['layers 1.5', { layers: 1.5 }, /^demo option layers 1\.5: expected an integer/],
    ['layers "2"', { layers: '2' as unknown as number }, /^demo option layers "2": expected an integer/],
    ['hidden not a multiple of heads', { hidden: 66 }, /^demo option hidden 66: not a multiple of heads 4$/],
    ['odd head_dim', { hidden: 12 }, /^demo option hidden 12: head_dim = hidden \/ heads 4 = 3 is odd \(RoPE needs it even\)$/],
    ['hidden too large', { hidden: 4096 }, /^demo option hidden 4096: expected an integer in \[2, 2048\]$/],
    ['heads 0', { heads: 0 }, /^demo option heads 0: expected an integer in \[1, 1024\]$/],
    ['kvHeads not dividing heads', { kvHeads: 3 }, /^demo option kvHeads 3: does not divide heads 4$/],
    ['kvHeads above heads', { kvHeads: 8 }, /^demo option kvHeads 8: expected an integer in \[1, 4\]$/],
    ['splits 0', { splits: 0 }, /^demo option splits 0: expected an integer in \[1, 3\] \(layers 2 plus the embedding part\)$/],
    ['splits above layers + 1', { splits: 4 }, /^demo option splits 4: expected an integer in \[1, 3\] \(layers 2 plus the embedding part\)$/],
    ['splits above layers with embeds', { splits: 3, input: 'embeds' }, /^demo option splits 3: expected an integer in \[1, 2\] \(layers 2; input "embeds" has no embedding part\)$/],
    ['empty ar', { ar: [] }, /^demo option ar \[\]: expected a non-empty list of integers$/],
    ['ar not a list', { ar: 'x' as unknown as number[] }, /^demo option ar "x": expected a non-empty list of integers$/],
    ['ar 0', { ar: [0, 1] }, /^demo option ar \[0,1\]: entry 0 is not an integer in \[1, cl 512\)$/],
    ['ar = cl', { ar: [1, 512] }, /^demo option ar \[1,512\]: entry 512 is not an integer in \[1, cl 512\)$/],
    ['ar 1.5', { ar: [1.5] }, /^demo option ar \[1\.5\]: entry 1\.5 is not an integer/],
    ['repeated ar', { ar: [32, 1, 32] }, /^demo option ar \[32,1,32\]: AR 32 appears twice$/],
    ['cl 1', { cl: 1 }, /^demo option cl 1: expected an integer in \[2, 32768\]$/],
    ['cl too large', { cl: 65536 }, /^demo option cl 65536: expected an integer in \[2, 32768\]$/],
    ['seed -1', { seed: -1 }, /^demo option seed -1: expected an integer in \[0, 4294967295\]$/],
    ['seed 2^32', { seed: 2 ** 32 }, /^demo option seed 4294967296: expected an integer in \[0, 4294967295\]$/],
    ['input', { input: 'tokens' as 'ids' }, /^demo option input "tokens": expected "ids" or "embeds"$/],
    ['quant', { quant: 'int8' as 'htp' }, /^demo option quant "int8": expected "none", "htp", "fp16"$/],
    ['unknown option', { vocab: 1000 }, /^demo option vocab 1000: unknown option \(options: layers, hidden, heads, kvHeads, splits, ar, cl, seed, input, quant, backend, vision\)$/],
    ['vision "yes"', { vision: 'yes' as unknown as boolean }, /^demo option vision "yes": expected true or false$/],
    ['vision with input ids', { vision: true, input: 'ids' }, /^demo option input "ids": a vision bundle's decoder takes embeddings \(input "embeds"\)$/],
    ['unknown backend', { backend: 'gpu' as never }, /^demo option backend "gpu": expected "reference", "qnn-htp"$/],
  ];
  for (const [what, options, message] of bad) {
    it(`rejects ${what} with a DemoOptionError naming the option and value`, () => {
      expect(() => resolveDemoOptions(options as Partial<DemoOptions>)).toThrow(DemoOptionError);
      expect(() => resolveDemoOptions(options as Partial<DemoOptions>)).toThrow(InvalidArgumentError);
      expect(() => resolveDemoOptions(options as Partial<DemoOptions>)).toThrow(message);
      expect(resolveDemoOptions({ layers: 3 }).layers).toBe(3);
    });
  }

  it('exposes the option, the value and the bare reason on the error', () => {
    try {
      resolveDemoOptions({ kvHeads: 3 });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(DemoOptionError);
      const e = error as DemoOptionError;
      expect([e.option, e.value, e.reason, e.code]).toEqual(['kvHeads', 3, 'does not divide heads 4', 'INVALID_ARGUMENT']);
    }
  });

  it('describes options on one line', () => {
    expect(describeDemoOptions(resolveDemoOptions())).toBe(
      'layers 2, hidden 64, heads 4, kv-heads 2, splits 2, ar 1,32, cl 512, input ids, seed 42, quant none, backend reference',
    );
  });
});

describe('demo cache location', () => {
  it('prefers GENIE_TS_CACHE_DIR, then an absolute XDG_CACHE_HOME, then ~/.cache', () => {
    expect(demoCacheRoot({ GENIE_TS_CACHE_DIR: '/c/own', XDG_CACHE_HOME: '/c/xdg' })).toBe('/c/own');
    expect(demoCacheRoot({ GENIE_TS_CACHE_DIR: 'rel' })).toBe(join(process.cwd(), 'rel'));
    expect(demoCacheRoot({ GENIE_TS_CACHE_DIR: '', XDG_CACHE_HOME: '/c/xdg' })).toBe('/c/xdg/genie-ts');
    expect(demoCacheRoot({ XDG_CACHE_HOME: 'relative/xdg' })).toBe(join(homedir(), '.cache', 'genie-ts'));
    expect(demoCacheRoot({})).toBe(join(homedir(), '.cache', 'genie-ts'));
  });

  it('names a folder per format version and options, independent of AR order', () => {
    const name = demoCacheFolderName(resolveDemoOptions());
    expect(name).toMatch(new RegExp(`^demo-${DEMO_FORMAT_VERSION}-[0-9a-f]{12}$`));
    expect(demoCacheFolderName(resolveDemoOptions({ ar: [32, 1] }))).toBe(name);
    const others = [{ seed: 43 }, { layers: 3 }, { input: 'embeds' as const }, { ar: [1, 64] }, { cl: 1024 }, { splits: 1 }];
    const names = others.map((o) => demoCacheFolderName(resolveDemoOptions(o)));
    expect(new Set([name, ...names]).size).toBe(others.length + 1);
  });
});
