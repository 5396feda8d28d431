import * as coreTracing from '@azure/core-tracing';
import { AzureSdkInstrumentation } from '@azure/opentelemetry-instrumentation-azure-sdk';

/**
 * Makes the distro's instrumentations reach modules that were loaded before `useAzureMonitor` ran.
 *
 * OpenTelemetry instrumentations patch a module when it is `require`d after they were enabled
 * (require-in-the-middle); the distro's README asks for `useAzureMonitor` before anything else is
 * imported. SyncBridge builds its telemetry inside the app, after the Azure SDKs were imported, and
 * under Jest module loading bypasses the hook altogether. So:
 *
 * - Azure SDKs (Key Vault, Service Bus, Identity) trace through @azure/core-tracing, whose spans go
 *   nowhere until an instrumenter is installed on it. Installing Microsoft's OpenTelemetry
 *   instrumenter (the one the distro's `azureSdk` instrumentation installs) on the copy the SDKs
 *   use does not depend on load order.
 * - node:http/https are patched by the distro's http instrumentation the first time they are
 *   required after it was enabled; requiring them here is that first time. Cosmos DB is seen this
 *   way only: @azure/cosmos 4.x makes no core-tracing spans (its tracing client is never used) and
 *   sends through core-rest-pipeline's Node client, which calls https.request.
 */
export function instrumentLoadedModules(): void {
  installAzureSdkInstrumenter();
  require('node:http');
  require('node:https');
}

function installAzureSdkInstrumenter(): void {
  // Disabled: it must not add a second require hook; only its module patch is wanted.
  const instrumentation = new AzureSdkInstrumentation({ enabled: false });
  for (const definition of instrumentation.getModuleDefinitions()) {
    if (definition.name === '@azure/core-tracing') definition.patch?.(coreTracing);
  }
}
