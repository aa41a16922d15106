import { createDialog } from './dialog.ts'
import { resolveOptions, type SessionWardOptions } from './options.ts'
import { createWard, type MakeDialog, type SessionWard } from './ward-core.ts'
import { showCountdown } from './ward-dom.ts'

export type { SessionWard } from './ward-core.ts'

/** The default dialog with its countdown: what the full entry adds to the headless ward. */
const withDialog: MakeDialog = (options, state, onStay, onLogout) =>
  showCountdown(createDialog(document, { ...options, onStay, onLogout }), state)

/**
 * Creates a ward with the default warning dialog (`dialog: false` leaves it out). Options are
 * validated here (a clear TypeError on bad input); nothing touches the DOM until `start()`, so
 * importing and constructing are safe during server rendering.
 * @example
 * const ward = createSessionWard({ pingUrl: '/session/ping', logoutUrl: '/session/logout',
 *   redirectTo: '/login?reason=idle', onWarn: ({ remaining }) => console.log(remaining) })
 * ward.start()
 */
export const createSessionWard = (input: SessionWardOptions): SessionWard =>
  createWard(resolveOptions(input), withDialog)
