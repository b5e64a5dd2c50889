import { describe, expect, it } from 'vitest';
import {
  AbortCriterion, CancelCriterion, EosCriterion, ForcedCriterion, StopCriteria, StopSequenceCriterion, TokenCapCriterion,
  type DecodeState,
} from '../../src/runtime/stop-criteria.js';

const state = (token: number, delivered: number, stopSequence: string | null = null): DecodeState => ({ token, delivered, stopSequence });

describe('stop criteria, one reason each', () => {
  it('EOS: any token of the set, before delivery', () => {
    const eos = new EosCriterion(new Set([7, 9]));
    expect(eos.stage).toBe('sampled');
    expect([7, 9, 8].map((t) => eos.check(state(t, 0)))).toEqual(['eos', 'eos', null]);
  });

  it('stop sequence: the delivered text completed one', () => {
    const stop = new StopSequenceCriterion();
    expect(stop.check(state(1, 1, '</s>'))).toBe('stop-sequence');
    expect(stop.check(state(1, 1))).toBeNull();
  });

  it('token cap: fires once the delivered count reaches it', () => {
    const cap = new TokenCapCriterion(3);
    expect([2, 3, 4].map((n) => cap.check(state(1, n)))).toEqual([null, 'max-tokens', 'max-tokens']);
  });

  it('abort: reads the signal at each check', () => {
    const controller = new AbortController();
    const abort = new AbortCriterion(controller.signal);
    expect(abort.check()).toBeNull();
    controller.abort();
    expect(abort.check()).toBe('abort');
  });

  it('cancel: reads the query\'s flag at each check', () => {
    const run = { cancelled: false };
    const cancel = new CancelCriterion(run);
    expect(cancel.stage).toBe('delivered');
    expect(cancel.check()).toBeNull();
    run.cancelled = true;
    expect(cancel.check()).toBe('cancelled');
  });
});

describe('StopCriteria', () => {
  it('checks each stage in list order; the first criterion that fires names the reason', () => {
    const controller = new AbortController();
    controller.abort();
    const criteria = new StopCriteria([
      new EosCriterion(new Set([2])),
      new StopSequenceCriterion(),
      new TokenCapCriterion(1),
      new AbortCriterion(controller.signal),
    ]);
    expect(criteria.afterSampling(state(2, 0, 'x'))).toBe('eos');
    expect(criteria.afterSampling(state(5, 0, 'x'))).toBeNull();
    expect(criteria.afterDelivery(state(2, 1, 'x'))).toBe('stop-sequence');
    expect(criteria.afterDelivery(state(5, 1))).toBe('max-tokens');
    expect(criteria.afterDelivery(state(5, 0))).toBe('abort');
    expect(new StopCriteria([]).afterDelivery(state(5, 100))).toBeNull();
  });
});

describe('the quota of a set of criteria', () => {
  it('is the smallest token cap or forced count among the delivered-stage criteria, Infinity without one', () => {
    const tail = [new StopSequenceCriterion(), new AbortCriterion(new AbortController().signal)];
    expect(new StopCriteria([new EosCriterion(new Set([1])), ...tail]).quota).toBe(Infinity);
    expect(new StopCriteria([new TokenCapCriterion(9), ...tail]).quota).toBe(9);
    expect(new StopCriteria([new ForcedCriterion(4), new TokenCapCriterion(9), ...tail]).quota).toBe(4);
    expect(new StopCriteria([new ForcedCriterion(12), new TokenCapCriterion(9)]).quota).toBe(9);
  });
});
