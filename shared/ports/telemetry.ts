export type TelemetryProperties = Record<string, string | number | boolean | null | undefined>;
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface DependencyTelemetry {
  /** e.g. 'HTTP', 'SQLite', 'Azure Service Bus'. */
  type: string;
  /** e.g. the provider host. */
  target: string;
  /** e.g. 'GET /v1/customers'. Never a full URL with query secrets. */
  name: string;
  durationMs: number;
  success: boolean;
  resultCode?: string | number;
  properties?: TelemetryProperties;
}

/**
 * Logs, events and metrics (Application Insights on Azure, JSON lines locally).
 *
 * Semantics (tests/conformance/telemetry.conformance.ts):
 * - Property values whose key names a secret (password, secret, token, apiKey, authorization,
 *   credential, …) are replaced by "***" before they leave the process.
 * - A value given to registerSecretValue is masked wherever it appears (messages, names, property
 *   values, exception messages and stacks, dependency names and targets); where registered values
 *   overlap, no piece of either is left.
 * - Registered values are kept for a bounded time and count (SecretValueRegistryOptions in
 *   shared/core/secretValueRegistry.ts, defaults 1 hour and 20,000 values): a value stays masked
 *   for the retention after its latest registration, and past the count the least recently
 *   registered value is forgotten first, with one warning. Register a value each time you take it
 *   up (the credential service does on every load and store), not once at startup.
 * - maskSecretValues(text) answers `text` with the registered values masked as an emitted line
 *   would have them, for text that leaves the process by another way than telemetry (the admin
 *   API's answers of stored error text). Secret-named keys play no part: it is free text.
 * - Nothing here throws into the caller: telemetry failures are swallowed, and maskSecretValues
 *   answers MASK alone when it cannot mask (the text withheld rather than shown unmasked).
 */
export interface Telemetry {
  /** Masks `value` in everything emitted from now on, for a secret that has no tell-tale key (a token in a URL, a key in a message). */
  registerSecretValue(value: string): void;
  /** `text` with every value registered (and still kept) replaced by MASK, as a line emitted now would show it. */
  maskSecretValues(text: string): string;
  log(level: LogLevel, message: string, properties?: TelemetryProperties): void;
  event(name: string, properties?: TelemetryProperties, measurements?: Record<string, number>): void;
  metric(name: string, value: number, properties?: TelemetryProperties): void;
  exception(error: unknown, properties?: TelemetryProperties): void;
  dependency(dependency: DependencyTelemetry): void;
  flush(): Promise<void>;
}
