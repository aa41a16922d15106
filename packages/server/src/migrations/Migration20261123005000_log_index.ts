import { Migration } from '@mikro-orm/migrations'

/**
 * The session log per user, newest first: serves `/session/history` and the `logLimit` trim
 * that runs whenever a session ends, without scanning other users' rows.
 */
export class Migration20261123005000_log_index extends Migration {
  override name = 'Migration20261123005000_log_index'

  override up(): void {
    this.addSql(
      'create index if not exists "sessionward_session_log_idx" on "sessionward_session" ("user_id", "ended_at" desc) where "ended_at" is not null',
    )
  }

  override down(): void {
    this.addSql('drop index if exists "sessionward_session_log_idx"')
  }
}
