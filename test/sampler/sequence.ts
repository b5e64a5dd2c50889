/** A fixed sampling scenario run both in the test process and in a child process. */
import { Sampler, TokenHistory, type LogitsView } from '../../src/sampler/index.js';
import { makeLogits, randomLogits, samplerParams } from './fixtures.js';
import { testRng } from './oracle.js';

export function drawSequence(seed: number, draws = 200): number[] {
  const rng = testRng('sequence-logits');
  const vocab = 5000;
  const { view } = makeLogits('UFIXED_POINT_16', [randomLogits(rng, vocab, 2), randomLogits(rng, vocab, 2)]);
  const sampler = new Sampler(samplerParams({ seed, temp: 0.8, topK: 0, topP: 0.95, penalizeLastN: 32, repetitionPenalty: 1.1 }), vocab);
  return drawFrom(sampler, view, draws);
}

/** `draws` tokens, alternating the view's two rows, each pushed to a 32-token history. */
function drawFrom(sampler: Sampler, view: LogitsView, draws: number): number[] {
  const history = new TokenHistory(32);
  const out: number[] = [];
  for (let i = 0; i < draws; i++) {
    const token = sampler.sample(view.setRow(i % 2), history);
    history.push(token);
    out.push(token);
  }
  return out;
}

/** The same scenario through a chain with every extra stage (each consuming or adapting state). */
export function drawStagedSequence(seed: number, draws = 200): number[] {
  const rng = testRng('sequence-logits');
  const vocab = 5000;
  const { view } = makeLogits('UFIXED_POINT_16', [randomLogits(rng, vocab, 2), randomLogits(rng, vocab, 2)]);
  const params = samplerParams({ seed, temp: 0.8, topK: 200, topP: 0.95, penalizeLastN: 32, repetitionPenalty: 1.1 });
  const sampler = new Sampler(params, vocab, [
    'penalties', { type: 'logit-bias', bias: { 7: 3, 11: -2 } }, 'top-k', { type: 'xtc', probability: 0.5, threshold: 0.02 },
    { type: 'typical-p', p: 0.9 }, 'top-p', 'temperature', { type: 'mirostat-v2', tau: 4, eta: 0.2 },
  ]);
  return drawFrom(sampler, view, draws);
}
