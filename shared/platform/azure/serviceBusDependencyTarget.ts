import { context as otelContext, createContextKey, SpanKind, type Context, type Span } from '@opentelemetry/api';

type StartedSpan = Span & { readonly kind?: SpanKind; readonly attributes?: Readonly<Record<string, unknown>> };

/** The type the exporter gives these spans by kind (its default), kept as it is. */
const TYPE_BY_KIND: Partial<Record<SpanKind, string>> = { [SpanKind.CLIENT]: 'Dependency', [SpanKind.PRODUCER]: 'Queue Message' };

const SERVICE_BUS_ENTITY = createContextKey('syncbridge.serviceBus.entity');

/**
 * Runs `work` in a context that names the queue (or topic) the Service Bus spans started inside it
 * are for. The SDK's batch does not know its queue: `ServiceBusMessageBatch.tryAddMessage` names
 * the `message` span after the connection's `EntityPath` (@azure/service-bus 7.9.5), which a
 * namespace-wide connection does not have, so its span carries no destination; the sender does.
 */
export function withServiceBusEntity<T>(entity: string, work: () => T): T {
  return otelContext.with(otelContext.active().setValue(SERVICE_BUS_ENTITY, entity), work);
}

/**
 * A span processor that gives the Service Bus spans of the Azure SDK the target Application
 * Insights shows for a dependency: `<namespace host>/<queue>`, the form Microsoft's exporters use
 * for messaging (the JavaScript exporter for Event Hubs, `parseEventHubSpan`; the .NET exporter for
 * every messaging span, `GetMessagingUrlAndSourceOrTarget`), or `<queue>` without a host.
 *
 * Why this way: @azure/monitor-opentelemetry-exporter 1.0.0-beta.42 (`createDependencyData`) sets a
 * target only on HTTP, database and RPC spans (and Event Hubs ones), so a Service Bus span arrives
 * with none whatever attribute it carries, and the distro has no hook on the envelope
 * (`addTelemetryProcessor` is a no-op in applicationinsights 3.x). The database rule is the one
 * that changes nothing else: its type is `db.system` verbatim, so writing the type the exporter
 * would have given (`Dependency`, `Queue Message`) keeps the type, and its target is `peer.service`
 * first. Both attributes stay out of the envelope's properties, and nothing else reads them: this
 * processor sits only in the Azure Monitor pipeline (AppInsightsTelemetry), and the distro's
 * dependency metric takes `peer.service` as its target too, so the metric and the dependency name
 * the same queue. Our own `dependency()` reaches a target the same way. Set aside: patching the
 * exporter; its Event Hubs rule (keyed on `az.namespace`, it would rename the type too); reporting
 * sends as our own dependencies instead (the consumer's `Diagnostic-Id` points at the SDK's span).
 *
 * Applied at start, when the SDK's attributes are there (`toSpanOptions` in @azure/service-bus:
 * `messaging.system`, `messaging.destination.name` or, for a receive, `messaging.source.name`,
 * `net.peer.name`; newer conventions say `server.address`); the queue comes from the span, else
 * from `withServiceBusEntity`. Only client and producer spans: a consumer span is a request, whose
 * source the exporter does not read from attributes either. Remove this once the exporter derives
 * messaging targets itself.
 */
export const serviceBusDependencyTarget = {
  onStart(span: StartedSpan, parentContext: Context): void {
    const attributes = span.attributes ?? {};
    const type = span.kind === undefined ? undefined : TYPE_BY_KIND[span.kind];
    if (attributes['messaging.system'] !== 'servicebus' || type === undefined) return;
    // A span the exporter already gives a target (an HTTP call of the administration client) keeps it.
    if (['db.system', 'rpc.system', 'http.method', 'http.request.method', 'peer.service'].some((key) => attributes[key] !== undefined)) return;
    const entity = text(attributes['messaging.destination.name']) ?? text(attributes['messaging.source.name']) ?? text(parentContext.getValue(SERVICE_BUS_ENTITY));
    if (entity === undefined) return;
    const host = text(attributes['server.address']) ?? text(attributes['net.peer.name']);
    span.setAttributes({ 'peer.service': host === undefined ? entity : `${host.replace(/\/$/, '')}/${entity}`, 'db.system': type });
  },
  onEnd(): void {},
  async forceFlush(): Promise<void> {},
  async shutdown(): Promise<void> {},
};

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}
