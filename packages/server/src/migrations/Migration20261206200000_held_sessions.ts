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
  }

  override down(): void {
    this.addSql('alter table "sessionward_session" drop column if exists "held_until"')
  }
}
