import koffi from 'koffi';
const libc = koffi.load('libc.so.6');
const f = libc.func('int abs(int)');
const words = new Int32Array(new SharedArrayBuffer(64));
const modes = {
  pure: () => { let x = 0; for (let j = 0; j < 6e6; j++) x += j & 1; return x; },
  pnow: () => { const e = performance.now() + 6; let x = 0; while (performance.now() < e) x++; return x; },
  pnowSparse: () => { const e = performance.now() + 6; let x = 0; for (;;) { for (let j = 0; j < 200; j++) x += j & 1; if (performance.now() >= e) break; } return x; },
  atomicsSparse: () => { const e = performance.now() + 6; let x = 0; for (;;) { for (let j = 0; j < 200; j++) x += j & 1; x += Atomics.load(words, 0); if (performance.now() >= e) break; } return x; },
  pnow2: () => { const e = performance.now() + 6; let x = 0; while (performance.now() < e) x++; return x; },
};
for (const [name, spin] of Object.entries(modes)) {
  const res = [];
  for (let i = 0; i < 200; i++) {
    spin();
    const t0 = performance.now(); f(-5); res.push((performance.now() - t0) * 1000);
  }
  res.sort((a, b) => a - b); console.log(name, res[100].toFixed(2), 'p90', res[180].toFixed(2));
}
