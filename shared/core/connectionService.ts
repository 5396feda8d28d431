import type { Credentials } from '../adapters/adapter';
import type { AdapterRegistry } from '../adapters/registry';
import type { Platform } from '../ports/platform';
import { readOAuthProviderConfig } from './credentials/oauthProviderConfig';
import { oauthUrlProblem } from './credentials/oauthUrl';
import { awaitsReauthorization } from './credentials/reauthorizationParking';
import { assertEntityNameList } from './entityNames';
import { isSyncBridgeError, SyncBridgeError } from './errors';
import type { Connection, ConnectionEntity, ConnectionSchedule, JsonObject } from './model';
import { DEFAULT_SCHEDULE, validateSchedule } from './schedule';
import { assertMergePolicy, CustomMergeRules } from './merge';
import { releaseHeld, scheduleHeldSweep } from './webhookIntake/heldDeliveries';
import { releaseHeldPushesSoon } from './outbound/connectionHold';
import type { ConnectionRuns, ConnectionRunsPaused } from './runs/connectionRuns';

export interface CreateConnectionRequest {
  tenantId: string;
  id: string;
  provider: string;
  displayName?: string;
  config: JsonObject;
  credentials?: Credentials;
  /** Entity names (direction pull) or full entries; default every entity the provider has. */
  entities?: Array<string | ConnectionEntity>;
  schedule?: Partial<ConnectionSchedule>;
}

const CONNECTION_ID = /^[a-z0-9][a-z0-9-_]{0,62}$/;

/** Held while a connection is created: far above a secret write and a document create. */
const CREATE_LEASE_TTL_MS = 60_000;

/** What an API caller may see of a connection: everything but secrets' names. */
export type ConnectionView = Omit<Connection, 'credentialRef' | 'version'> & { hasCredentials: boolean };

export function toConnectionView(connection: Connection): ConnectionView {
  const { credentialRef, version: _version, ...rest } = connection;
  return { ...rest, hasCredentials: credentialRef !== undefined };
}

/** Creating connections: validation, credential storage, defaults. */
export class ConnectionService {
  constructor(
    private readonly platform: Platform,
    private readonly adapters: AdapterRegistry,
    /** What a pause and a resume do to the connection's open runs (composition.ts builds it on the engine). */
    private readonly runs: ConnectionRuns,
    private readonly customRules: CustomMergeRules = new CustomMergeRules(),
  ) {}

  async create(request: CreateConnectionRequest): Promise<Connection> {
    if (!CONNECTION_ID.test(request.id)) {
      throw new SyncBridgeError('validation', 'id must be 1-63 characters of lowercase letters, digits, "-" and "_", starting with a letter or digit.');
    }
    const definition = this.adapters.get(request.provider);
    const config = definition.validateConfig(request.config ?? {});
    if (request.entities) assertEntityNameList(request.entities.map((entry) => (typeof entry === 'string' ? entry : entry.name)));
    const entities = (request.entities ?? [...definition.entities]).map((entry): ConnectionEntity => {
      const entity = typeof entry === 'string' ? { name: entry, direction: 'pull' as const } : entry;
      if (!definition.entities.includes(entity.name)) {
        throw new SyncBridgeError('validation', `entities: "${entity.name}" is not an entity of ${definition.provider} (${definition.entities.join(', ')}).`);
      }
      return entity;
    });
    if (entities.length === 0) throw new SyncBridgeError('validation', 'entities must name at least one entity.');
    checkMergePolicies(config.mergePolicy, entities.map((e) => e.name), this.customRules);
    checkOAuthSettings(request.id, config, request.credentials);
    if (definition.webhookOnly && request.schedule?.enabled === true) {
      throw new SyncBridgeError('validation', `schedule.enabled: ${definition.provider} connections receive their records by webhook only and cannot be scheduled.`);
    }
    const schedule = validateSchedule({ ...DEFAULT_SCHEDULE, ...(definition.webhookOnly ? { enabled: false } : {}), ...request.schedule });
    // The credential is written before the connection exists (a connection never points at a
    // missing secret), so two creates of one id must not both get that far: the loser's secret
    // would become the newest version of the winner's credential, maybe another tenant's.
    const lease = await this.platform.leases.acquire(`connection-create:${request.id}`, 'connection-service', CREATE_LEASE_TTL_MS);
    if (!lease) throw new SyncBridgeError('conflict', `A connection with id "${request.id}" is being created right now.`);
    try {
      return await this.createHoldingLease(request, { config, entities, schedule, provider: definition.provider });
    } finally {
      await this.platform.leases.release(lease);
    }
  }

  private async createHoldingLease(
    request: CreateConnectionRequest,
    checked: Pick<Connection, 'config' | 'entities' | 'schedule' | 'provider'>,
  ): Promise<Connection> {
    if (await this.platform.connections.get(request.id)) {
      throw new SyncBridgeError('conflict', `A connection with id "${request.id}" exists already.`);
    }
    let credentialRef: string | undefined;
    if (request.credentials && request.credentials.type !== 'none') {
      credentialRef = `connection-${request.id}-credentials`;
      await this.platform.secrets.set(credentialRef, JSON.stringify(request.credentials), {
        contentType: 'application/json',
        tags: { tenantId: request.tenantId, connectionId: request.id, type: request.credentials.type },
      });
    }
    const now = this.platform.clock.now().toISOString();
    const connection: Connection = {
      ...checked,
      id: request.id,
      tenantId: request.tenantId,
      displayName: request.displayName,
      credentialRef,
      status: 'active',
      syncState: {},
      createdAt: now,
      updatedAt: now,
      version: 0,
    };
    return this.platform.connections.create(connection);
  }

  /**
   * Pauses an active connection (a paused one stays paused): its pushes are held
   * (outbound/connectionHold.ts) and its webhook events are acknowledged, logged and held
   * (webhookIntake/heldDeliveries.ts) until it is resumed, and its open run is paused (running) or
   * kept from starting (queued), unless its closing step has claimed it: that one finishes as it
   * is, and `runs.finishing` says so (connectionRuns.ts). The runs are visited after the status
   * is stored, also when the connection was paused already, so pausing again completes a pause
   * whose visit failed part-way.
   */
  async pause(tenantId: string, id: string): Promise<{ connection: Connection; runs: ConnectionRunsPaused }> {
    const connection = await this.changeStatus(tenantId, id, (current) => {
      if (current.status === 'paused') return undefined;
      if (current.status !== 'active') throw new SyncBridgeError('conflict', `Connection ${id} is ${current.status}; only an active connection can be paused.`);
      return 'paused';
    });
    return { connection, runs: await this.runs.pause(connection.id) };
  }

  /**
   * Resumes a paused connection, sends its held pushes now (connectionHold.ts) and enqueues its
   * held webhook deliveries again, in receipt order. Before that release it schedules a second
   * one a little later (scheduleHeldSweep): a delivery the worker was holding while this listed
   * the held ones may be missed by both sides when reads are stale (heldDeliveries.ts, sweepHeld).
   * Resuming an active connection only releases deliveries still held (a resume whose release the
   * queue refused part-way, `transient`: resume again). Last, it resumes the runs its pause paused
   * and releases the queued run it held (`resumedRuns`); a run an operator paused stays paused.
   * A connection whose authorization the provider refused while it was paused
   * (`reauthorizationRequiredSince`) resumes as `reauthorization_required`, as if it had not been
   * paused: its deliveries are released, but its pushes stay held and its runs paused, since they
   * would only meet the refusal; once it is reconnected, its pushes go out, and resuming it again
   * resumes its runs (docs/oauth.md §4).
   */
  async resume(tenantId: string, id: string): Promise<{ connection: Connection; releasedDeliveries: number; releasedPushes: number; resumedRuns: string[] }> {
    const connection = await this.changeStatus(tenantId, id, (current) => {
      if (current.status === 'active') return undefined;
      if (current.status !== 'paused') throw new SyncBridgeError('conflict', `Connection ${id} is ${current.status}; only a paused connection can be resumed.`);
      // Its authorization was refused while it was paused: it is parked as it would have been unpaused.
      return awaitsReauthorization(current) ? 'reauthorization_required' : 'active';
    });
    const active = connection.status === 'active';
    const releasedPushes = active ? await releaseHeldPushesSoon(this.platform, connection.id) : 0;
    try {
      await scheduleHeldSweep(this.platform, connection.id);
    } catch (error) {
      this.platform.telemetry.exception(error, { connectionId: connection.id, stage: 'held-sweep' });
      throw new SyncBridgeError('transient', `Connection ${id} is resumed, but the queue did not accept the release of its held deliveries: they are still held. Resume the connection again to release them.`, { forCaller: true });
    }
    const releasedDeliveries = await releaseHeld(this.platform, connection);
    return { connection, releasedDeliveries, releasedPushes, resumedRuns: active ? await this.runs.resume(connection.id) : [] };
  }

  /**
   * Moves the connection to the status `next` names (undefined: leave it as it is), reading it
   * again when another write got in between (the scheduler notes its occurrences on the same
   * document), so that an operator's pause or resume does not fail on a race it cannot see.
   */
  private async changeStatus(tenantId: string, id: string, next: (connection: Connection) => Connection['status'] | undefined): Promise<Connection> {
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const connection = await this.getForTenant(tenantId, id);
      const status = next(connection);
      if (status === undefined) return connection;
      try {
        return await this.platform.connections.update({ ...connection, status, updatedAt: this.platform.clock.now().toISOString() });
      } catch (error) {
        if (!isSyncBridgeError(error, 'conflict')) throw error;
      }
    }
    throw new SyncBridgeError('conflict', `Connection ${id} kept changing while its status was being set; try again.`);
  }

  /** A connection as its tenant sees it; another tenant's connection does not exist (404). */
  async getForTenant(tenantId: string, id: string): Promise<Connection> {
    const connection = await this.platform.connections.get(id);
    if (!connection || connection.tenantId !== tenantId) throw new SyncBridgeError('not_found', `Connection ${id} does not exist.`);
    return connection;
  }
}

/**
 * The OAuth settings are checked at save as at use (a 400 instead of a failed connect or refresh
 * later), above all that the token and authorize URLs are https outside loopback.
 */
function checkOAuthSettings(id: string, config: JsonObject, credentials: Credentials | undefined): void {
  if (config.oauth !== undefined) readOAuthProviderConfig({ id, config });
  if (credentials?.type === 'oauth2') {
    const problem = oauthUrlProblem(credentials.tokenUrl);
    if (problem) throw new SyncBridgeError('validation', `credentials.tokenUrl ${problem}.`);
  }
}

/**
 * `config.mergePolicy`: entity name → merge policy (two-way sync). Checked at save, so that a typo
 * or an unregistered custom rule is a 400 now rather than a failed merge later.
 */
function checkMergePolicies(value: unknown, entities: readonly string[], rules: CustomMergeRules): void {
  if (value === undefined) return;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SyncBridgeError('validation', 'config.mergePolicy must be an object of entity name to merge policy.');
  }
  for (const [entity, policy] of Object.entries(value)) {
    if (!entities.includes(entity)) throw new SyncBridgeError('validation', `config.mergePolicy.${entity}: the connection has no entity "${entity}".`);
    assertMergePolicy(policy, rules, `config.mergePolicy.${entity}`);
  }
}
