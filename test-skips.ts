// Vitest global setup: says in one line each which parts of `npm test` are skipped and why
// (the skipped tests also carry the reason in their names). Under CI (`CI` set, see isCi) a
// skipped part is an error: the run fails here, before any test, naming the missing service,
// so a green CI means every part ran.
import { chromiumSkipReason } from './e2e/support/chromium.ts'
import {
  manyInstancesSkipReason,
  redisClusterSkipReason,
  redisSkipReason,
} from './packages/server/src/test-support/instances.ts'
import { postgresSkipReason, psqlSkipReason } from './packages/server/src/test-support/postgres.ts'
import { isCi } from './packages/server/src/test-support/services.ts'

/** One line per skipped part of `npm test`, saying why; empty when everything runs. */
function skippedParts(): string[] {
  const lines = [
    postgresSkipReason && `server tests on PostgreSQL skipped: ${postgresSkipReason}`,
    !postgresSkipReason &&
      psqlSkipReason &&
      `migrate --sql through psql skipped: ${psqlSkipReason}`,
    redisSkipReason && `tests on Redis (limiters, faults) skipped: ${redisSkipReason}`,
    manyInstancesSkipReason && `many-instance tests skipped: ${manyInstancesSkipReason}`,
    !manyInstancesSkipReason &&
      redisClusterSkipReason &&
      `Redis Cluster and Sentinel tests skipped: ${redisClusterSkipReason}`,
    chromiumSkipReason && `e2e scenarios skipped: ${chromiumSkipReason}`,
    !chromiumSkipReason &&
      manyInstancesSkipReason &&
      `e2e cluster scenario skipped: ${manyInstancesSkipReason}`,
  ]
  return lines.filter((line): line is string => Boolean(line))
}

export default function reportSkips(): void {
  const reasons = [
    postgresSkipReason,
    psqlSkipReason,
    redisSkipReason,
    redisClusterSkipReason,
    chromiumSkipReason,
  ]
  if (isCi(process.env.CI) && reasons.some((reason) => reason !== null)) {
    // Each missing service once, not once per part that needs it.
    const missing = [...new Set(reasons.filter((reason) => reason !== null))]
    throw new Error(
      `under CI every part of npm test must run, but:\n${missing.map((reason) => `- ${reason}`).join('\n')}`,
    )
  }
  for (const line of skippedParts()) console.info(line)
}
