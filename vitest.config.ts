import { defineConfig } from 'vitest/config';
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    pool: 'threads',
    // Every Session.run also runs the unoptimized plan and checks that both agree (src/session.ts).
    env: { WEIR_VERIFY_OPT: '1' },
  },
});
