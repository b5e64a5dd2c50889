/** Every src/simd/wat/NAME.wat and its generated src/simd/NAME.wasm.ts agree (`npm run build:wasm`). */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { assembleWat, generatedModule } from '../../scripts/wasm-assembler.js';

const dir = fileURLToPath(new URL('../../src/simd/', import.meta.url));
const sources = readdirSync(`${dir}wat`).filter((name) => name.endsWith('.wat')).map((name) => name.slice(0, -'.wat'.length));
const modules = readdirSync(dir).filter((name) => name.endsWith('.wasm.ts')).map((name) => name.slice(0, -'.wasm.ts'.length));

describe('src/simd binaries', () => {
  it('exist for every source and only for those', () => {
    expect(sources.length).toBeGreaterThan(0);
    expect(modules.sort()).toEqual(sources.sort());
  });

  it.each(sources)('%s.wasm.ts is what %s.wat assembles to (run npm run build:wasm after editing a .wat)', async (name) => {
    const binary = await assembleWat(`${name}.wat`, readFileSync(`${dir}wat/${name}.wat`, 'utf8'));
    expect(readFileSync(`${dir}${name}.wasm.ts`, 'utf8')).toBe(generatedModule(name, binary));
  });
});
