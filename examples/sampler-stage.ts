/**
 * A custom sampler stage in Genie's chain: "no repeated bigram" (drop every token that would repeat a
 * pair of tokens already in the conversation), placed after top-k, with built-in stages around it
 * and the distribution each token was drawn from (`topLogprobs`). Two dialogs with the same seed
 * draw the same tokens: the stage reads the dialog's history, and randomness comes from its seeded RNG.
 *
 *   npx tsx examples/sampler-stage.ts
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dialog, writeDemoBundle, type SamplerStage } from '../src/index.js'; // in an app: from 'genie-ts'

// A tiny random-weight demo model (its text is gibberish by design); use your own genie_config.json.
const bundle = await writeDemoBundle(mkdtempSync(join(tmpdir(), 'genie-ts-example-')), { layers: 1, hidden: 32, heads: 2, kvHeads: 1, ar: [1, 8], cl: 128 });

/** One stage object per dialog: a stage's state (none here) belongs to its dialog. */
function noRepeatedBigram(): SamplerStage {
  return {
    name: 'no-repeated-bigram',
    apply(candidates, { history }) {
      if (history === undefined || history.retained < 2) return;
      const last = history.recent(0);
      // Tokens that followed `last` before (a linear scan: fine for a short conversation).
      const followed = new Set<number>();
      for (let back = history.retained - 2; back >= 0; back--) if (history.recent(back + 1) === last) followed.add(history.recent(back));
      if (followed.size === 0) return;
      // Keep at least one token: if every candidate would repeat, leave the set alone.
      let fresh = 0;
      for (let i = 0; i < candidates.size; i++) if (!followed.has(candidates.tokenAt(i))) fresh++;
      if (fresh > 0) candidates.keep((token) => !followed.has(token));
    },
  };
}

const config = JSON.parse(readFileSync(bundle.configPath, 'utf8'));
config.dialog.sampler = { version: 1, seed: 1234, temp: 0.9, 'top-k': 40, 'top-p': 0.95 };
const open = () =>
  Dialog.create(config, {
    baseDir: bundle.dir,
    samplerStages: [{ type: 'logit-bias', bias: { 0: -100 } }, 'top-k', noRepeatedBigram(), 'top-p', 'temperature'],
  });

const prompt = '<|im_start|>user\nSay something.<|im_end|>\n<|im_start|>assistant\n';
const runs: number[][] = [];
let shown = false;
for (let run = 0; run < 2; run++) {
  await using dialog = await open();
  const reply = dialog.query(prompt, { maxTokens: 40, topLogprobs: 3 });
  for await (const piece of reply) void piece;
  const result = await reply.result;
  runs.push([...result.generatedTokens]);
  if (!shown) {
    shown = true;
    const first = result.logprobs![0];
    console.log(`first token ${first.token} (p = ${Math.exp(first.logprob).toFixed(3)}); the top 3 it was drawn from:`);
    for (const t of first.top) console.log(`  ${t.token}: ${Math.exp(t.logprob).toFixed(3)}`);
  }
}

const [a, b] = runs;
const bigrams = new Set<string>();
let repeated = 0;
for (let i = 1; i < a.length; i++) {
  const pair = `${a[i - 1]},${a[i]}`;
  if (bigrams.has(pair)) repeated++;
  bigrams.add(pair);
}
console.log(`${a.length} tokens, ${repeated} repeated bigrams in the reply, same tokens with the same seed: ${a.join() === b.join()}`);
if (a.join() !== b.join() || repeated > 0 || a.includes(0)) process.exit(1);
