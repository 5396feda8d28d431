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
 * - Nothing here throws into the caller: telemetry failures are swallowed.
 */
export interface Telemetry {
  log(level: LogLevel, message: string, properties?: TelemetryProperties): void;
  event(name: string, properties?: TelemetryProperties, measurements?: Record<string, number>): void;
  metric(name: string, value: number, properties?: TelemetryProperties): void;
  exception(error: unknown, properties?: TelemetryProperties): void;
  dependency(dependency: DependencyTelemetry): void;
  flush(): Promise<void>;
}
