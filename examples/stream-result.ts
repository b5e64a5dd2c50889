/**
 * Streaming a reply the way an app does: text pieces from `for await`, each token's id from
 * `onToken`, leaving the loop early, and the query's `QueryResult` (stop reason, KPIs) from
 * `result`, however the query ended.
 *
 *   npx tsx examples/stream-result.ts
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dialog, writeDemoBundle, type TokenEvent } from '../src/index.js'; // in an app: from 'genie-ts'

// A tiny random-weight demo model (its text is gibberish by design); use your own genie_config.json.
const bundle = await writeDemoBundle(mkdtempSync(join(tmpdir(), 'genie-ts-example-')), { layers: 1, hidden: 32, heads: 2, kvHeads: 1, ar: [1, 8], cl: 64 });
await using dialog = await Dialog.create(bundle.configPath);

const tokens: TokenEvent[] = [];
const reply = dialog.query('<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n', {
  maxTokens: 30,
  onToken: (token) => tokens.push(token), // { id, text, index }: a new object per token, safe to keep
});
let text = '';
for await (const piece of reply) {
  text += piece;
  if (tokens.length >= 8) break; // the query ends here: stop reason 'cancelled'
}
const result = await reply.result; // resolves however the query ends; rejects with its error
console.log(`streamed ${JSON.stringify(text)}`);
console.log(`token ids ${tokens.map((t) => t.id).join(' ')}`);
console.log(`stop reason ${result.stopReason}, ${result.kpis['num-generated-tokens']} tokens, ` +
  `${result.kpis['token-generation-rate'].toFixed(1)} tokens/s`);
if (result.stopReason !== 'cancelled' || result.generatedTokens.join() !== tokens.map((t) => t.id).join()) process.exit(1);
