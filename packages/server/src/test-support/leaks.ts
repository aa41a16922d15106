// What must never appear in a log line or an answer the server did not mean to give: a session
// token (`swt_` + 43 base64url characters), a device id (`swd_`), a report link's token (`swr_`)
// or a 64-hex string (a SHA-256 digest of one).
// Shared by the hostile-input suite, the test apps' loggers and the whole run's console check.

const LEAK = /sw[tdr]_[A-Za-z0-9_-]{43}|[0-9a-fA-F]{64}/g

/** Marks a line a test logger found leaking; the run's console check counts marked lines too. */
export const LEAK_MARKER = 'sessionward log leak:'

/**
 * Every token or 64-hex string in `text`.
 *
 * @example
 * findLeaks(`Bearer swt_${'A'.repeat(43)}`) // ['swt_AAAA…']
 */
export function findLeaks(text: string): string[] {
  return text.match(LEAK) ?? []
}

/**
 * `text` with each token or 64-hex string cut to its first 8 characters, so a report of the leak
 * does not leak it again.
 *
 * @example
 * maskLeaks(`token swt_${'A'.repeat(43)}`) // 'token swt_AAAA[masked]'
 */
export function maskLeaks(text: string): string {
  return text.replace(LEAK, (found) => `${found.slice(0, 8)}[masked]`)
}

/** A logger's line as text: its arguments joined, errors with their stacks. */
export function logLine(args: unknown[]): string {
  return args
    .map((arg) => (arg instanceof Error ? (arg.stack ?? String(arg)) : String(arg)))
    .join(' ')
}

type LoggerLike = Pick<Console, 'info' | 'warn' | 'error'> & { debug?: Console['debug'] }

/**
 * Wraps a ward's logger so every line it gets is searched for tokens and digests; a hit is
 * written to the console masked and marked, where the run's check (vite.config.ts) fails the run.
 *
 * @example
 * createWard({ logger: leakCheckedLogger(console) })
 */
export function leakCheckedLogger<L extends LoggerLike>(logger: L): L {
  const checked = (method: keyof LoggerLike) => {
    const write = logger[method]
    if (typeof write !== 'function') return undefined
    return (...args: unknown[]) => {
      const line = logLine(args)
      if (findLeaks(line).length > 0) console.error(`${LEAK_MARKER} ${maskLeaks(line)}`)
      return write.apply(logger, args)
    }
  }
  const wrapped = { ...logger }
  for (const method of ['info', 'warn', 'error', 'debug'] as const) {
    const fn = checked(method)
    if (fn) (wrapped as Record<string, unknown>)[method] = fn
  }
  return wrapped
}
