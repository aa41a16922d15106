import { Statements } from '../packages/server/src/store.ts'

/** Told each statement the ward sent and how long it took, its pool wait included (ms). */
export type StatementListener = (sql: string, ms: number) => void

const listeners = new Set<StatementListener>()
let patched = false

/**
 * Times every statement the ward sends from now on (timing only: they run as they are) and
 * tells `listener`, kind by the caller's patterns. Benches share one patch of `Statements`.
 *
 * @example
 * timeStatements((sql, ms) => note(kindOf(sql), ms))
 */
export function timeStatements(listener: StatementListener): void {
  listeners.add(listener)
  if (patched) return
  patched = true
  const query = Statements.prototype.query
  Statements.prototype.query = async function (sql, params) {
    const started = performance.now()
    try {
      return await query.call(this, sql, params)
    } finally {
      const ms = performance.now() - started
      for (const tell of listeners) tell(sql, ms)
    }
  }
}

/**
 * The name of the first pattern `sql` matches, or 'other'.
 *
 * @example
 * kindOf(sql, [['claim', /for update skip locked/]])
 */
export function kindOf(sql: string, kinds: [string, RegExp][]): string {
  return kinds.find(([, pattern]) => pattern.test(sql))?.[0] ?? 'other'
}
