/** Stands for `{id}` while the record path template is turned into a URL; no real path has it. */
const ID_MARK = 'syncbridge-record-id-c1a3e';

/**
 * The record id a create's `Location` names, when that Location is exactly the URL of one record
 * under the provider's record path; else undefined.
 *
 * `recordUrl(id)` gives the URL of record `id` as the adapter would request it (its record path
 * template below the connection's base URL). The Location must have that URL's origin and a path
 * that the template's path yields for a single segment in the `{id}` place — checked by building
 * the URL again from the decoded id, so that a Location the adapter would not produce itself
 * (another entity's path, two segments, a different encoding, a dot segment) names nothing. The
 * query is ignored: it does not name the record (`?expand=none`). A template whose `{id}` is not
 * in the path names nothing either.
 */
export function recordIdFromLocation(location: string, recordUrl: (id: string) => URL): string | undefined {
  let url: URL;
  let marked: URL;
  try {
    url = new URL(location);
    marked = recordUrl(ID_MARK);
  } catch {
    return undefined;
  }
  if (url.origin !== marked.origin) return undefined;
  const parts = marked.pathname.split(ID_MARK);
  if (parts.length !== 2) return undefined;
  const [prefix, suffix] = parts;
  const path = url.pathname;
  if (path.length <= prefix.length + suffix.length || !path.startsWith(prefix) || !path.endsWith(suffix)) return undefined;
  const segment = path.slice(prefix.length, path.length - suffix.length);
  if (segment.includes('/')) return undefined;
  try {
    const id = decodeURIComponent(segment);
    return recordUrl(id).pathname === path ? id : undefined;
  } catch {
    return undefined; // a malformed escape, or an id the adapter refuses to put in a path
  }
}
