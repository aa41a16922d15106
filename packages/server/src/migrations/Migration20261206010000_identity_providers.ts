import { Migration } from '@mikro-orm/migrations'

/**
 * Sessions started through an identity provider (issue 22): the provider's issuer, its subject
 * and its session id (`sid`), so a back-channel logout or a Shared Signals event finds the
 * sessions it names by an index. And the `jti` of every logout token and security event taken,
 * kept until it expires, so a replay is refused by every instance.
 */
export class Migration20261206010000_identity_providers extends Migration {
  override name = 'Migration20261206010000_identity_providers'

  override up(): void {
    this.addSql(
      'alter table "sessionward_session" add column if not exists "idp_issuer" text null, add column if not exists "idp_subject" text null, add column if not exists "idp_session_id" text null',
    )
    this.addSql(
      'create index if not exists "sessionward_session_idp_idx" on "sessionward_session" ("idp_issuer", "idp_subject") where "ended_at" is null and "idp_issuer" is not null',
    )
    this.addSql(
      'create index if not exists "sessionward_session_idp_sid_idx" on "sessionward_session" ("idp_issuer", "idp_session_id") where "ended_at" is null and "idp_session_id" is not null',
    )
    this.addSql(
      'create table if not exists "sessionward_idp_token" ("issuer" text not null, "jti" text not null, "expires_at" timestamptz not null, primary key ("issuer", "jti"))',
    )
    this.addSql(
      'create index if not exists "sessionward_idp_token_expires_idx" on "sessionward_idp_token" ("expires_at")',
    )
  }

  override down(): void {
    this.addSql('drop table if exists "sessionward_idp_token"')
    this.addSql('drop index if exists "sessionward_session_idp_sid_idx"')
    this.addSql('drop index if exists "sessionward_session_idp_idx"')
    this.addSql(
      'alter table "sessionward_session" drop column if exists "idp_issuer", drop column if exists "idp_subject", drop column if exists "idp_session_id"',
    )
  }
}
