import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Vitest's default (one worker fewer than the cores) leaves a 2-core machine one worker, and
    // much of this suite waits on child processes, files and timers: two workers there took the
    // suite from about 700 s to 490 s.
    maxWorkers: Math.max(availableParallelism() - 1, 2),
  },
});
