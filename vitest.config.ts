import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Quarantined from `npm test` until a round whose providers disagree on the all-reduce group
    // (a provider killed as a round starts) is retried: run it with `npm run test:swarm`.
    exclude: process.env.AGORA_SWARM_TEST ? [] : ['test/node/swarm-processes.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
