// What the console is built from: access, its data, the live feed, the audit view and the admin API's code.
import type { AuditView } from '../audit/view.js';
import type { AdminBansDeps } from '../http/admin-bans.js';
import type { AccessDeps } from './access.js';
import type { ConsoleData } from './data.js';
import type { DecisionFeed } from './decisions.js';

/** What the console is built from. */
export interface ConsoleDeps extends AccessDeps {
  data: ConsoleData;
  feed: DecisionFeed;
  /** The audit search and overview (the export streams through the audit search's exporter). */
  auditView: AuditView;
  /** What the admin API's bans and alerts routes are built on: the console's ban and unban call the same functions. */
  incident: AdminBansDeps;
  /** The /admin app (routes without the prefix), called in-process with the caller's request. */
  admin: (req: Request, env: unknown) => Response | Promise<Response>;
}
