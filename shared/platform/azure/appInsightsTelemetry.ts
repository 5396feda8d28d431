import { context as otelContext, metrics, SpanKind, SpanStatusCode, trace, TraceFlags, type Context, type Histogram } from '@opentelemetry/api';
import { logs, SeverityNumber } from '@opentelemetry/api-logs';
import type { TokenCredential } from '@azure/identity';
import { setLogLevel } from '@azure/logger';
import { flushAzureMonitor, shutdownAzureMonitor, useAzureMonitor } from 'applicationinsights';
import { MASK, maskProperties, maskText } from '../../core/masking';
import { SECRET_VALUES_FULL_WARNING, SecretValueRegistry, type SecretValueRegistryOptions } from '../../core/secretValueRegistry';
import { textOfThrown } from '../../core/errors';
import { currentTrace, useTraceScope, type TraceContext } from '../../core/traceContext';
import type { DependencyTelemetry, LogLevel, Telemetry, TelemetryProperties } from '../../ports/telemetry';
import { azureSdkHttpHost } from './azureSdkHttpHost';
import { instrumentLoadedModules } from './instrumentLoadedModules';
import { serviceBusDependencyTarget } from './serviceBusDependencyTarget';

/** secretValueRetentionMs, maxSecretValues and clock bound the registered secret values (ports/telemetry.ts). */
export interface AppInsightsTelemetryOptions extends SecretValueRegistryOptions {
  /** APPLICATIONINSIGHTS_CONNECTION_STRING */
  connectionString: string;
  /** Lowest level of `log` sent. Default info. */
  level?: LogLevel;
  /** Fraction of traces kept (host.json samples the host's own telemetry separately). Default 1. */
  samplingRatio?: number;
  /** Extra CA certificate for the ingestion endpoint (a local collector in tests). */
  ingestionCa?: string;
  /**
   * Entra credential the exporter sends ingestion a bearer token from. A component with local auth
   * off (infra/modules/monitoring.bicep) drops telemetry sent without one. The exporter does not read
   * APPLICATIONINSIGHTS_AUTHENTICATION_STRING itself (only the Functions host and the auto-attach
   * agent do): azurePlatform.ts turns that setting into this credential.
   */
  credential?: TokenCredential;
}

const SEVERITY: Record<LogLevel, SeverityNumber> = { debug: SeverityNumber.DEBUG, info: SeverityNumber.INFO, warn: SeverityNumber.WARN, error: SeverityNumber.ERROR };
const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
/** The exporter turns a log record with this attribute into a customEvent. */
const CUSTOM_EVENT = 'microsoft.custom_event.name';

let started = false;

/**
 * The Telemetry port on Application Insights through Microsoft's OpenTelemetry distribution
 * (`applicationinsights` 3.x, `useAzureMonitor`): logs become traces, `event` customEvents, `metric`
 * customMetrics (histograms, exported every minute and on flush), `exception` exceptions, and
 * `dependency` a client span (a remoteDependency). The distro's instrumentations, pointed at the
 * modules loaded before it (instrumentLoadedModules.ts), report Key Vault and Service Bus calls
 * (Azure SDK spans) and Cosmos DB calls (outgoing HTTPS) as dependencies by themselves
 * (docs/telemetry.md). Everything emitted inside a SyncBridge trace (shared/core/traceContext.ts),
 * those SDK calls included, carries its trace id as operation id, so one run is one end-to-end
 * transaction. Property values under
 * secret-like names and registered secret values are masked before they leave the process; nothing
 * here throws into the caller. One per process: the distro installs global OpenTelemetry providers.
 */
export class AppInsightsTelemetry implements Telemetry {
  private readonly secretValues: SecretValueRegistry;
  private warnedSecretValuesFull = false;
  private readonly histograms = new Map<string, Histogram>();
  private readonly level: LogLevel;
  private readonly logger;
  private readonly meter;
  private readonly tracer;

  constructor(options: AppInsightsTelemetryOptions) {
    if (started) throw new Error('AppInsightsTelemetry: one per process (the distro installs global providers); shut the first down before starting another.');
    this.secretValues = new SecretValueRegistry(options);
    // An Azure SDK request is traced twice, by the SDK's HTTP span and by the http instrumentation
    // below it (azure-sdk-for-js issue 31694); the SDK's instrumenter suppresses the second when this
    // is set. An operator can still set it to false.
    process.env.AZURE_HTTP_TRACING_CHILDREN_DISABLED ??= 'true';
    useAzureMonitor({
      azureMonitorExporterOptions: {
        connectionString: options.connectionString,
        ...(options.ingestionCa ? { tlsOptions: { ca: options.ingestionCa } } : {}),
        ...(options.credential ? { credential: options.credential } : {}),
      },
      samplingRatio: options.samplingRatio ?? 1,
      // Sample by ratio, not by a per-second cap, so that a run's trace is kept or dropped whole.
      tracesPerSecond: 0,
      enableLiveMetrics: false,
      instrumentationOptions: {
        azureSdk: { enabled: true },
        // Outgoing calls only: the Functions host reports each invocation as a request, and the
        // worker serves no HTTP of its own (functions/index.ts: enableHttpStream false).
        http: { enabled: true, disableIncomingRequestInstrumentation: true },
      },
      // Targets the exporter does not derive from the SDKs' spans (a vault's host, a queue).
      spanProcessors: [azureSdkHttpHost, serviceBusDependencyTarget],
    } as Parameters<typeof useAzureMonitor>[0]);
    started = true;
    instrumentLoadedModules();
    // Calls of the Azure SDKs and HTTP made inside a SyncBridge trace are children of its span.
    useTraceScope((current, work) => otelContext.with(withSpanOf(current, otelContext.active()), work));
    // The distro turns the Azure SDKs' own logging up to "warning", which prints every expected 404
    // of a point read (a record not stored yet) to the console; their failures reach us as errors.
    setLogLevel('error');
    this.level = options.level ?? 'info';
    this.logger = logs.getLogger('syncbridge');
    this.meter = metrics.getMeter('syncbridge');
    this.tracer = trace.getTracer('syncbridge');
  }

  registerSecretValue(value: string): void {
    this.safely(() => {
      if (!this.secretValues.register(value) || this.warnedSecretValuesFull) return;
      this.warnedSecretValuesFull = true;
      this.log('warn', SECRET_VALUES_FULL_WARNING);
    });
  }

  maskSecretValues(text: string): string {
    try {
      return this.text(text);
    } catch {
      return MASK; // withheld rather than shown unmasked
    }
  }

  log(level: LogLevel, message: string, properties?: TelemetryProperties): void {
    if ((RANK[level] ?? 1) < RANK[this.level]) return;
    this.safely(() => this.logger.emit({ severityNumber: SEVERITY[level] ?? SeverityNumber.INFO, severityText: level, body: this.text(message), attributes: this.attributes(properties), context: this.traceContext() }));
  }

  event(name: string, properties?: TelemetryProperties, measurements?: Record<string, number>): void {
    this.safely(() => {
      const masked = this.text(name);
      this.logger.emit({ body: masked, attributes: { ...this.attributes(properties), ...numeric(measurements), [CUSTOM_EVENT]: masked }, context: this.traceContext() });
    });
  }

  metric(name: string, value: number, properties?: TelemetryProperties): void {
    this.safely(() => {
      if (!Number.isFinite(value)) return;
      const key = this.text(name);
      let histogram = this.histograms.get(key);
      if (!histogram) this.histograms.set(key, (histogram = this.meter.createHistogram(key)));
      histogram.record(value, this.attributes(properties));
    });
  }

  exception(error: unknown, properties?: TelemetryProperties): void {
    this.safely(() => {
      const err = error instanceof Error ? error : undefined;
      const message = this.text(err ? err.message : textOfThrown(error));
      this.logger.emit({
        severityNumber: SeverityNumber.ERROR,
        body: message,
        attributes: {
          ...this.attributes(properties),
          'exception.type': err?.name ?? 'NonError',
          'exception.message': message,
          'exception.stacktrace': this.text(err?.stack ?? message),
        },
        context: this.traceContext(),
      });
    });
  }

  dependency(dependency: DependencyTelemetry): void {
    this.safely(() => {
      const end = Date.now();
      const span = this.tracer.startSpan(
        this.text(dependency.name),
        {
          kind: SpanKind.CLIENT,
          startTime: end - Math.max(0, dependency.durationMs),
          attributes: {
            ...this.attributes(dependency.properties),
            'peer.service': this.text(dependency.target),
            'server.address': this.text(dependency.target),
            ...(dependency.type.toUpperCase() === 'HTTP' ? { 'http.request.method': this.text(dependency.name).split(' ')[0] } : { 'db.system': dependency.type }),
            ...(dependency.resultCode !== undefined ? { 'http.response.status_code': Number(dependency.resultCode) || 0 } : {}),
          },
        },
        this.traceContext(),
      );
      span.setStatus({ code: dependency.success ? SpanStatusCode.OK : SpanStatusCode.ERROR });
      span.end(end);
    });
  }

  async flush(): Promise<void> {
    try {
      await flushAzureMonitor();
    } catch {
      // never into the caller
    }
  }

  async shutdown(): Promise<void> {
    try {
      await shutdownAzureMonitor();
    } finally {
      useTraceScope(undefined);
      started = false;
    }
  }

  /** The current SyncBridge trace as an OpenTelemetry context, so envelopes get its operation id. */
  private traceContext(): Context {
    const current = currentTrace();
    return current ? withSpanOf(current, otelContext.active()) : otelContext.active();
  }

  private text(value: string): string {
    return maskText(String(value), this.secretValues);
  }

  private attributes(properties: TelemetryProperties | undefined): Record<string, string | number | boolean> {
    if (!properties) return {};
    const masked = maskProperties(properties as Record<string, unknown>, this.secretValues);
    const out: Record<string, string | number | boolean> = {};
    for (const [key, value] of Object.entries(masked)) {
      if (value === null || value === undefined) continue;
      out[key] = typeof value === 'number' || typeof value === 'boolean' ? value : this.text(String(value));
    }
    return out;
  }

  private safely(work: () => void): void {
    try {
      work();
    } catch {
      // Telemetry never throws into the product.
    }
  }
}

/** `base` with a SyncBridge span as the active (remote) parent. */
function withSpanOf(current: TraceContext, base: Context): Context {
  return trace.setSpanContext(base, { traceId: current.traceId, spanId: current.spanId, traceFlags: current.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE, isRemote: true });
}

function numeric(measurements: Record<string, number> | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(measurements ?? {})) if (Number.isFinite(value)) out[key] = value;
  return out;
}
