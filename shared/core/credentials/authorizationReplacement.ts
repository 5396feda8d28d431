import type { Credentials } from '../../adapters/adapter';
import type { Platform } from '../../ports/platform';
import { SyncBridgeError } from '../errors';
import type { Connection } from '../model';
import type { CredentialSettings } from './credentialServiceOptions';
import type { CredentialWriter } from './credentialWriter';
import { secretNameOf } from './credentialNames';
import type { KeptLease } from './keptLease';
import type { RefreshLeases } from './refreshLeases';
import { sleep } from './sleep';

/** Stores a new authorization of a connection without racing a refresh of the old one. */
export class AuthorizationReplacement {
  constructor(
    private readonly platform: Platform,
    private readonly leases: RefreshLeases,
    private readonly writer: CredentialWriter,
    private readonly settings: Pick<CredentialSettings, 'leaseWaitMs'>,
  ) {}

  /**
   * Stores the credential of a new authorization (the connect callback, or new credentials given
   * through the admin API: authorizationInstall.ts) under the refresh lease,
   * then runs `then` (activating the connection) before letting go of it. A refresh of the old
   * authorization still under way finishes first, so its rotated token, or its `invalid_grant`
   * park, lands before the new credential instead of over it; and no refresh starts until the new
   * credential and `then` are in place. That includes a refresh whose refresh lease ran out while
   * it was still storing its result: its version's spend lease is still taken, and it is waited
   * for too. Waits as a refresh does (leaseWaitMs), then fails `transient` with nothing stored.
   */
  async replace<T>(connection: Connection, credentials: Credentials, then: () => Promise<T>): Promise<T> {
    const { leaseWaitMs } = this.settings;
    const deadline = Date.now() + leaseWaitMs;
    const giveUp = () => new SyncBridgeError('transient', `A token refresh of connection ${connection.id} has been in flight for over ${leaseWaitMs} ms; nothing was stored; try again (the connect flow, or PUT /api/connections/${connection.id}/credentials).`);
    let held = await this.leases.takeRefresh(connection.id);
    while (!held) {
      if (Date.now() > deadline) throw giveUp();
      await sleep(50);
      held = await this.leases.takeRefresh(connection.id);
    }
    try {
      const spend = await this.takeNewestVersion(connection, deadline, giveUp);
      try {
        await this.writer.store(connection, credentials);
        return await then();
      } finally {
        await spend?.release();
      }
    } finally {
      await held.release();
    }
  }

  /**
   * The spend lease of the credential's newest version (undefined when there is no credential
   * yet), waiting while a refresh that lost its refresh lease still holds it.
   */
  private async takeNewestVersion(connection: Connection, deadline: number, giveUp: () => Error): Promise<KeptLease | undefined> {
    for (;;) {
      const newest = await this.platform.secrets.get(secretNameOf(connection), { fresh: true });
      if (!newest) return undefined;
      const spend = await this.leases.takeSpend(connection.id, newest.version);
      if (spend) return spend;
      if (Date.now() > deadline) throw giveUp();
      await sleep(50);
    }
  }
}
