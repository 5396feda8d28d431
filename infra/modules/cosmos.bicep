// Cosmos DB for NoSQL: the account (keys off, Entra ID only), the database and every container
// the ports use. Partition keys, TTLs and excluded index paths are explained in docs/deploy.md;
// tests/infra/drift.test.ts compares the `containers` list below with shared/platform/azure/cosmos/containers.ts.
param accountName string
param location string
param tags object = {}
param databaseName string = 'syncbridge'

// partitionKeyPaths: more than one path makes a hierarchical (MultiHash) key.
// defaultTtlSeconds: set only where documents must expire; -1 = TTL on, items choose their own.
// excludedPaths: payloads that are read whole and never filtered on stay out of the index.
var containers = [
  {
    name: 'records'
    partitionKeyPaths: ['/tenantId', '/connectionId']
    // Also holds the connection's outbox entries and run seen-sets (one partition, one batch).
    excludedPaths: ['/data/*', '/base/*', '/fieldClock/*', '/relationships/*', '/payload/*', '/externalIds/*']
    // TTL on, no default: records never expire; a done outbox entry sets its own ttl (30 days).
    defaultTtlSeconds: -1
  }
  {
    name: 'runs'
    partitionKeyPaths: ['/tenantId', '/connectionId']
    excludedPaths: ['/cursors/*', '/lastError/*']
  }
  {
    name: 'connections'
    partitionKeyPaths: ['/tenantId']
    excludedPaths: ['/mappingOverrides/*', '/config/*']
  }
  {
    name: 'tenants'
    partitionKeyPaths: ['/id']
    excludedPaths: []
  }
  {
    name: 'leases'
    partitionKeyPaths: ['/id']
    excludedPaths: []
  }
  {
    name: 'idempotency'
    partitionKeyPaths: ['/id']
    excludedPaths: []
    // Each claim writes its own `ttl` (claim(key, ttlMs)); this is the ceiling for any that does not.
    defaultTtlSeconds: 604800
  }
  {
    name: 'deliveries'
    partitionKeyPaths: ['/tenantId', '/connectionId']
    excludedPaths: ['/body/*', '/headers/*']
    // The webhook log is kept 30 days for replay.
    defaultTtlSeconds: 2592000
  }
  {
    name: 'conflicts'
    partitionKeyPaths: ['/tenantId', '/connectionId']
    excludedPaths: ['/local/*', '/remote/*', '/base/*']
  }
]

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' = {
  name: accountName
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    disableLocalAuth: true
    minimalTlsVersion: 'Tls12'
    consistencyPolicy: { defaultConsistencyLevel: 'Session' }
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
    // Serverless: pay per request unit, no idle cost. Switch to provisioned autoscale throughput
    // when a tenant's sustained load passes serverless limits (docs/deploy.md).
    capabilities: [{ name: 'EnableServerless' }]
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-05-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: { id: databaseName }
  }
}

resource sqlContainers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = [
  for container in containers: {
    parent: database
    name: container.name
    properties: {
      resource: union(
        {
          id: container.name
          partitionKey: {
            paths: container.partitionKeyPaths
            kind: length(container.partitionKeyPaths) > 1 ? 'MultiHash' : 'Hash'
            version: 2
          }
          indexingPolicy: {
            indexingMode: 'consistent'
            automatic: true
            includedPaths: [{ path: '/*' }]
            excludedPaths: concat([{ path: '/"_etag"/?' }], map(container.excludedPaths, path => { path: path }))
          }
        },
        contains(container, 'defaultTtlSeconds') ? { defaultTtl: container.?defaultTtlSeconds } : {}
      )
    }
  }
]

output accountName string = account.name
output id string = account.id
output endpoint string = account.properties.documentEndpoint
output databaseName string = database.name
