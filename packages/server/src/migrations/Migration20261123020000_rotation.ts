import { Migration } from '@mikro-orm/migrations'

/**
 * When a session's token was last rotated (`jwt.rotateOnRefresh`), so the immediately previous
 * token is accepted for `jwt.reuseInterval` after it: concurrent refreshes are not theft.
 */
export class Migration20261123020000_rotation extends Migration {
  override name = 'Migration20261123020000_rotation'

  override up(): void {
    this.addSql(
      'alter table "sessionward_session" add column if not exists "token_rotated_at" timestamptz null',
    )
  }

  override down(): void {
    this.addSql('alter table "sessionward_session" drop column if exists "token_rotated_at"')
  }
}
