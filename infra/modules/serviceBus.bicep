// Service Bus namespace (Standard: sessions, scheduled messages and duplicate detection need it)
// and the queues of shared/ports/queue.ts (QUEUES). The queue settings mirror the local broker's
// defaults (shared/platform/local/sqliteQueueTypes.ts) so a laptop and Azure redeliver, lock and
// dead-letter alike; tests/infra/drift.test.ts fails when they part.
param name string
param location string
param tags object = {}

// Session id = connection id: one worker at a time per provider account (docs/architecture.md).
var queueNames = [
  'sync-inbound'
  'sync-outbound'
]

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
  }
}

resource queues 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = [
  for queueName in queueNames: {
    parent: namespace
    name: queueName
    properties: {
      requiresSession: true
      // Service Bus's default and the local host's: a step that throws 10 times is dead-lettered.
      maxDeliveryCount: 10
      // Message ids are deterministic (run + entity + page); a re-send inside the window is dropped.
      requiresDuplicateDetection: true
      duplicateDetectionHistoryTimeWindow: 'PT10M'
      // The host renews locks while a handler runs (host.json maxAutoLockRenewalDuration).
      lockDuration: 'PT1M'
      deadLetteringOnMessageExpiration: true
    }
  }
]

output name string = namespace.name
output id string = namespace.id
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
