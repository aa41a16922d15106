import { Migration } from '@mikro-orm/migrations'

/**
 * Known devices (issue 23): one row per device a user signed in from (the hash of its device
 * id, never the id), and the single-use report links of new-device sign-ins (the hash of their
 * token, the session they end, their expiry, when they were used).
 */
export class Migration20261206100000_known_devices extends Migration {
  override name = 'Migration20261206100000_known_devices'

  override up(): void {
    this.addSql(`create table if not exists "sessionward_device" (
      "id" uuid not null primary key,
      "user_id" text not null,
      "device_hash" text not null,
      "first_seen_at" timestamptz not null,
      "last_seen_at" timestamptz not null,
      "browser" text null,
      "os" text null,
      constraint "sessionward_device_user_hash_unique" unique ("user_id", "device_hash")
    )`)
    this.addSql(`create table if not exists "sessionward_report" (
      "token_hash" text not null primary key,
      "session_id" uuid not null,
      "user_id" text not null,
      "expires_at" timestamptz not null,
      "used_at" timestamptz null
    )`)
    this.addSql(
      'create index if not exists "sessionward_report_expires_idx" on "sessionward_report" ("expires_at")',
    )
  }

  override down(): void {
    this.addSql('drop table if exists "sessionward_report"')
    this.addSql('drop table if exists "sessionward_device"')
  }
}
