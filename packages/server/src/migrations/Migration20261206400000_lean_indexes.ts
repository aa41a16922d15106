import { Migration } from '@mikro-orm/migrations'

/**
 * Two indexes that every sign-in wrote to for nothing (issue 21, logins at scale) now hold only
 * the rows their queries can find:
 * - `sessionward_session_retired_idx` (GIN on `retired_token_hashes`): GIN keeps an entry for a
 *   NULL array too, so each new session and each end (an update writes a new row version) added
 *   one, although only a rotated session has retired hashes and the reuse check (`@>`, a strict
 *   operator) can match nothing else. A GIN insert is the dearest index write a sign-in made:
 *   without it PostgreSQL spent about 14% less CPU per capped login (docs/decisions.md).
 * - `sessionward_session_ended_at_idx`: every live session sat in it under NULL; the queries
 *   that read it (`ended_at >= ?`, the replay's range, the retention's) ask for ended rows only.
 * Each is rebuilt under a write lock on the table for as long as the build takes.
 */
export class Migration20261206400000_lean_indexes extends Migration {
  override name = 'Migration20261206400000_lean_indexes'

  override up(): void {
    this.addSql('drop index if exists "sessionward_session_retired_idx"')
    this.addSql(
      'create index "sessionward_session_retired_idx" on "sessionward_session" using gin ("retired_token_hashes") where "retired_token_hashes" is not null',
    )
    this.addSql('drop index if exists "sessionward_session_ended_at_idx"')
    this.addSql(
      'create index "sessionward_session_ended_at_idx" on "sessionward_session" ("ended_at") where "ended_at" is not null',
    )
  }

  override down(): void {
    this.addSql('drop index if exists "sessionward_session_retired_idx"')
    this.addSql(
      'create index "sessionward_session_retired_idx" on "sessionward_session" using gin ("retired_token_hashes")',
    )
    this.addSql('drop index if exists "sessionward_session_ended_at_idx"')
    this.addSql(
      'create index "sessionward_session_ended_at_idx" on "sessionward_session" ("ended_at")',
    )
  }
}
