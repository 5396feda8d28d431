import type { Credentials } from '../../adapters/adapter';
import type { Telemetry } from '../../ports/telemetry';

/**
 * Defence in depth: telemetry learns every token we hold, each time we load or store it, so that
 * its bounded registry (ports/telemetry.ts) keeps every value still in use.
 */
export function registerCredentialSecrets(telemetry: Telemetry, credentials: Credentials): void {
  registerSecretValues(
    telemetry,
    credentials.type === 'oauth2' ? [credentials.accessToken, credentials.refreshToken, credentials.clientSecret]
    : credentials.type === 'apiKey' ? [credentials.apiKey]
    : credentials.type === 'bearer' ? [credentials.token]
    : [],
  );
}

export function registerSecretValues(telemetry: Telemetry, values: Array<string | undefined>): void {
  for (const value of values) if (value) telemetry.registerSecretValue(value);
}
