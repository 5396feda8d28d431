import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { Services } from '../../shared/composition';
import type { ApiPrincipal } from '../../shared/core/tenantService';
import { compareRoutePrecedence, matchRouteSegments, parseRouteTemplate, routePathSegments, type RouteTemplate } from '../../shared/http/routeTemplate';

export interface AdminRequest {
  request: HttpRequest;
  params: Record<string, string>;
  principal: ApiPrincipal;
  services: Services;
}

export interface AdminRoute {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path below /api in the Functions route-template syntax, e.g. `connections/{id}/syncs`. */
  path: string;
  handle(request: AdminRequest): Promise<HttpResponseInit>;
}

/**
 * Matches admin paths to handlers with the same route templates and precedence rules as the
 * Functions host (shared/http/routeTemplate.ts), so `syncs/{runId}/pause` and friends behave the
 * same whether a route is a function of its own or one of the admin API's.
 */
export class AdminRouter {
  private readonly routes: Array<AdminRoute & { template: RouteTemplate }>;

  constructor(routes: readonly AdminRoute[]) {
    this.routes = routes
      .map((route) => ({ ...route, template: parseRouteTemplate(route.path) }))
      .sort((a, b) => compareRoutePrecedence(a.template, b.template));
  }

  /** The route for a path: `{ route, params }`, `'method'` when only the method differs, or undefined. */
  match(method: string, path: string): { route: AdminRoute; params: Record<string, string> } | 'method' | undefined {
    let methodMismatch = false;
    const segments = routePathSegments(path);
    if (segments === undefined) return undefined;
    for (const route of this.routes) {
      const params = matchRouteSegments(route.template, segments);
      if (!params) continue;
      if (route.method === method.toUpperCase()) return { route, params };
      methodMismatch = true;
    }
    return methodMismatch ? 'method' : undefined;
  }
}
