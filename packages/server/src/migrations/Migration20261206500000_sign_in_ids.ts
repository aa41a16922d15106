import { Migration } from '@mikro-orm/migrations'
import { dropSignInFunction, signInFunction } from './Migration20261206300000_sign_in.ts'

/**
 * `sessionward_sign_in_2`: `sessionward_sign_in` (Migration20261206300000_sign_in) answering a
 * sign-in that is `done` with the ids it ended and nothing more. The first version read back the
 * ended rows and the user's live sessions after, two more statements in every capped login,
 * although the ward knows both already: the function only ends the planned sessions after
 * checking, under the user's lock, that the user's live sessions are exactly those the plan was
 * made on, so the live sessions after are those minus the ended plus the new one (sign-in.ts).
 * A plan overtaken (`stale`) is still answered with the live sessions as they are.
 *
 * A new name, not a replacement: an instance still running the previous version calls
 * `sessionward_sign_in` during a rolling deploy and needs its answer as it was.
 */
export class Migration20261206500000_sign_in_ids extends Migration {
  override name = 'Migration20261206500000_sign_in_ids'

  override up(): void {
    this.addSql(
      signInFunction(
        'sessionward_sign_in_2',
        `        state := 'done';
        return next;
        foreach v_id in array v_ended loop
          state := 'ended';
          id := v_id;
          return next;
        end loop;
`,
      ),
    )
  }

  override down(): void {
    this.addSql(dropSignInFunction('sessionward_sign_in_2'))
  }
}
