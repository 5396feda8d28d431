import { compareRoutePrecedence, matchRouteSegments, matchRouteTemplate, parseRouteTemplate, routePathSegments } from '../../shared/http/routeTemplate';

function match(template: string, path: string) {
  return matchRouteTemplate(parseRouteTemplate(template), path);
}

describe('route templates', () => {
  it('matches literal segments case-insensitively and ignores a trailing slash', () => {
    expect(match('admin/runs', 'Admin/RUNS/')).toEqual({});
    expect(match('admin/runs', 'admin/run')).toBeUndefined();
    expect(match('admin/runs', 'admin/runs/extra')).toBeUndefined();
  });

  it('captures and URL-decodes parameters', () => {
    expect(match('webhooks/{provider}/{connectionId}', 'webhooks/acme/conn%201')).toEqual({ provider: 'acme', connectionId: 'conn 1' });
    expect(match('webhooks/{provider}/{connectionId}', 'webhooks/acme')).toBeUndefined();
    expect(match('webhooks/{provider}/{connectionId}', 'webhooks/acme/conn%E0%A4%A')).toBeUndefined(); // a malformed escape matches nothing
  });

  it('splits a path into decoded segments once, for matching against many routes', () => {
    expect(routePathSegments('/webhooks/acme/conn%201/')).toEqual(['webhooks', 'acme', 'conn 1']);
    expect(routePathSegments('docs/a%2Fb')).toEqual(['docs', 'a/b']); // decoded after the split: one segment
    expect(routePathSegments('webhooks/%E0%A4%A')).toBeUndefined();
    expect(matchRouteSegments(parseRouteTemplate('Webhooks/{provider}'), ['WEBHOOKS', 'acme'])).toEqual({ provider: 'acme' });
  });

  it('treats an optional parameter as present or absent, and fills a default', () => {
    expect(match('runs/{id?}', 'runs')).toEqual({});
    expect(match('runs/{id?}', 'runs/r1')).toEqual({ id: 'r1' });
    expect(match('records/{page=1}', 'records')).toEqual({ page: '1' });
    expect(match('records/{page=1}', 'records/4')).toEqual({ page: '4' });
  });

  it('lets a catch-all take the rest of the path, slashes included, or nothing', () => {
    expect(match('dashboard/{*path}', 'dashboard/assets/app.js')).toEqual({ path: 'assets/app.js' });
    expect(match('dashboard/{**path}', 'dashboard')).toEqual({});
  });

  it('parses constraints and enforces the common ones', () => {
    expect(match('runs/{id:int}', 'runs/42')).toEqual({ id: '42' });
    expect(match('runs/{id:int}', 'runs/abc')).toBeUndefined();
    expect(match('items/{id:minlength(3):maxlength(5)}', 'items/ab')).toBeUndefined();
    expect(match('items/{code:regex(^[a-z]{{2}}\\d+$)}', 'items/ab12')).toBeDefined();
    expect(match('items/{id:someCustomConstraint}', 'items/anything')).toEqual({ id: 'anything' });
  });

  it('matches complex segments', () => {
    expect(match('files/{name}.{ext}', 'files/report.final.pdf')).toEqual({ name: 'report.final', ext: 'pdf' });
  });

  it('refuses malformed templates, naming them', () => {
    expect(() => parseRouteTemplate('a/{*rest}/b')).toThrow(/catch-all.*last segment/);
    expect(() => parseRouteTemplate('a/{bad name}')).toThrow(/"a\/\{bad name\}"/);
  });

  it('ranks literal over constrained parameter over parameter over catch-all', () => {
    const ranked = ['runs/{*rest}', 'runs/{id}', 'runs/{id:int}', 'runs/active']
      .map(parseRouteTemplate)
      .sort(compareRoutePrecedence)
      .map((t) => t.text);
    expect(ranked).toEqual(['runs/active', 'runs/{id:int}', 'runs/{id}', 'runs/{*rest}']);
  });
});
