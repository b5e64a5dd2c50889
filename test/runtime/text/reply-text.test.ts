import { beforeAll, describe, expect, it } from 'vitest';
import { ReplyText } from '../../../src/runtime/text/reply-text.js';
import { demoTokenizerPath, loadTokenizer, type Tokenizer } from '../../../src/runtime/tokenizer/index.js';

const SENTENCE = 'The quick brown fox jumps over the lazy dog, then naps';

describe('ReplyText: the detokenizer feeding the stop matcher', () => {
  let tokenizer: Tokenizer;
  let ids: number[];
  beforeAll(async () => {
    tokenizer = await loadTokenizer(demoTokenizerPath());
    ids = Array.from(tokenizer.encode(SENTENCE));
    expect(ids.length).toBeGreaterThan(8);
  });

  it('without a stop, pushes and finish spell the decoded ids, held-back text included', () => {
    const reply = new ReplyText(tokenizer, ['naps!']); // the final "naps" could start the stop: held back until finish
    const pieces = ids.map((id) => reply.push(id));
    expect(pieces.join('')).toBe(SENTENCE.slice(0, -'naps'.length));
    expect(reply.finish()).toBe('naps');
    expect(reply.text).toBe(SENTENCE);
    expect(reply.stopSequence).toBeNull();
  });

  it('a stop spelled by two whole tokens: the text before it, and those two tokens to remove', () => {
    const k = 4;
    const stop = tokenizer.decode(ids.slice(k, k + 2));
    const reply = new ReplyText(tokenizer, [stop]);
    let pushed = 0;
    while (reply.stopSequence === null) reply.push(ids[pushed++]);
    expect(pushed).toBe(k + 2);
    expect(reply.stopSequence).toBe(stop);
    expect(reply.text).toBe(tokenizer.decode(ids.slice(0, k)));
    expect(reply.stopTokens()).toBe(2);
  });
});
