import { Migration } from '@mikro-orm/migrations'

/**
 * Each session's idle limit (expireAfter, seconds) as its policy gave it at login, so SQL can
 * tell an abandoned session from a live one: the background sweep and every "live" view. Null
 * on rows from before: the ward's own expireAfter applies to them.
 */
export class Migration20261124000000_expire_after extends Migration {
  override name = 'Migration20261124000000_expire_after'

  override up(): void {
    this.addSql(
      'alter table "sessionward_session" add column if not exists "expire_after" integer null',
    )
  }

  override down(): void {
    this.addSql('alter table "sessionward_session" drop column if exists "expire_after"')
  }
}
