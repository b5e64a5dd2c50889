let t = performance.now(); let n = 0; while (performance.now() - t < 100) n++; console.log('performance.now per call ns', (100e6 / n).toFixed(0));
import koffi from 'koffi';
const libc = koffi.load('libc.so.6');
const f = libc.func('int abs(int)');
const res = [];
let x = 0;
for (let i = 0; i < 300; i++) { for (let j = 0; j < 6e6; j++) x += j & 1; const t0 = performance.now(); f(-5); res.push((performance.now() - t0) * 1000); }
res.sort((a, b) => a - b); console.log('abs after pure-JS spin', res[150].toFixed(2), x > 0);
