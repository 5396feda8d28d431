import { uniqueId } from './fixtures';
import { makeRecord } from './recordStore.conformance';
import type { CosmosDatabase } from '../../shared/platform/azure/cosmos/cosmosDatabase';
import { CosmosRecordStore } from '../../shared/platform/azure/cosmos/cosmosRecordStore';
import { startCosmosServer, type RunningCosmosServer } from '../support/cosmosServer';

/**
 * Cosmos record-store promises not covered by the port suites (those run in cosmos.test.ts):
 * getStates carries change-detection state only, never the payload.
 */
describe('CosmosRecordStore: getStates projection', () => {
  let server: RunningCosmosServer;
  let db: CosmosDatabase;
  beforeAll(async () => {
    server = await startCosmosServer();
    db = await server.freshDatabase();
  });
  afterAll(async () => server?.close());

  it('returns the state of a page without any payload field', async () => {
    const records = new CosmosRecordStore(db);
    const scope = { tenantId: uniqueId('ten'), connectionId: uniqueId('con'), entity: 'customers' };
    const page = Array.from({ length: 100 }, (_, i) => makeRecord(scope, `c${i}`));
    await records.write(page);
    db.charges.reset();
    const states = await records.getStates(scope, page.map((r) => r.externalId));
    expect(states.size).toBe(100);
    expect(db.charges.snapshot()).toEqual({ 'records.getStates': { requests: 1, ru: expect.any(Number) } });
    for (const state of states.values()) {
      expect(state).not.toHaveProperty('data');
      expect(state).not.toHaveProperty('payload');
    }
  });
});
