import { createHash } from 'node:crypto';
import { defineVerifier } from '../verifier';
import { constantTimeEqual, indexOfMatch } from '../support/constantTime';
import { decodeBase64, decodeHex } from '../support/encoding';
import { hmac } from '../support/hmac';
import { accepted, rejected } from '../support/results';
import { collectSecrets } from '../support/secrets';

const SIGNATURE_HEADER = 'X-Twilio-Signature';
const URL_PARTS = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#@]*@)?([^/?#:]+|\[[^\]]+\])(?::([0-9]+))?(.*)$/s;

/**
 * The URL strings Twilio may have signed for this request. Twilio signs the URL exactly as it was
 * configured, and its back end is inconsistent about standard ports, so twilio-node accepts the URL
 * with the port removed and with the standard port added; the WHATWG-normalised forms cover query
 * escaping differences (twilio-node's `new URL(url).toString()`). Every candidate derives from the
 * request's own URL, so this widens nothing an attacker controls.
 */
export function twilioUrlCandidates(url: string): string[] {
  const candidates = new Set<string>([url]);
  const parts = URL_PARTS.exec(url);
  if (parts) {
    const [, scheme, userInfo = '', host, port, rest] = parts;
    const standardPort = scheme.toLowerCase() === 'https' ? '443' : '80';
    candidates.add(`${scheme}://${userInfo}${host}${rest}`);
    candidates.add(`${scheme}://${userInfo}${host}:${port ?? standardPort}${rest}`);
  }
  try {
    const parsed = new URL(url);
    candidates.add(parsed.toString());
    const withoutPort = new URL(url);
    withoutPort.port = '';
    candidates.add(withoutPort.toString());
  } catch {
    // Not absolute; the verifier has already refused it.
  }
  return [...candidates];
}

/**
 * The string Twilio signs after the URL: every POST parameter name followed by its value, names in
 * sorted order; a repeated name contributes each distinct value once, values sorted (as twilio-node
 * does; the twilio-php test vector IK+Dwps556ElfBT0I3Rgjkr1wJU= pins this).
 */
export function twilioParameterString(params: URLSearchParams): string {
  const byName = new Map<string, Set<string>>();
  for (const [name, value] of params) {
    const values = byName.get(name) ?? new Set<string>();
    values.add(value);
    byName.set(name, values);
  }
  let text = '';
  for (const name of [...byName.keys()].sort()) {
    for (const value of [...byName.get(name)!].sort()) text += name + value;
  }
  return text;
}

/**
 * Twilio: `X-Twilio-Signature: <base64 HMAC-SHA1>` keyed by the Auth Token, over the full URL
 * followed by the sorted POST parameters. JSON bodies are not parameters: Twilio puts their hex
 * SHA-256 in the URL as `bodySHA256`, signs only the URL, and the body must hash to that value.
 */
export const twilioVerifier = defineVerifier({
  scheme: 'twilio',
  parseOptions: (secret: unknown) => ({ secrets: collectSecrets('twilio', secret) }),
  verify(request, options) {
    const header = request.headers.single(SIGNATURE_HEADER);
    if (!header.ok) return rejected(header.reason);
    const provided = decodeBase64(header.value, 20);
    if (!provided) return rejected(`The ${SIGNATURE_HEADER} header is malformed: expected the base64 of 20 bytes.`);
    let absolute: URL;
    try {
      absolute = new URL(request.url);
    } catch {
      return rejected(`The ${SIGNATURE_HEADER} header cannot be checked: the request URL is not absolute.`);
    }

    const bodyHashes = absolute.searchParams.getAll('bodySHA256');
    let signedParameters = '';
    if (bodyHashes.length > 1) return rejected('The bodySHA256 query parameter appears more than once.');
    if (bodyHashes.length === 1) {
      const claimed = decodeHex(bodyHashes[0], 32);
      if (!claimed) return rejected('The bodySHA256 query parameter is malformed: expected 64 hex digits.');
      if (!constantTimeEqual(createHash('sha256').update(request.body).digest(), claimed)) {
        return rejected('The body does not hash to the bodySHA256 query parameter.');
      }
    } else if (request.method === 'POST') {
      signedParameters = twilioParameterString(new URLSearchParams(request.body.toString('utf8')));
    }

    const expected: Buffer[] = [];
    for (const secret of options.secrets) {
      for (const url of twilioUrlCandidates(request.url)) expected.push(hmac('sha1', secret, url, signedParameters));
    }
    return indexOfMatch(expected, [provided]) >= 0
      ? accepted()
      : rejected(`The ${SIGNATURE_HEADER} signature does not match the URL and parameters for any active Auth Token.`);
  },
});
