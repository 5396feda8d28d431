import type { Context, Span } from '@opentelemetry/api';

type StartedSpan = Span & { readonly attributes?: Readonly<Record<string, unknown>> };

/**
 * A span processor that gives the HTTP spans of the Azure SDKs the host Application Insights takes
 * as a dependency's target. core-rest-pipeline's tracing policy records `http.url` and
 * `http.method` but no host, and the exporter then uses the whole URL as the target, so each Key
 * Vault secret name (path) and api-version (query) would be a target of its own in the
 * application map. `http.host` is the URL's host, what the Host header carries: the same target
 * (host:port, the default port left out) as the spans of the http instrumentation.
 */
export const azureSdkHttpHost = {
  onStart(span: StartedSpan, _parentContext: Context): void {
    const attributes = span.attributes ?? {};
    const url = attributes['http.url'];
    if (typeof url !== 'string' || attributes['http.host'] !== undefined || attributes['server.address'] !== undefined) return;
    try {
      span.setAttribute('http.host', new URL(url).host);
    } catch {
      // not a URL: the exporter keeps what it had
    }
  },
  onEnd(): void {},
  async forceFlush(): Promise<void> {},
  async shutdown(): Promise<void> {},
};
