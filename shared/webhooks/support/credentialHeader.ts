import type { WebhookHeaders, HeaderLookup } from './headers';

/**
 * Reads a credential from `headerName`, requiring `authScheme` ("Bearer", "Basic") before it when
 * one is given. The scheme word is matched case-insensitively (RFC 9110 §11.1).
 */
export function readCredential(headers: WebhookHeaders, headerName: string, authScheme: string): HeaderLookup {
  const header = headers.single(headerName);
  if (!header.ok || authScheme === '') return header;
  const space = header.value.indexOf(' ');
  const given = space === -1 ? '' : header.value.slice(0, space);
  const credential = space === -1 ? '' : header.value.slice(space + 1).trim();
  if (given.toLowerCase() !== authScheme.toLowerCase() || credential.length === 0 || /\s/.test(credential)) {
    return { ok: false, reason: `The ${headerName} header is malformed: expected "${authScheme} <credentials>".` };
  }
  return { ok: true, value: credential };
}
