import { Migration } from '@mikro-orm/migrations'

/**
 * The admin list's keyset pagination (newest first, overall and per user) and the retired
 * session tokens kept for refresh-reuse detection when `jwt.rotateOnRefresh` is on.
 */
export class Migration20261123010000_admin extends Migration {
  override name = 'Migration20261123010000_admin'

  override up(): void {
    this.addSql(
      'create index if not exists "sessionward_session_created_idx" on "sessionward_session" ("created_at" desc, "id" desc)',
    )
    this.addSql(
      'create index if not exists "sessionward_session_user_created_idx" on "sessionward_session" ("user_id", "created_at" desc, "id" desc)',
    )
    // Hashes of the tokens a session had before rotation; null when it never rotated.
    this.addSql(
      'alter table "sessionward_session" add column if not exists "retired_token_hashes" text[] null',
    )
    this.addSql(
      'create index if not exists "sessionward_session_retired_idx" on "sessionward_session" using gin ("retired_token_hashes")',
    )
  }

  override down(): void {
    this.addSql('drop index if exists "sessionward_session_retired_idx"')
    this.addSql('alter table "sessionward_session" drop column if exists "retired_token_hashes"')
    this.addSql('drop index if exists "sessionward_session_user_created_idx"')
    this.addSql('drop index if exists "sessionward_session_created_idx"')
  }
}
