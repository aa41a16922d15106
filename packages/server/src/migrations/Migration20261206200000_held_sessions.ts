import { Migration } from '@mikro-orm/migrations'

/**
 * Held sessions (issue 23, `newDevice: { hold: true }`): until when a new device's session waits
 * for approval from another of the user's sessions; null for every other session.
 */
export class Migration20261206200000_held_sessions extends Migration {
  override name = 'Migration20261206200000_held_sessions'

  override up(): void {
    this.addSql(
      'alter table "sessionward_session" add column if not exists "held_until" timestamptz null',
    )
    // The sweep's claim of lapsed holds: a partial index, as small as the held sessions.
    this.addSql(
      'create index if not exists "sessionward_session_held_idx" on "sessionward_session" ("held_until") where "held_until" is not null and "ended_at" is null',
    )
  }

  override down(): void {
    this.addSql('drop index if exists "sessionward_session_held_idx"')
    this.addSql('alter table "sessionward_session" drop column if exists "held_until"')
  }
}
