import type { Agent } from 'node:http';
import { CosmosClient, PartitionKeyKind, type Container, type ContainerDefinition, type Database } from '@azure/cosmos';
import type { TokenCredential } from '@azure/identity';
import { COSMOS_CONTAINERS, type CosmosContainerName, type CosmosContainerSpec } from './containers';
import { RequestCharges } from './requestCharges';

export interface CosmosDatabaseOptions {
  /** COSMOS__accountEndpoint, e.g. https://<account>.documents.azure.com:443/ */
  endpoint: string;
  /** Entra ID (managed identity in Azure). Exactly one of credential and key. */
  credential?: TokenCredential;
  /** Account key: local emulators and the test server only (the deployed account has keys off). */
  key?: string;
  databaseName?: string;
  /**
   * Create the database and containers when missing (emulators and tests). In Azure the Bicep
   * creates them; Entra ID data-plane roles cannot, so this stays off there.
   */
  createIfMissing?: boolean;
  /** An HTTP(S) agent, e.g. one that trusts a local emulator's self-signed certificate. */
  agent?: Agent;
  /** Where the request charges of every store on this database are added up. */
  charges?: RequestCharges;
}

/** One Cosmos database and its containers, shared by every Cosmos store of a platform. */
export interface CosmosDatabase {
  readonly client: CosmosClient;
  readonly database: Database;
  readonly charges: RequestCharges;
  container(name: CosmosContainerName): Container;
  dispose(): void;
}

export async function openCosmosDatabase(options: CosmosDatabaseOptions): Promise<CosmosDatabase> {
  if ((options.credential === undefined) === (options.key === undefined)) {
    throw new Error('openCosmosDatabase: give exactly one of credential (Entra ID) and key (emulators only)');
  }
  const client = new CosmosClient({
    endpoint: options.endpoint,
    ...(options.credential ? { aadCredentials: options.credential } : { key: options.key }),
    ...(options.agent ? { agent: options.agent } : {}),
    // One region or an emulator: no endpoint discovery round trips.
    connectionPolicy: { enableEndpointDiscovery: false },
  });
  const databaseName = options.databaseName ?? 'syncbridge';
  const database = options.createIfMissing ? (await client.databases.createIfNotExists({ id: databaseName })).database : client.database(databaseName);
  if (options.createIfMissing) {
    for (const spec of COSMOS_CONTAINERS) await database.containers.createIfNotExists(containerDefinition(spec));
  }
  const containers = new Map(COSMOS_CONTAINERS.map((spec) => [spec.name, database.container(spec.name)]));
  return {
    client,
    database,
    charges: options.charges ?? new RequestCharges(),
    container(name) {
      const container = containers.get(name);
      if (!container) throw new Error(`No Cosmos container named ${name}`);
      return container;
    },
    dispose() {
      client.dispose();
    },
  };
}

/** The container as infra/modules/cosmos.bicep declares it. */
export function containerDefinition(spec: CosmosContainerSpec): ContainerDefinition {
  return {
    id: spec.name,
    partitionKey: {
      paths: [...spec.partitionKeyPaths],
      kind: spec.partitionKeyPaths.length > 1 ? PartitionKeyKind.MultiHash : PartitionKeyKind.Hash,
      version: 2,
    },
    indexingPolicy: {
      indexingMode: 'consistent',
      automatic: true,
      includedPaths: [{ path: '/*' }],
      excludedPaths: [{ path: '/"_etag"/?' }, ...spec.excludedPaths.map((path) => ({ path }))],
    },
    ...(spec.defaultTtlSeconds !== undefined ? { defaultTtl: spec.defaultTtlSeconds } : {}),
  };
}
