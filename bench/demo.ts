/**
 * Tokens per second of the Reference backend (pure-TS executor) on the embedded demo model, as
 * `genie-ts run` builds it: prefill of a ~100-token prompt, then 32 greedy decode steps.
 */
import { ensureDemoBundle } from '../src/demo/index.js';
import { Dialog } from '../src/runtime/dialog.js';
import type { Measurement } from './harness.js';

export async function run(): Promise<Measurement[]> {
  const bundle = await ensureDemoBundle();
  await using dialog = await Dialog.create(bundle.configPath, { sampler: { temp: 0 } });
  const prompt = 'The quick brown fox jumps over the lazy dog. '.repeat(10);
  const rates = { prefill: [] as number[], decode: [] as number[], ttft: [] as number[] };
  for (let i = 0; i < 5; i++) {
    dialog.reset();
    const stream = dialog.query(prompt, { maxTokens: 33 });
    let next = await stream.next();
    while (!next.done) next = await stream.next();
    const kpis = next.value.kpis;
    rates.prefill.push(kpis['prompt-processing-rate']);
    rates.decode.push(kpis['token-generation-rate']);
    rates.ttft.push(kpis['time-to-first-token']);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const tokens = dialog.tokenizer.encode(prompt).length;
  return [
    { name: `demo (Reference backend): time to first token, ${tokens}-token prompt`, medianUs: median(rates.ttft) },
    { name: `demo (Reference backend): prompt processing ${median(rates.prefill).toFixed(1)} tokens/s`, medianUs: 1e6 / median(rates.prefill) },
    { name: `demo (Reference backend): token generation ${median(rates.decode).toFixed(1)} tokens/s`, medianUs: 1e6 / median(rates.decode) },
  ];
}
