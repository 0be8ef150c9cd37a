// The audit trail's read side as the admin endpoints and the console see it: search and overview.
import type { OverviewService } from './overview.js';
import type { AuditSearch } from './search.js';

/** The audit's read side. */
export interface AuditView {
  /** Null when no sink can be searched (neither redis nor file). */
  search: AuditSearch | null;
  overview: OverviewService;
}
