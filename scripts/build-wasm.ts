/**
 * `npm run build:wasm`: assembles every src/simd/wat/NAME.wat (WebAssembly text with SIMD) into
 * src/simd/NAME.wasm.ts, the binary as a base64 string, so the package ships no binary files and
 * needs no assembler at run time. test/simd/binaries.test.ts fails when a .wat and its module differ.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { assembleWat, generatedModule } from './wasm-assembler.js';

const dir = fileURLToPath(new URL('../src/simd/', import.meta.url));
for (const file of readdirSync(`${dir}wat`).filter((name) => name.endsWith('.wat')).sort()) {
  const name = file.slice(0, -'.wat'.length);
  const binary = await assembleWat(file, readFileSync(`${dir}wat/${file}`, 'utf8'));
  writeFileSync(`${dir}${name}.wasm.ts`, generatedModule(name, binary));
  console.log(`src/simd/${name}.wasm.ts: ${binary.length} bytes of WebAssembly`);
}
