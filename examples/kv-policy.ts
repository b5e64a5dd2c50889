/**
 * A KV-cache policy of your own: a dialog that never runs out of context. The cache keeps its first
 * 4 entries (attention sinks) and, whenever it is full, drops the older half of the rest in one go:
 * one compaction per many tokens instead of one per token (the built-in sliding window evicts
 * exactly what each step adds). The kept entries keep their positions, so the model still sees the
 * gap; the view tells each slot's position, token and turn.
 *
 *   npx tsx examples/kv-policy.ts
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dialog, writeDemoBundle, type KvCacheView, type KvPolicy, type KvRoomRequest } from '../src/index.js'; // in an app: from 'genie-ts'

const SINKS = 4;

const halveOlder: KvPolicy = {
  name: 'halve-older',
  makeRoom(cache: KvCacheView, request: KvRoomRequest) {
    const older = Math.max(Math.floor((cache.length - SINKS) / 2), cache.length + request.needed - cache.capacity);
    if (SINKS + older > cache.length) return 'error'; // the step cannot fit even then: Genie's ContextLimitError
    return { evict: Array.from({ length: older }, (_, i) => SINKS + i) };
  },
};

// A tiny random-weight demo model (its text is gibberish by design); use your own genie_config.json.
const bundle = await writeDemoBundle(mkdtempSync(join(tmpdir(), 'genie-ts-example-')), { layers: 1, hidden: 32, heads: 2, kvHeads: 1, ar: [1, 8], cl: 64 });
await using dialog = await Dialog.create(bundle.configPath, { kvPolicy: halveOlder });

// 300 tokens through a 63-entry cache; the demo's EOS may end it sooner, so ask until 300 are out.
let generated = 0;
for (let turn = 0; generated < 300 && turn < 20; turn++) {
  for await (const _piece of dialog.query(`<|im_start|>user\nTell me more (${turn}).<|im_end|>\n<|im_start|>assistant\n`, { maxTokens: 300 - generated }));
  generated += dialog.lastResult!.generatedTokens.length;
}
const cache = dialog.kvCache;
const positions = Array.from({ length: cache.length }, (_, slot) => cache.position(slot));
console.log(`generated ${generated} tokens; the cache holds ${cache.length} of ${cache.capacity} entries`);
console.log(`positions: ${positions.slice(0, 6).join(' ')} ... ${positions.slice(-3).join(' ')} (next ${cache.nextPosition})`);
console.log(`turns: ${cache.turn(0)} (the sinks) ... ${cache.turn(cache.length - 1)}`);
if (generated < 300 || positions[SINKS] === SINKS || cache.nextPosition <= cache.capacity) process.exit(1);
