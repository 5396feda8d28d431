import type { AddressInfo, Server } from 'node:net';
import rheaModule from 'rhea';

/**
 * A small AMQP 1.0 endpoint on loopback that the real @azure/service-bus SDK can send to, with a
 * `UseDevelopmentEmulator=true` connection string (plain AMQP, SASL ANONYMOUS). It answers the
 * claims-based-security exchange (`put-token` on `$cbs`, 202), accepts sender links to the named
 * queues, and records every transfer with what reached the wire: message id, group id (the
 * session), message annotations (the scheduled enqueue time), application properties and body.
 *
 * It is not Service Bus: no locks, no sessions on the receive side, no management operations.
 * `deliverable` applies what the queue port promises a receiver (duplicate detection by message
 * id over a 10-minute window, scheduled messages hidden until their time) to what was recorded.
 */
// rhea's CommonJS export is a default container with create_container on it.
const rhea = ((rheaModule as unknown as { create_container?: unknown }).create_container ? rheaModule : (rheaModule as unknown as { default: typeof rheaModule }).default) as typeof rheaModule;

export interface WireMessage {
  queue: string;
  messageId: string | undefined;
  sessionId: string | undefined;
  contentType: string | undefined;
  scheduledEnqueueTime: Date | undefined;
  applicationProperties: Record<string, unknown>;
  body: unknown;
  arrivedAt: Date;
}

export interface CbsRequest {
  operation: string;
  name: string;
  type: string;
  token: string;
}

export interface AmqpTestBroker {
  /** `Endpoint=sb://127.0.0.1:<port>;…;UseDevelopmentEmulator=true` */
  connectionString: string;
  readonly messages: WireMessage[];
  readonly cbsRequests: CbsRequest[];
  /** Transfers accepted to a queue: a batch is one. */
  readonly transfers: number;
  /** What a receiver could take from the queue now: deduplicated, due, in arrival order. */
  deliverable(queue: string, now?: Date): WireMessage[];
  /** The next `count` transfers to `queue` are rejected with this AMQP error condition. */
  rejectNext(queue: string, count: number, condition: string, description: string): void;
  close(): Promise<void>;
}

const DUPLICATE_WINDOW_MS = 10 * 60_000;
/** The largest message (or batch) a Service Bus standard-tier queue takes: 256 KB. */
export const MAX_MESSAGE_SIZE_BYTES = 256 * 1024;

type AnyContext = { [key: string]: any };

export async function startAmqpTestBroker(options: { queues?: readonly string[] } = {}): Promise<AmqpTestBroker> {
  const queues = new Set(options.queues ?? ['sync-inbound', 'sync-outbound']);
  const container = rhea.create_container({ id: 'syncbridge-test-broker' });
  container.sasl_server_mechanisms.enable_anonymous();
  const messages: WireMessage[] = [];
  const cbsRequests: CbsRequest[] = [];
  let transfers = 0;
  const rejections = new Map<string, { count: number; condition: string; description: string }>();

  container.on('sender_open', (context: AnyContext) => {
    // The client's receiving end (e.g. the CBS reply link): mirror its terminus.
    context.sender.set_source(context.sender.remote.attach?.source);
    context.sender.set_target(context.sender.remote.attach?.target);
  });
  container.on('receiver_open', (context: AnyContext) => {
    const address: string | undefined = context.receiver.remote.attach?.target?.address;
    context.receiver.set_target(context.receiver.remote.attach?.target);
    context.receiver.set_source(context.receiver.remote.attach?.source);
    // As Service Bus (standard tier) does: the SDK sizes its message batches by this.
    context.receiver.local.attach.max_message_size = MAX_MESSAGE_SIZE_BYTES;
    if (address !== '$cbs' && (address === undefined || !queues.has(address))) {
      context.receiver.close({ condition: 'amqp:not-found', description: `The messaging entity '${address}' could not be found.` });
    }
  });
  container.on('message', (context: AnyContext) => {
    const address: string = context.receiver.target?.address ?? context.receiver.remote.attach?.target?.address;
    const message = context.message;
    if (address === '$cbs') {
      const props = message.application_properties ?? {};
      cbsRequests.push({ operation: props.operation, name: props.name, type: props.type, token: String(message.body ?? '') });
      const reply = findCbsReplySender(context.connection);
      reply?.send({ correlation_id: message.message_id, to: message.reply_to, application_properties: { 'status-code': 202, 'status-description': 'Accepted' }, body: '' });
      context.delivery.accept();
      return;
    }
    const rejection = rejections.get(address);
    if (rejection && rejection.count > 0) {
      rejection.count -= 1;
      context.delivery.reject({ condition: rejection.condition, description: rejection.description });
      return;
    }
    transfers += 1;
    for (const one of unbatch(context.delivery.format, message)) {
      messages.push({
        queue: address,
        messageId: one.message_id === undefined ? undefined : String(one.message_id),
        sessionId: one.group_id,
        contentType: one.content_type,
        scheduledEnqueueTime: toDate(one.message_annotations?.['x-opt-scheduled-enqueue-time']),
        applicationProperties: { ...(one.application_properties ?? {}) },
        body: decodeBody(one.body),
        arrivedAt: new Date(),
      });
    }
    context.delivery.accept();
  });

  const server = container.listen({ port: 0, host: '127.0.0.1' }) as Server;
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  const connections = new Set<AnyContext>();
  container.on('connection_open', (context: AnyContext) => connections.add(context.connection));

  return {
    connectionString: `Endpoint=sb://127.0.0.1:${port};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=test-key;UseDevelopmentEmulator=true`,
    messages,
    cbsRequests,
    get transfers() {
      return transfers;
    },
    deliverable(queue, now = new Date()) {
      const seen = new Map<string, Date>();
      const out: WireMessage[] = [];
      for (const m of messages) {
        if (m.queue !== queue) continue;
        const id = m.messageId ?? '';
        const first = seen.get(id);
        if (first && m.arrivedAt.getTime() - first.getTime() < DUPLICATE_WINDOW_MS) continue; // a duplicate: dropped
        seen.set(id, m.arrivedAt);
        if (m.scheduledEnqueueTime && m.scheduledEnqueueTime > now) continue;
        out.push(m);
      }
      return out;
    },
    rejectNext(queue, count, condition, description) {
      rejections.set(queue, { count, condition, description });
    },
    async close() {
      for (const connection of connections) connection.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  function findCbsReplySender(connection: AnyContext): AnyContext | undefined {
    let found: AnyContext | undefined;
    connection.each_link?.((link: AnyContext) => {
      if (link.is_sender() && link.remote?.attach?.source?.address === '$cbs') found = link;
    });
    return found;
  }
}

/** Service Bus's batched message format: the body's data sections each hold an encoded message. */
const BATCH_FORMAT = 0x80013700;

function unbatch(format: number | undefined, message: AnyContext): AnyContext[] {
  if (format !== BATCH_FORMAT) return [message];
  const envelope = (rhea as unknown as { message: { decode(buffer: Buffer): AnyContext } }).message.decode(message as unknown as Buffer);
  const section = envelope.body as { multiple?: boolean; content: Buffer | Buffer[] };
  const parts = section.multiple ? (section.content as Buffer[]) : [section.content as Buffer];
  return parts.map((part) => (rhea as unknown as { message: { decode(buffer: Buffer): AnyContext } }).message.decode(part));
}

function toDate(value: unknown): Date | undefined {
  if (value instanceof Date) return value;
  if (typeof value === 'number') return new Date(value);
  return undefined;
}

/** The SDK sends a JSON body as a data section (binary); other senders may use amqp-value. */
function decodeBody(body: unknown): unknown {
  const section = body as { typecode?: number; content?: unknown } | undefined;
  const bytes = section && section.typecode === 0x75 ? section.content : Buffer.isBuffer(body) ? body : undefined;
  if (Buffer.isBuffer(bytes)) {
    const text = bytes.toString('utf8');
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return body;
}
