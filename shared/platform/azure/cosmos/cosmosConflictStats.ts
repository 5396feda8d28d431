import type { Container, SqlParameter } from '@azure/cosmos';
import { CONFLICT_KINDS, type ConflictStats } from '../../../ports/conflictStore';
import { queryAll } from './cosmosCalls';
import type { RequestCharges } from './requestCharges';

/** Per-connection count queries in flight at once. */
const PARALLEL_CONNECTIONS = 8;

/**
 * A tenant's conflicts counted per connection and kind, by aggregate queries: the rows that come
 * back are two per connection that has conflicts, however many conflicts it has.
 *
 * Cosmos DB would answer this in one `GROUP BY c.connectionId, c.kind, c.state` (the SDK merges
 * the groups across physical partitions), but @vercel/cosmosdb-server, on which every test runs,
 * parses neither GROUP BY nor DISTINCT. So, with what both accept:
 * 1. the tenant's connection ids, one `TOP 1 … ORDER BY c.connectionId` past the last one found per
 *    connection (an index seek each, on the tenant's partition-key prefix);
 * 2. per connection, one single-partition query of ten conditional SUMs (kind × open/resolved).
 * The request charge of step 2 still grows with the conflicts of a connection (the query engine
 * evaluates each of them); what no longer grows with them is what is sent back and held in memory.
 */
export async function countConflicts(container: Container, charges: RequestCharges, tenantId: string): Promise<ConflictStats[]> {
  const connectionIds = await connectionsWithConflicts(container, charges, tenantId);
  const stats: ConflictStats[] = [];
  for (let i = 0; i < connectionIds.length; i += PARALLEL_CONNECTIONS) {
    const counted = await Promise.all(connectionIds.slice(i, i + PARALLEL_CONNECTIONS).map((id) => countConnection(container, charges, tenantId, id)));
    stats.push(...counted.flat());
  }
  const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return stats.sort((a, b) => byText(a.connectionId, b.connectionId) || byText(a.kind, b.kind));
}

async function connectionsWithConflicts(container: Container, charges: RequestCharges, tenantId: string): Promise<string[]> {
  const ids: string[] = [];
  for (let after = ''; ;) {
    const [next] = await queryAll<string>(
      container, charges, 'conflicts.stats',
      'SELECT TOP 1 VALUE c.connectionId FROM c WHERE c.connectionId > @after ORDER BY c.connectionId',
      [{ name: '@after', value: after }],
      [tenantId],
    );
    if (next === undefined) return ids;
    ids.push(next);
    after = next;
  }
}

async function countConnection(container: Container, charges: RequestCharges, tenantId: string, connectionId: string): Promise<ConflictStats[]> {
  const sums: string[] = [];
  const parameters: SqlParameter[] = [];
  CONFLICT_KINDS.forEach((kind, i) => {
    parameters.push({ name: `@k${i}`, value: kind });
    sums.push(`SUM(c.kind = @k${i} AND c.state = 'open' ? 1 : 0) AS open${i}`, `SUM(c.kind = @k${i} AND c.state = 'resolved' ? 1 : 0) AS resolved${i}`);
  });
  const [row] = await queryAll<Record<string, number | undefined>>(
    container, charges, 'conflicts.stats',
    `SELECT ${sums.join(', ')} FROM c WHERE IS_DEFINED(c.kind)`,
    parameters,
    [tenantId, connectionId],
  );
  return CONFLICT_KINDS.flatMap((kind, i) => {
    const open = row?.[`open${i}`] ?? 0;
    const resolved = row?.[`resolved${i}`] ?? 0;
    return open + resolved > 0 ? [{ connectionId, kind, open, resolved }] : [];
  });
}
