import { Migration20261123000000_initial } from './Migration20261123000000_initial.ts'
import { Migration20261123005000_log_index } from './Migration20261123005000_log_index.ts'
import { Migration20261123010000_admin } from './Migration20261123010000_admin.ts'
import { Migration20261123020000_rotation } from './Migration20261123020000_rotation.ts'
import { Migration20261124000000_expire_after } from './Migration20261124000000_expire_after.ts'
import { Migration20261125000000_live_page_index } from './Migration20261125000000_live_page_index.ts'
import { Migration20261206000000_scale_indexes } from './Migration20261206000000_scale_indexes.ts'
import { Migration20261206010000_identity_providers } from './Migration20261206010000_identity_providers.ts'
import { Migration20261206100000_known_devices } from './Migration20261206100000_known_devices.ts'
import { Migration20261206200000_held_sessions } from './Migration20261206200000_held_sessions.ts'
import { Migration20261206300000_sign_in } from './Migration20261206300000_sign_in.ts'
import { Migration20261206400000_lean_indexes } from './Migration20261206400000_lean_indexes.ts'
import { Migration20261206500000_sign_in_ids } from './Migration20261206500000_sign_in_ids.ts'

/** Every schema migration, oldest first. `ward.migrate()` applies the pending ones. */
export const migrationsList = [
  { name: 'Migration20261123000000_initial', class: Migration20261123000000_initial },
  { name: 'Migration20261123005000_log_index', class: Migration20261123005000_log_index },
  { name: 'Migration20261123010000_admin', class: Migration20261123010000_admin },
  { name: 'Migration20261123020000_rotation', class: Migration20261123020000_rotation },
  { name: 'Migration20261124000000_expire_after', class: Migration20261124000000_expire_after },
  {
    name: 'Migration20261125000000_live_page_index',
    class: Migration20261125000000_live_page_index,
  },
  { name: 'Migration20261206000000_scale_indexes', class: Migration20261206000000_scale_indexes },
  {
    name: 'Migration20261206010000_identity_providers',
    class: Migration20261206010000_identity_providers,
  },
  { name: 'Migration20261206100000_known_devices', class: Migration20261206100000_known_devices },
  { name: 'Migration20261206200000_held_sessions', class: Migration20261206200000_held_sessions },
  { name: 'Migration20261206300000_sign_in', class: Migration20261206300000_sign_in },
  { name: 'Migration20261206400000_lean_indexes', class: Migration20261206400000_lean_indexes },
  { name: 'Migration20261206500000_sign_in_ids', class: Migration20261206500000_sign_in_ids },
]
