import { RunningSandbox, SandboxOptions, startSandbox } from '../../sandbox/server';

/** A record or tombstone as the listing serves it; tests only rely on these fields. */
export interface ListedItem {
  id: string;
  updated_at: string;
  deleted?: true;
  [field: string]: unknown;
}

export interface ListingPage {
  data: ListedItem[];
  next_cursor: string | null;
  total: number;
}

/**
 * Starts a real sandbox on a free loopback port. The rate limit is raised unless a test sets
 * one, because paging a few thousand records at limit 7 is not what those tests are about.
 */
export function startTestSandbox(options: SandboxOptions = {}): Promise<RunningSandbox> {
  return startSandbox({ port: 0, recordsPerEntity: 300, rateLimit: { requests: 1_000_000, windowSeconds: 1 }, ...options });
}

export function providerGet(sandbox: RunningSandbox, path: string, apiKey: string | null = sandbox.apiKey): Promise<Response> {
  return fetch(`${sandbox.url}${path}`, { headers: apiKey === null ? {} : { 'X-Api-Key': apiKey } });
}

export async function providerJson<T = unknown>(sandbox: RunningSandbox, path: string): Promise<T> {
  const response = await providerGet(sandbox, path);
  if (response.status !== 200) throw new Error(`GET ${path} answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as T;
}

export async function control<T = unknown>(sandbox: RunningSandbox, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${sandbox.url}/_sandbox/${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status >= 300) throw new Error(`${method} /_sandbox/${path} answered ${response.status}: ${await response.text()}`);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

/** Follows next_cursor until the end; `onPage` runs between pages (to mutate mid-scan). */
export async function listAll(
  sandbox: RunningSandbox,
  entity: string,
  params: Record<string, string> = {},
  onPage?: (page: ListingPage, pageNumber: number) => Promise<void>,
): Promise<{ items: ListedItem[]; pages: ListingPage[] }> {
  const items: ListedItem[] = [];
  const pages: ListingPage[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ ...params, ...(cursor ? { cursor } : {}) });
    const page: ListingPage = await providerJson<ListingPage>(sandbox, `/v1/${entity}?${query}`);
    pages.push(page);
    items.push(...page.data);
    cursor = page.next_cursor;
    if (onPage) await onPage(page, pages.length);
  } while (cursor);
  return { items, pages };
}

export function sortKey(item: ListedItem): string {
  return `${item.updated_at}|${item.id}`;
}
