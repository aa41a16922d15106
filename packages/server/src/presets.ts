import type { SessionPolicy } from './vocabulary.ts'

/**
 * Session limits from the standards, to spread into `createWard` (later keys win, so an app can
 * still shorten them). Times in seconds; the warning comes one minute before the idle end.
 *
 * - `aal2`: NIST SP 800-63B-4 AAL2: inactivity timeout 1 hour, reauthentication at least every
 *   24 hours.
 * - `aal3`: NIST SP 800-63B-4 AAL3: inactivity timeout 15 minutes, reauthentication at least
 *   every 12 hours.
 * - `pci`: PCI DSS v4.0.1 8.2.8: re-authenticate after 15 minutes idle (no absolute limit in the
 *   standard: the ward's 12 h default stays).
 *
 * @example
 * const ward = await createWard({ ...presets.aal2, database: process.env.DATABASE_URL })
 */
export const presets = Object.freeze({
  aal2: Object.freeze({ warnAfter: 3540, expireAfter: 3600, maxAge: 86_400 }),
  aal3: Object.freeze({ warnAfter: 840, expireAfter: 900, maxAge: 43_200 }),
  pci: Object.freeze({ warnAfter: 840, expireAfter: 900 }),
} satisfies Record<string, Readonly<Partial<SessionPolicy>>>)
