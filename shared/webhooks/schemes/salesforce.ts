import { defineVerifier } from '../verifier';
import { constantTimeEqualSecret, indexOfMatch } from '../support/constantTime';
import { decodeBase64, isPlainObject, parseJson } from '../support/encoding';
import { hmacPerSecret } from '../support/hmac';
import { accepted, emptyHandshake, handshakeResult, rejected } from '../support/results';
import { collectSecrets, configurationError, optionalStringList, optionsObject } from '../support/secrets';

const ENS_SIGNATURE_HEADER = 'x-sfmc-ens-signature';
const ORGANIZATION_ID = /<(?:[A-Za-z0-9_]+:)?OrganizationId>\s*([A-Za-z0-9]{15}|[A-Za-z0-9]{18})\s*<\/(?:[A-Za-z0-9_]+:)?OrganizationId>/g;
const ID = /^(?:[A-Za-z0-9]{15}|[A-Za-z0-9]{18})$/;

interface SalesforceOptions {
  signatureKeys: Buffer[];
  organizationIds: string[];
}

/**
 * Salesforce, two unrelated mechanisms:
 * - Marketing Cloud Event Notification Service signs each notification:
 *   `x-sfmc-ens-signature: <base64 HMAC-SHA256 of the raw body>` keyed by the callback's signature
 *   key. Its callback-verification POST (`{"callbackId", "verificationKey"}`) is unsigned and is
 *   answered 200 as a handshake; the key is then confirmed through the ENS verify API.
 * - Platform Outbound Messages are unsigned SOAP; the only check available in the request is that
 *   its `<OrganizationId>` is one of ours (pair it with TLS and an IP allow-list in production).
 */
export const salesforceVerifier = defineVerifier({
  scheme: 'salesforce',
  parseOptions(secret: unknown): SalesforceOptions {
    const options = optionsObject(secret);
    const keys = [
      ...collectSecrets('salesforce', secret, { allowEmpty: true }),
      ...(optionalStringList('salesforce', options, 'signatureKeys') ?? []),
    ];
    const encoding = options.signatureKeyEncoding ?? 'utf8';
    if (encoding !== 'utf8' && encoding !== 'base64') throw configurationError('salesforce', 'signatureKeyEncoding', 'must be "utf8" or "base64"');
    const signatureKeys = keys.map((key) => {
      const bytes = encoding === 'base64' ? decodeBase64(key) : Buffer.from(key, 'utf8');
      if (!bytes) throw configurationError('salesforce', 'signatureKeys', 'holds a key that is not base64');
      return bytes;
    });
    const organizationIds = optionalStringList('salesforce', options, 'organizationIds') ?? [];
    if (!organizationIds.every((id) => ID.test(id))) {
      throw configurationError('salesforce', 'organizationIds', 'must hold 15- or 18-character Salesforce ids');
    }
    if (signatureKeys.length === 0 && organizationIds.length === 0) {
      throw configurationError('salesforce', 'secret', 'must hold an ENS signature key or organizationIds for Outbound Messages');
    }
    return { signatureKeys, organizationIds };
  },
  verify(request, options) {
    if (request.headers.has(ENS_SIGNATURE_HEADER)) {
      const header = request.headers.single(ENS_SIGNATURE_HEADER);
      if (!header.ok) return rejected(header.reason);
      const provided = decodeBase64(header.value, 32);
      if (!provided) return rejected(`The ${ENS_SIGNATURE_HEADER} header is malformed: expected the base64 of 32 bytes.`);
      if (options.signatureKeys.length === 0) return rejected(`The ${ENS_SIGNATURE_HEADER} header cannot be checked: no ENS signature key is configured.`);
      return indexOfMatch(hmacPerSecret('sha256', options.signatureKeys, request.body), [provided]) >= 0
        ? accepted()
        : rejected(`The ${ENS_SIGNATURE_HEADER} signature does not match the body for any active signature key.`);
    }
    if (isEnsCallbackVerification(request.body)) {
      return handshakeResult(
        false,
        emptyHandshake(),
        'This is the unsigned ENS callback-verification request; record its verificationKey and enqueue nothing.',
      );
    }
    if (options.organizationIds.length === 0) return rejected(`The ${ENS_SIGNATURE_HEADER} header is missing.`);
    return verifyOutboundMessage(request.body.toString('utf8'), options.organizationIds);
  },
});

function verifyOutboundMessage(xml: string, organizationIds: readonly string[]) {
  const found = [...xml.matchAll(ORGANIZATION_ID)].map((match) => match[1]);
  if (found.length === 0) return rejected('The Outbound Message has no OrganizationId element.');
  if (found.length > 1) return rejected('The Outbound Message has more than one OrganizationId element.');
  // 18-character ids extend the case-sensitive 15-character id with a checksum; compare on 15.
  const given = found[0].slice(0, 15);
  let matched = false;
  for (const id of organizationIds) matched = constantTimeEqualSecret(given, id.slice(0, 15)) || matched;
  return matched ? accepted() : rejected('The Outbound Message comes from an organization that is not configured.');
}

function isEnsCallbackVerification(body: Buffer): boolean {
  if (body[0] !== 0x7b /* { */) return false;
  const parsed = parseJson(body.toString('utf8'));
  return (
    isPlainObject(parsed) &&
    Object.keys(parsed).length === 2 &&
    typeof parsed.callbackId === 'string' &&
    typeof parsed.verificationKey === 'string'
  );
}
