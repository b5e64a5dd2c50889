const N = 128256;
const src = new Uint16Array(N); for (let i = 0; i < N; i++) src[i] = i * 7;
const big = new Uint16Array(N + 64), small = new Uint16Array(8192);
const junk = new Uint8Array(32 << 20);
const modes = { full: () => { big.set(src); }, chunked: () => { for (let i = 0; i < N; i += 8192) small.set(src.subarray(i, Math.min(N, i + 8192))); },
  fullScan: () => { big.set(src); let m = 0; for (let i = 0; i < N; i += 16) m = Math.max(m, big[i]); return m; },
  chunkScan: () => { let m = 0; for (let i = 0; i < N; i += 8192) { const n = Math.min(N - i, 8192); small.set(src.subarray(i, i + n)); for (let j = 0; j < n; j += 16) m = Math.max(m, small[j]); } return m; } };
for (const [name, f] of Object.entries(modes)) {
  const r = [];
  for (let i = 0; i < 60; i++) { for (let j = 0; j < junk.length; j += 64) junk[j]++; const t = performance.now(); f(); r.push((performance.now() - t) * 1000); }
  r.sort((a, b) => a - b); console.log(name, r[30].toFixed(1));
}
