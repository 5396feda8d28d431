import { randomUUID } from 'node:crypto';
import { Agent } from 'node:https';
import type { AddressInfo } from 'node:net';
import createCosmosServer from '@vercel/cosmosdb-server';
import { openCosmosDatabase, type CosmosDatabase } from '../../shared/platform/azure/cosmos/cosmosDatabase';

/**
 * @vercel/cosmosdb-server on loopback: the Cosmos DB REST API over HTTPS with a self-signed
 * certificate, spoken to by the real @azure/cosmos SDK. It accepts any key and reports a request
 * charge of 1 for every response (docs/cosmos.md says what that means for measured figures).
 */
export interface RunningCosmosServer {
  endpoint: string;
  /** Any key works against the test server. */
  key: string;
  /** Trusts the server's self-signed certificate. */
  agent: Agent;
  /** A new, empty database with every SyncBridge container, isolated from other callers. */
  freshDatabase(name?: string): Promise<CosmosDatabase>;
  close(): Promise<void>;
}

export async function startCosmosServer(): Promise<RunningCosmosServer> {
  const server = createCosmosServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const agent = new Agent({ rejectUnauthorized: false, keepAlive: true });
  const key = 'c3luY2JyaWRnZS10ZXN0LWtleQ==';
  const opened: CosmosDatabase[] = [];
  return {
    endpoint,
    key,
    agent,
    async freshDatabase(name = `db-${randomUUID().slice(0, 8)}`) {
      const db = await openCosmosDatabase({ endpoint, key, agent, databaseName: name, createIfMissing: true });
      opened.push(db);
      return db;
    },
    async close() {
      for (const db of opened) db.dispose();
      agent.destroy();
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * For a describe block: a loopback server and a fresh database, started before the block's tests
 * and closed after them. Read the database as `.db` inside the tests.
 */
export function useCosmosDatabase(): { readonly db: CosmosDatabase } {
  let server: RunningCosmosServer | undefined;
  let database: CosmosDatabase | undefined;
  beforeAll(async () => {
    server = await startCosmosServer();
    database = await server.freshDatabase();
  });
  afterAll(async () => server?.close());
  return {
    get db() {
      if (!database) throw new Error('The Cosmos test database is only there inside the tests (after beforeAll).');
      return database;
    },
  };
}
