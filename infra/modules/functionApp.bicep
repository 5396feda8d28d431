// The Function App on the Flex Consumption plan (Linux, Node 20), running as the user-assigned
// identity. Every connection is identity-based: no key or connection string is stored anywhere.
// The app-setting names are the ones the code reads (docs/configuration.md);
// tests/infra/drift.test.ts fails when they part.
param name string
param planName string
param location string
param tags object = {}
param identityId string
param identityClientId string
param storageAccountName string
param storageBlobEndpoint string
param deploymentContainerName string
param applicationInsightsConnectionString string
param cosmosEndpoint string
param cosmosDatabaseName string
param serviceBusFullyQualifiedNamespace string
param keyVaultUri string
@description('Upper bound of instances the plan scales out to.')
param maximumInstanceCount int = 100
@description('Memory per instance: 512, 2048 or 4096.')
param instanceMemoryMB int = 2048

var appSettings = {
  SYNCBRIDGE_PLATFORM: 'azure'
  // DefaultAzureCredential in the SDK clients picks the user-assigned identity by this id.
  AZURE_CLIENT_ID: identityClientId
  COSMOS__accountEndpoint: cosmosEndpoint
  COSMOS__databaseName: cosmosDatabaseName
  // Read by the queue triggers (connection: 'ServiceBusConnection' in functions/*Worker.ts).
  ServiceBusConnection__fullyQualifiedNamespace: serviceBusFullyQualifiedNamespace
  ServiceBusConnection__credential: 'managedidentity'
  ServiceBusConnection__clientId: identityClientId
  KEYVAULT_URI: keyVaultUri
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  // Local auth is off on the component: telemetry is sent with the identity's Entra token. Read by
  // the host for its own telemetry and by the app (azureSettings.ts), whose exporter needs it passed.
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // The most of a request body the host accepts, streamed or not: 4 MB (Azure's default is 100 MB).
  // HTTP streams are on (functions/all.ts), so a function reads a body as it arrives: webhooks stop
  // at the receiver's 1 MB, admin API bodies are single records.
  FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '4194304'
  // The Functions host's own storage, identity-based.
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  // azd finds the app to deploy `api` (azure.yaml) to by this tag.
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      // FUNCTIONS_WORKER_RUNTIME is not set: Flex Consumption takes the runtime from functionAppConfig.
      appSettings: [for setting in items(appSettings): { name: setting.key, value: setting.value }]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: '20'
      }
    }
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
