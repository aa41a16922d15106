import { Migration } from '@mikro-orm/migrations'

/** The session table, its log indexes and the partial index that makes live-session counts cheap. */
export class Migration20261123000000_initial extends Migration {
  override name = 'Migration20261123000000_initial'

  override up(): void {
    this.addSql(`create table if not exists "sessionward_session" (
      "id" uuid not null primary key,
      "user_id" text not null,
      "token_hash" text not null,
      "created_at" timestamptz not null,
      "last_activity_at" timestamptz not null,
      "expires_at" timestamptz not null,
      "ended_at" timestamptz null,
      "end_reason" text null,
      "ip" text null,
      "last_ip" text null,
      "user_agent" text not null,
      "detail" text null,
      constraint "sessionward_session_token_hash_unique" unique ("token_hash")
    )`)
    this.addSql(
      'create index if not exists "sessionward_session_live_user_idx" on "sessionward_session" ("user_id") where "ended_at" is null',
    )
    this.addSql(
      'create index if not exists "sessionward_session_ended_at_idx" on "sessionward_session" ("ended_at")',
    )
  }

  override down(): void {
    this.addSql('drop table if exists "sessionward_session"')
  }
}
