/**
 * Where OAuth traffic may go in cleartext. The token endpoint receives the client secret and the
 * refresh token, the authorize URL starts the grant: over `http:` anyone on the path reads them. So
 * both must be `https:`, except on a loopback host (127.0.0.0/8, ::1, localhost), where the request
 * never leaves the machine (a local provider, the sandbox in tests).
 */
export function oauthUrlProblem(value: unknown): string | undefined {
  let url: URL;
  try {
    if (typeof value !== 'string') return 'is not a URL';
    url = new URL(value);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol === 'https:') return undefined;
  if (url.protocol !== 'http:') return 'must be an https URL';
  if (isLoopbackHost(url.hostname)) return undefined;
  return `must be an https URL: http is allowed for loopback hosts only (127.0.0.0/8, ::1, localhost), and ${url.host} is not one; over http the client secret and the tokens would travel in cleartext`;
}

/** `hostname` as URL parses it: IPv4 in dotted form (127.1 is already 127.0.0.1), IPv6 in brackets. */
function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
