// SyncBridge on Azure: one resource group holding the Function App (Flex Consumption) and the
// services behind its ports. Deploy with `azd up` or `az deployment sub create` (docs/deploy.md).
targetScope = 'subscription'

@minLength(1)
@maxLength(40)
@description('Environment name (azd: AZURE_ENV_NAME); names and tags every resource.')
param environmentName string

@minLength(1)
@description('Azure region of every resource (azd: AZURE_LOCATION).')
param location string

@description('Resource group to create; default rg-<environmentName>.')
param resourceGroupName string = ''

var tags = { 'azd-env-name': environmentName }
// Short, stable and unique per subscription + environment + region: global names need it.
var token = toLower(uniqueString(subscription().id, environmentName, location))
var deploymentContainerName = 'app-package-${take(token, 7)}'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: empty(resourceGroupName) ? 'rg-${environmentName}' : resourceGroupName
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  scope: rg
  name: 'identity'
  params: {
    name: 'id-syncbridge-${token}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  scope: rg
  name: 'monitoring'
  params: {
    logAnalyticsName: 'log-syncbridge-${token}'
    applicationInsightsName: 'appi-syncbridge-${token}'
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  scope: rg
  name: 'storage'
  params: {
    name: 'stsyncbridge${take(token, 11)}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
  }
}

module cosmos 'modules/cosmos.bicep' = {
  scope: rg
  name: 'cosmos'
  params: {
    accountName: 'cosmos-syncbridge-${token}'
    location: location
    tags: tags
  }
}

module serviceBus 'modules/serviceBus.bicep' = {
  scope: rg
  name: 'serviceBus'
  params: {
    name: 'sb-syncbridge-${token}'
    location: location
    tags: tags
  }
}

module keyVault 'modules/keyVault.bicep' = {
  scope: rg
  name: 'keyVault'
  params: {
    name: 'kv-sb-${take(token, 13)}'
    location: location
    tags: tags
  }
}

module roleAssignments 'modules/roleAssignments.bicep' = {
  scope: rg
  name: 'roleAssignments'
  params: {
    principalId: identity.outputs.principalId
    serviceBusNamespaceName: serviceBus.outputs.name
    keyVaultName: keyVault.outputs.name
    cosmosAccountName: cosmos.outputs.accountName
    cosmosDatabaseName: cosmos.outputs.databaseName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    storageAccountName: storage.outputs.name
  }
}

module functionApp 'modules/functionApp.bicep' = {
  scope: rg
  name: 'functionApp'
  // The host reads its storage and queues at start: grant access first.
  dependsOn: [roleAssignments]
  params: {
    name: 'func-syncbridge-${token}'
    planName: 'plan-syncbridge-${token}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    cosmosEndpoint: cosmos.outputs.endpoint
    cosmosDatabaseName: cosmos.outputs.databaseName
    serviceBusFullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
    keyVaultUri: keyVault.outputs.uri
  }
}

output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SYNCBRIDGE_API_URL string = 'https://${functionApp.outputs.defaultHostName}/api'
output COSMOS__accountEndpoint string = cosmos.outputs.endpoint
output ServiceBusConnection__fullyQualifiedNamespace string = serviceBus.outputs.fullyQualifiedNamespace
output KEYVAULT_URI string = keyVault.outputs.uri
