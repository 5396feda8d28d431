import type { RequestAuthorizer } from '../../adapters/adapter';
import type { CredentialService, LoadedOAuth2 } from './credentialService';

/**
 * Bearer auth for one connection's OAuth 2 credential. Keeps the credential it last saw in memory
 * (a secret-store read per request would be a Key Vault call per request on Azure) and goes
 * through the service's single-flight refresh when the token is about to expire or was refused.
 */
export class OAuth2Authorizer implements RequestAuthorizer {
  constructor(
    private readonly service: CredentialService,
    private readonly connectionId: string,
    private current: LoadedOAuth2,
  ) {}

  async headers(): Promise<Record<string, string>> {
    const margin = this.service.marginFor(this.current);
    if (!this.service.satisfies(this.current, { minValidityMs: margin })) {
      this.current = await this.service.ensureFresh(this.connectionId, { minValidityMs: margin });
    }
    return { authorization: `Bearer ${this.current.credentials.accessToken}` };
  }

  /** After a 401: any token other than the refused one will do (another caller may have one already). */
  async refreshAfterUnauthorized(): Promise<boolean> {
    this.current = await this.service.ensureFresh(this.connectionId, { staleAccessToken: this.current.credentials.accessToken });
    return true;
  }
}
