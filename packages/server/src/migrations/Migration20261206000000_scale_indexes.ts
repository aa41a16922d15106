import { Migration } from '@mikro-orm/migrations'

/**
 * Indexes for a large site (issue 21). The sweep's: live sessions by the earliest moment their
 * own row's limits can end them, `least(expires_at, last_activity_at + expire_after seconds)`,
 * so a sweep round reads the due rows in order instead of scanning every live row.
 * `timestamptz + interval` is only STABLE (a day or a month depends on the time zone), so an
 * index cannot hold it; whole seconds never do, which the IMMUTABLE function states. Rows
 * without their own `expire_after` (from before that column) are due at their last activity: a
 * lower bound the sweep's exact condition then filters.
 *
 * And the admin list filtered by end reason, newest first: without it the scan by `created_at`
 * walks every live session (the newest rows) before the first ended one, seconds per page at a
 * million live sessions (`npm run bench:million`).
 *
 * And the log index gets the id its order ends with, `(user_id, ended_at desc, id desc)`: the
 * log trim (one probe per user, each sweep round) and the history pages read it in order,
 * with no sort and, on all-visible pages, no heap visit.
 */
export class Migration20261206000000_scale_indexes extends Migration {
  override name = 'Migration20261206000000_scale_indexes'

  override up(): void {
    this.addSql(`create or replace function sessionward_due_at(expires_at timestamptz, last_activity_at timestamptz, expire_after integer)
      returns timestamptz language sql immutable parallel safe
      as $$ select least(expires_at, last_activity_at + coalesce(expire_after, 0) * interval '1 second') $$`)
    this.addSql(
      'create index if not exists "sessionward_session_due_idx" on "sessionward_session" (sessionward_due_at("expires_at", "last_activity_at", "expire_after"), "id") where "ended_at" is null',
    )
    this.addSql(
      'create index if not exists "sessionward_session_reason_created_idx" on "sessionward_session" ("end_reason", "created_at" desc, "id" desc) where "end_reason" is not null',
    )
    this.addSql(
      'create index if not exists "sessionward_session_user_log_idx" on "sessionward_session" ("user_id", "ended_at" desc, "id" desc) where "ended_at" is not null',
    )
    this.addSql('drop index if exists "sessionward_session_log_idx"')
  }

  override down(): void {
    this.addSql(
      'create index if not exists "sessionward_session_log_idx" on "sessionward_session" ("user_id", "ended_at" desc) where "ended_at" is not null',
    )
    this.addSql('drop index if exists "sessionward_session_user_log_idx"')
    this.addSql('drop index if exists "sessionward_session_reason_created_idx"')
    this.addSql('drop index if exists "sessionward_session_due_idx"')
    this.addSql('drop function if exists sessionward_due_at(timestamptz, timestamptz, integer)')
  }
}
