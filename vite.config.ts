import { defaultClientConditions, defaultServerConditions } from 'vite'
import { defineConfig } from 'vitest/config'
import { screenConsoleLine } from './log-leak-check.ts'

// `source` resolves workspace packages to their TypeScript sources, so tests need no build.
const conditions = ['source']

export default defineConfig({
  resolve: { conditions: [...conditions, ...defaultClientConditions] },
  ssr: { resolve: { conditions: [...conditions, ...defaultServerConditions] } },
  test: {
    globalSetup: ['./test-skips.ts', './log-leak-check.ts'],
    // No log line may hold a token or a digest: such a line is held back and fails the run.
    onConsoleLog: (log) => screenConsoleLine(log),
    projects: [
      {
        extends: true,
        test: {
          name: 'client',
          include: ['packages/client/src/**/*.test.ts'],
          environment: 'happy-dom',
        },
      },
      {
        extends: true,
        test: {
          name: 'server',
          include: ['packages/server/src/**/*.test.ts'],
          environment: 'node',
          // One PGlite (about 1 GB, seconds to boot) per worker, shared by every test file.
          isolate: false,
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          // The demo's hostile-input suite: in-process and over sockets, no browser.
          name: 'demo',
          include: ['demo/**/*.test.ts'],
          environment: 'node',
          testTimeout: 600_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['e2e/**/*.test.ts'],
          environment: 'node',
          // After the unit projects, not beside them: the scenarios' thresholds are seconds
          // long (expireAfter 10 s), and the server suite's PGlite instances would take the CPU
          // they need to sign in four devices within one threshold.
          sequence: { groupOrder: 1 },
          // Two scenarios at a time: with five (Vitest's default), four sign-ins no longer fit in
          // one 10 s threshold on two shared cores (f), nor the dialog checks in one warning (h).
          maxConcurrency: 2,
          // One file at a time (each starts its own Chromium and demo): e2e/dialog.test.ts
          // beside the scenarios would take the CPU their thresholds are sized for.
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
})
