// Vitest global setup: says in one line each which parts of `npm test` are skipped and why
// (the skipped tests also carry the reason in their names). CI provides everything.
import { chromiumSkipReason } from './e2e/support/chromium.ts'
import { manyInstancesSkipReason } from './packages/server/src/test-support/instances.ts'
import { postgresSkipReason } from './packages/server/src/test-support/postgres.ts'

export default function reportSkips(): void {
  const skipped = [
    postgresSkipReason && `server tests on PostgreSQL skipped: ${postgresSkipReason}`,
    manyInstancesSkipReason && `many-instance tests (Redis) skipped: ${manyInstancesSkipReason}`,
    chromiumSkipReason && `e2e scenarios skipped: ${chromiumSkipReason}`,
    !chromiumSkipReason &&
      manyInstancesSkipReason &&
      `e2e cluster scenario skipped: ${manyInstancesSkipReason}`,
  ]
  for (const line of skipped) if (line) console.info(line)
}
