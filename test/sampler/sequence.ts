/** A fixed sampling scenario run both in the test process and in a child process. */
import { Sampler, TokenHistory } from '../../src/sampler/index.js';
import { makeLogits, randomLogits, samplerParams } from './fixtures.js';
import { testRng } from './oracle.js';

export function drawSequence(seed: number, draws = 200): number[] {
  const rng = testRng('sequence-logits');
  const vocab = 5000;
  const { view } = makeLogits('UFIXED_POINT_16', [randomLogits(rng, vocab, 2), randomLogits(rng, vocab, 2)]);
  const sampler = new Sampler(samplerParams({ seed, temp: 0.8, topK: 0, topP: 0.95, penalizeLastN: 32, repetitionPenalty: 1.1 }), vocab);
  const history = new TokenHistory(32);
  const out: number[] = [];
  for (let i = 0; i < draws; i++) {
    const token = sampler.sample(view.setRow(i % 2), history);
    history.push(token);
    out.push(token);
  }
  return out;
}
