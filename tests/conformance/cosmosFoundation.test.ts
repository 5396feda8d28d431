import { COSMOS_CONTAINERS } from '../../shared/platform/azure/cosmos/containers';
import { startCosmosServer, type RunningCosmosServer } from '../support/cosmosServer';

describe('Cosmos foundation on the loopback Cosmos server', () => {
  let server: RunningCosmosServer;
  beforeAll(async () => {
    server = await startCosmosServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('creates every container with its hierarchical partition key and TTL through the real SDK', async () => {
    const db = await server.freshDatabase();
    for (const spec of COSMOS_CONTAINERS) {
      const { resource } = await db.container(spec.name).read();
      expect({ name: spec.name, paths: resource?.partitionKey?.paths }).toEqual({ name: spec.name, paths: spec.partitionKeyPaths });
      expect(resource?.defaultTtl).toBe(spec.defaultTtlSeconds);
    }
  });
});
