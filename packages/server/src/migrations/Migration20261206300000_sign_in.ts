import { Migration } from '@mikro-orm/migrations'

// The rows the function answers with, as `select` lists them (store.ts reads them by name).
const ROW = `id, user_id, token_hash, created_at, last_activity_at, expires_at, ended_at, end_reason,
  ip, last_ip, user_agent, detail, idp_issuer, idp_subject, idp_session_id, expire_after`

// What a sign-in plans on, per live session, to the millisecond (a JS Date's precision).
const PLANNED_ON = `(id, date_trunc('milliseconds', last_activity_at),
  date_trunc('milliseconds', expires_at), expire_after)::text`

/**
 * The `create or replace` of a sign-in function named `name`, answering the `done` path with
 * `done` (PL/pgSQL run after the work, with `v_ended` the ids it ended). Shared by the first
 * version and the one that answers ids only (Migration20261206500000_sign_in_ids): everything
 * but the answer is the same function.
 */
export function signInFunction(name: string, done: string): string {
  return `create or replace function ${name}(
        p_user_id text,
        p_deadline timestamptz,
        p_capped boolean,
        p_seen uuid[],
        p_seen_activity timestamptz[],
        p_seen_expires timestamptz[],
        p_seen_expire_after integer[],
        p_end_ids uuid[],
        p_end_reasons text[],
        p_notices text[],
        p_ended_at timestamptz,
        p_channel text,
        p_log_limit integer,
        p_lock_timeout integer,
        p_id uuid,
        p_token_hash text,
        p_created_at timestamptz,
        p_expires_at timestamptz,
        p_ip text,
        p_user_agent text,
        p_idp_issuer text,
        p_idp_subject text,
        p_idp_session_id text,
        p_expire_after integer
      ) returns table (state text, id uuid, user_id text, token_hash text,
        created_at timestamptz, last_activity_at timestamptz, expires_at timestamptz,
        ended_at timestamptz, end_reason text, ip text, last_ip text, user_agent text,
        detail text, idp_issuer text, idp_subject text, idp_session_id text,
        expire_after integer)
      language plpgsql volatile as $$
      #variable_conflict use_column
      declare
        v_ended uuid[] := '{}';
        v_id uuid;
        v_notice text;
      begin
        -- Bounded below storeTimeout, so the wait gives up before the caller does.
        if p_lock_timeout > 0 then
          perform set_config('lock_timeout', p_lock_timeout || 'ms', true);
        end if;
        perform pg_advisory_xact_lock(hashtextextended('sessionward:' || p_user_id, 0));
        -- Arrived after its caller gave up (held on the way: a stalled network): nothing lands.
        -- Checked under the lock, which sessionward_sign_in_landed takes too.
        if clock_timestamp() > p_deadline then
          state := 'late';
          return next;
          return;
        end if;
        if p_capped and (select coalesce(array_agg(${PLANNED_ON} order by id), '{}')
              from sessionward_session where user_id = p_user_id and ended_at is null)
           is distinct from
           (select coalesce(array_agg(${PLANNED_ON} order by id), '{}')
              from unnest(p_seen, p_seen_activity, p_seen_expires, p_seen_expire_after)
                as seen(id, last_activity_at, expires_at, expire_after)) then
          state := 'stale';
          return next;
          return query select 'live', ${ROW} from sessionward_session
            where user_id = p_user_id and ended_at is null;
          return;
        end if;
        for v_id, v_notice in
          update sessionward_session as s set ended_at = p_ended_at, end_reason = e.reason
            from unnest(p_end_ids, p_end_reasons, p_notices) as e(id, reason, notice)
           where s.id = e.id and s.user_id = p_user_id and s.ended_at is null
          returning s.id, e.notice
        loop
          v_ended := v_ended || v_id;
          if v_notice is not null then
            perform pg_notify(p_channel, v_notice);
          end if;
        end loop;
        insert into sessionward_session (id, user_id, token_hash, created_at, last_activity_at,
            expires_at, ip, last_ip, user_agent, idp_issuer, idp_subject, idp_session_id,
            expire_after)
          values (p_id, p_user_id, p_token_hash, p_created_at, p_created_at, p_expires_at, p_ip,
            p_ip, p_user_agent, p_idp_issuer, p_idp_subject, p_idp_session_id, p_expire_after);
        if p_log_limit is not null and cardinality(v_ended) > 0 then
          delete from sessionward_session where id in (
            select logged.id from sessionward_session as logged
             where logged.user_id = p_user_id and logged.ended_at is not null
             order by logged.ended_at desc, logged.id desc
            offset p_log_limit);
        end if;
${done}      end $$`
}

/** The `drop` of a sign-in function `signInFunction` made: its parameters' types name it. */
export function dropSignInFunction(name: string): string {
  return `drop function if exists ${name}(text, timestamptz, boolean, uuid[], timestamptz[], timestamptz[], integer[], uuid[], text[], text[], timestamptz, text, integer, integer, uuid, text, timestamptz, timestamptz, text, text, text, text, text, integer)`
}

/**
 * A capped sign-in in one statement (issue 21, logins at scale): `sessionward_sign_in` takes the
 * user's lock and checks that the user's live sessions are still the ones the sign-in planned on
 * (ids, activity, limits: the rules' inputs, read before without the lock, so the rules stay in
 * rules.ts). If so it ends the planned ones still live with their reasons (a NOTIFY for each it
 * ended, when the bus is PostgreSQL), stores the new session, trims the user's log when asked,
 * and answers `done`, the rows it ended (`ended`) and the user's live sessions after (`live`):
 * the next sign-in of that user on this instance can plan on them at once. If not, it changes
 * nothing and answers `stale` and the live sessions as they are: plan again. The first row
 * always says which (its other columns null): a user without live sessions has no other rows. Run on its own
 * (autocommit), a capped login is one or two round trips instead of BEGIN, lock, read, write,
 * COMMIT.
 *
 * `p_deadline` is when the caller gives up (its storeTimeout, on its clock): a call that reaches
 * the lock later does nothing and answers `late`, so a statement held on the way cannot land
 * after its caller answered 503. A caller whose answer was lost asks
 * `sessionward_sign_in_landed`, which takes the same lock: a call holding it commits first, and
 * one that gets it later finds its deadline passed. Uncapped sign-ins (`p_capped` false) skip
 * the check of the live sessions and do not answer them.
 *
 * A function and not one statement with CTEs: a statement's snapshot is taken before its lock
 * is, so it would miss a sign-in that committed while it waited; in a PL/pgSQL function each
 * statement after the lock reads what committed before it (READ COMMITTED).
 */
export class Migration20261206300000_sign_in extends Migration {
  override name = 'Migration20261206300000_sign_in'

  override up(): void {
    this.addSql(
      signInFunction(
        'sessionward_sign_in',
        `        state := 'done';
        return next;
        return query select 'ended', ${ROW} from sessionward_session where id = any(v_ended);
        if p_capped then
          return query select 'live', ${ROW} from sessionward_session
            where user_id = p_user_id and ended_at is null;
        end if;
`,
      ),
    )
    this.addSql(`create or replace function sessionward_sign_in_landed(p_user_id text, p_id uuid)
      returns boolean language plpgsql volatile as $$
      begin
        perform pg_advisory_xact_lock(hashtextextended('sessionward:' || p_user_id, 0));
        return exists (select 1 from sessionward_session where id = p_id);
      end $$`)
  }

  override down(): void {
    this.addSql('drop function if exists sessionward_sign_in_landed(text, uuid)')
    this.addSql(dropSignInFunction('sessionward_sign_in'))
  }
}
