import { isSyncBridgeError } from '../../shared/core/errors';
import type { RecordScope } from '../../shared/core/model';
import type { RecordStore } from '../../shared/ports/recordStore';

/**
 * Whether the store still holds a seen-set of the run for the scope's entity. Asked through the
 * port: sweepUnseen refuses (`not_found`) a seen-set that does not exist, and with a cut-off in
 * 1970 it would sweep nothing if one did.
 */
export async function hasSeenSet(records: RecordStore, scope: RecordScope, runId: string): Promise<boolean> {
  try {
    await records.sweepUnseen(runId, scope, `probe:${scope.entity}`, new Date().toISOString(), '1970-01-01T00:00:00.000Z');
    return true;
  } catch (error) {
    if (isSyncBridgeError(error, 'not_found')) return false;
    throw error;
  }
}
