import { Migration } from '@mikro-orm/migrations'

/**
 * The devices list's keyset pages (issue 11, defect 8): a user's live sessions, newest login
 * first, straight from one index that both filters (`ended_at is null`) and orders, so a page
 * reads about `limit` rows however many sessions the user has. Without table statistics
 * (embedded PGlite never analyzes by itself) the planner otherwise picked the old partial
 * index on `user_id` and sorted every live session of the user for each page. The new index
 * leads with `user_id`, so it also serves what the old one did (the cap's count at login).
 */
export class Migration20261125000000_live_page_index extends Migration {
  override name = 'Migration20261125000000_live_page_index'

  override up(): void {
    this.addSql(
      'create index if not exists "sessionward_session_live_user_created_idx" on "sessionward_session" ("user_id", "created_at" desc, "id" desc) where "ended_at" is null',
    )
    this.addSql('drop index if exists "sessionward_session_live_user_idx"')
  }

  override down(): void {
    this.addSql(
      'create index if not exists "sessionward_session_live_user_idx" on "sessionward_session" ("user_id") where "ended_at" is null',
    )
    this.addSql('drop index if exists "sessionward_session_live_user_created_idx"')
  }
}
