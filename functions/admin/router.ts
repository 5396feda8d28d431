import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { Services } from '../../shared/composition';
import type { ApiPrincipal } from '../../shared/core/tenantService';

export interface AdminRequest {
  request: HttpRequest;
  params: Record<string, string>;
  principal: ApiPrincipal;
  services: Services;
}

export interface AdminRoute {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path below /api with `{name}` parameters, e.g. `connections/{id}/syncs`. */
  path: string;
  handle(request: AdminRequest): Promise<HttpResponseInit>;
}

interface CompiledRoute extends AdminRoute {
  pattern: RegExp;
  names: string[];
}

/** Matches admin paths to handlers. Parameters match one path segment each and are URL-decoded. */
export class AdminRouter {
  private readonly routes: CompiledRoute[];

  constructor(routes: readonly AdminRoute[]) {
    this.routes = routes.map((route) => {
      const names: string[] = [];
      const source = route.path
        .split('/')
        .map((segment) => {
          const param = /^\{(\w+)\}$/.exec(segment);
          if (!param) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
          names.push(param[1]);
          return '([^/]+)';
        })
        .join('/');
      return { ...route, pattern: new RegExp(`^${source}/?$`), names };
    });
  }

  /** The route for a path: `{ route, params }`, `'method'` when only the method differs, or undefined. */
  match(method: string, path: string): { route: AdminRoute; params: Record<string, string> } | 'method' | undefined {
    let methodMismatch = false;
    for (const route of this.routes) {
      const found = route.pattern.exec(path);
      if (!found) continue;
      if (route.method !== method.toUpperCase()) {
        methodMismatch = true;
        continue;
      }
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => {
        params[name] = decodeURIComponent(found[i + 1]);
      });
      return { route, params };
    }
    return methodMismatch ? 'method' : undefined;
  }
}
