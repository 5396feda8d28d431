// Key Vault for provider credentials. Access by Azure RBAC only (no access policies), soft delete
// and purge protection on so a deleted credential can be recovered and never destroyed early.
param name string
param location string
param tags object = {}
@description('Days a deleted secret stays recoverable (7-90).')
param softDeleteRetentionInDays int = 90

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
