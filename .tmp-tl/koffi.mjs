import koffi from 'koffi';
const libc = koffi.load('libc.so.6');
const f = libc.func('int abs(int)');
const g = libc.func('void *memchr(void *s, int c, size_t n)');
const buf = Buffer.alloc(64);
const res = [], res2 = [];
const mode = process.argv[2];
for (let i = 0; i < 400; i++) {
  const end = performance.now() + 6;
  if (mode === 'spin') while (performance.now() < end);
  let t = performance.now(); f(-5); res.push((performance.now() - t) * 1000);
  t = performance.now(); g(buf, 1, 64); res2.push((performance.now() - t) * 1000);
}
const m = (v) => { const s = v.slice(50).sort((a, b) => a - b); return `${s[s.length >> 1].toFixed(2)} p90 ${s[Math.floor(s.length * .9)].toFixed(2)}`; };
console.log(mode, 'abs', m(res), 'memchr', m(res2));
