// The one identity the Function App runs as. User-assigned (not system-assigned) so that every
// role assignment can be created before the app exists, and the app never starts without access.
param name string
param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
