import { describe, expect, it } from 'vitest';
import { DisposalStack } from '../../../src/qnn/binding/disposal-stack.js';

describe('DisposalStack', () => {
  it('releases newest first, runs every release when some fail, and rethrows the first failure', async () => {
    const stack = new DisposalStack();
    const order: string[] = [];
    stack.defer(() => void order.push('log'));
    stack.defer(() => {
      order.push('backend');
      throw new Error('backend free failed');
    });
    stack.defer(async () => void order.push('device'));
    stack.defer(() => {
      order.push('context');
      throw new Error('context free failed');
    });
    await expect(stack.dispose()).rejects.toThrow('context free failed');
    expect(order).toEqual(['context', 'device', 'backend', 'log']);
    await stack.dispose();
    expect(order).toHaveLength(4);
  });
});
