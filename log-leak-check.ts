// The whole test run's log-leak check (issue 14): every console line a test writes reaches
// Vitest's onConsoleLog (vite.config.ts), which hands it to `screenConsoleLine`; the test apps'
// ward loggers report their leaks to the console too (leakCheckedLogger). A line holding a session
// token or a 64-hex digest is kept out of the output, masked, and fails the run at teardown.
import { findLeaks, LEAK_MARKER, maskLeaks } from './packages/server/src/test-support/leaks.ts'

// The config and this global setup are loaded as separate module instances in the one main
// process: the leaks found are kept where both see them.
const FOUND = Symbol.for('sessionward.testRun.logLeaks')
const found = (): string[] => {
  const store = globalThis as { [FOUND]?: string[] }
  store[FOUND] ??= []
  return store[FOUND]
}

/**
 * Screens one console line of a test: false (do not print it) when it leaks, after noting it
 * masked for the teardown.
 *
 * @example
 * test: { onConsoleLog: (log) => screenConsoleLine(log) }
 */
export function screenConsoleLine(line: string): false | undefined {
  if (findLeaks(line).length === 0 && !line.includes(LEAK_MARKER)) return undefined
  found().push(maskLeaks(line).trim().slice(0, 500))
  return false
}

export default function checkLogLeaks(): () => void {
  found().length = 0
  return () => {
    const leaks = found()
    if (leaks.length === 0) return
    throw new Error(
      `${leaks.length} log line(s) held a session token (swt_…) or a 64-hex digest (shown masked):\n` +
        leaks.map((line) => `  ${line}`).join('\n'),
    )
  }
}
