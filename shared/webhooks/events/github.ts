import { idOf, isObject, isoOrNull, parseJson, type ParsedEvent, type ProviderEventInput } from './types';

/**
 * GitHub (https://docs.github.com/webhooks/webhook-events-and-payloads): `X-GitHub-Event` names the
 * event; `issues` carries `issue`, `pull_request` carries `pull_request`, each the full object with
 * `id` and `updated_at`. `issues` with action `deleted` removes the issue; pull requests are never
 * deleted (closed is a state). Everything else (push, star, ping…) is not a record here.
 */
export function parseGitHubEvent({ headers, body }: ProviderEventInput): ParsedEvent {
  const event = headers.get('x-github-event');
  const payload = parseJson(body);
  if (!isObject(payload)) return { ignored: 'The body is not a JSON object.' };
  if (event === 'issues' && isObject(payload.issue)) {
    const id = idOf(payload.issue.id);
    if (!id) return { ignored: 'The issue has no id.' };
    const updatedAt = isoOrNull(payload.issue.updated_at);
    return { changes: [payload.action === 'deleted' ? { entity: 'issues', externalId: id, kind: 'delete', updatedAt } : { entity: 'issues', externalId: id, kind: 'upsert', data: payload.issue, updatedAt }] };
  }
  if (event === 'pull_request' && isObject(payload.pull_request)) {
    const id = idOf(payload.pull_request.id);
    if (!id) return { ignored: 'The pull request has no id.' };
    return { changes: [{ entity: 'pull_requests', externalId: id, kind: 'upsert', data: payload.pull_request, updatedAt: isoOrNull(payload.pull_request.updated_at) }] };
  }
  return { ignored: `GitHub event "${event ?? '(none)'}" does not change issues or pull requests.` };
}
