import type { Clock } from './clock';
import type { ConflictStore } from './conflictStore';
import type { ConnectionStore } from './connectionStore';
import type { DeliveryIntake } from './deliveryIntake';
import type { DeliveryStore } from './deliveryStore';
import type { IdempotencyStore } from './idempotencyStore';
import type { LeaseStore } from './leaseStore';
import type { OutboxStore } from './outboxStore';
import type { QueueSender } from './queue';
import type { RecordStore } from './recordStore';
import type { RunStore } from './runStore';
import type { SecretStore } from './secretStore';
import type { Telemetry } from './telemetry';
import type { TenantStore } from './tenantStore';

/**
 * One dependency's health. `unchecked`: the platform has no cheap way to check it. `detail` is for
 * telemetry only and is never answered to callers of /api/health (it may name a database or quote
 * a service's error).
 */
export interface DependencyCheck {
  state: 'ok' | 'failing' | 'unchecked';
  detail?: string;
}

/** Everything the product needs from the outside world, built by one factory per platform. */
export interface Platform {
  readonly name: 'local' | 'azure';
  readonly records: RecordStore;
  readonly outbox: OutboxStore;
  readonly conflicts: ConflictStore;
  readonly runs: RunStore;
  readonly connections: ConnectionStore;
  readonly tenants: TenantStore;
  readonly queue: QueueSender;
  readonly secrets: SecretStore;
  readonly leases: LeaseStore;
  readonly idempotency: IdempotencyStore;
  readonly deliveries: DeliveryStore;
  readonly telemetry: Telemetry;
  readonly clock: Clock;
  /**
   * Where the webhook receiver hands verified deliveries, when the platform has its own way
   * (the local platform's journal, journalIntake.ts). Unset: the group commit on the platform's
   * idempotency store, delivery log and queue (IntakeGroupCommit).
   */
  readonly webhookIntake?: DeliveryIntake;
  /** Checks each dependency (`database` and `queue`); used by /api/health. */
  checkHealth(): Promise<Record<string, DependencyCheck>>;
  close(): Promise<void>;
}
