import { SyncBridgeError } from '../core/errors';

/**
 * Azure Functions route templates (ASP.NET Core routing syntax):
 * `webhooks/{provider}/{connectionId}`, `{id:int}`, `{name?}`, `{page=1}`, `{*rest}`, `{**rest}`,
 * and complex segments like `files/{name}.{ext}`.
 *
 * Precedence follows ASP.NET's inbound route precedence: templates are compared segment by
 * segment, and at the first difference a literal segment beats a complex one, which beats a
 * constrained parameter, which beats a plain parameter, which beats a catch-all. So
 * `runs/active` wins over `runs/{id}` for /runs/active, whatever the registration order.
 */

type Constraint = (value: string) => boolean;

interface ParameterPart {
  kind: 'parameter';
  name: string;
  optional: boolean;
  catchAll: boolean;
  defaultValue?: string;
  constraints: Constraint[];
}

type Segment =
  | { kind: 'literal'; text: string; lower: string }
  | { kind: 'parameter'; parameter: ParameterPart }
  | { kind: 'complex'; pattern: RegExp; parameters: ParameterPart[] };

export interface RouteTemplate {
  readonly text: string;
  readonly segments: readonly Segment[];
  /** One digit per segment, 1 (literal) … 5 (catch-all); lower is more specific. */
  readonly precedence: readonly number[];
}

export function parseRouteTemplate(template: string): RouteTemplate {
  const text = template.replace(/^\/+|\/+$/g, '');
  const segments = text === '' ? [] : text.split('/').map((raw) => parseSegment(raw, template));
  segments.forEach((segment, index) => {
    if (segment.kind === 'parameter' && segment.parameter.catchAll && index !== segments.length - 1) {
      throw new SyncBridgeError('configuration', `Route "${template}": a catch-all parameter must be the last segment.`);
    }
  });
  return { text, segments, precedence: segments.map(precedenceOf) };
}

/** Returns the route parameters when the path (without the route prefix) matches, else undefined. */
export function matchRouteTemplate(route: RouteTemplate, path: string): Record<string, string> | undefined {
  const values = routePathSegments(path);
  return values === undefined ? undefined : matchRouteSegments(route, values);
}

/**
 * A path (without the route prefix) as the segments route templates match, decoded; undefined when
 * an escape is malformed (it matches no route, as ASP.NET answers 404/400). A host matching one
 * request against many routes splits the path once with this and calls matchRouteSegments.
 */
export function routePathSegments(path: string): string[] | undefined {
  const rawSegments = path.replace(/^\/+/, '').split('/');
  if (rawSegments.length > 0 && rawSegments[rawSegments.length - 1] === '') rawSegments.pop();
  const values: string[] = [];
  for (const raw of rawSegments) {
    try {
      values.push(raw.includes('%') ? decodeURIComponent(raw) : raw);
    } catch {
      return undefined;
    }
  }
  return values;
}

/** The route parameters when the path's segments (routePathSegments) match, else undefined. */
export function matchRouteSegments(route: RouteTemplate, values: readonly string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  let index = 0;
  for (const segment of route.segments) {
    if (segment.kind === 'parameter' && segment.parameter.catchAll) {
      const rest = values.slice(index).join('/');
      index = values.length;
      if (!assign(params, segment.parameter, rest)) return undefined;
      continue;
    }
    const value = values[index];
    if (value === undefined || value === '') {
      if (segment.kind !== 'parameter' || !(segment.parameter.optional || segment.parameter.defaultValue !== undefined)) {
        return undefined;
      }
      if (segment.parameter.defaultValue !== undefined) params[segment.parameter.name] = segment.parameter.defaultValue;
      index += 1;
      continue;
    }
    if (segment.kind === 'literal') {
      if (value !== segment.text && value.toLowerCase() !== segment.lower) return undefined;
    } else if (segment.kind === 'parameter') {
      if (!assign(params, segment.parameter, value)) return undefined;
    } else {
      const match = segment.pattern.exec(value);
      if (match === null) return undefined;
      for (const [i, parameter] of segment.parameters.entries()) {
        if (!assign(params, parameter, match[i + 1] ?? '')) return undefined;
      }
    }
    index += 1;
  }
  return index >= values.length ? params : undefined;
}

/** Negative when `a` is more specific than `b`. */
export function compareRoutePrecedence(a: RouteTemplate, b: RouteTemplate): number {
  const length = Math.max(a.precedence.length, b.precedence.length);
  for (let i = 0; i < length; i += 1) {
    // A template that ended is more specific than one that goes on (ASP.NET: 1.1 < 1.14).
    const left = a.precedence[i] ?? 0;
    const right = b.precedence[i] ?? 0;
    if (left !== right) return left - right;
  }
  return 0;
}

function assign(params: Record<string, string>, parameter: ParameterPart, value: string): boolean {
  if (value === '') {
    if (parameter.defaultValue !== undefined) params[parameter.name] = parameter.defaultValue;
    return parameter.optional || parameter.catchAll || parameter.defaultValue !== undefined;
  }
  if (!parameter.constraints.every((accepts) => accepts(value))) return false;
  params[parameter.name] = value;
  return true;
}

function precedenceOf(segment: Segment): number {
  if (segment.kind === 'literal') return 1;
  if (segment.kind === 'complex') return 2;
  if (segment.parameter.catchAll) return 5;
  return segment.parameter.constraints.length > 0 ? 3 : 4;
}

function parseSegment(raw: string, template: string): Segment {
  if (!raw.includes('{')) return { kind: 'literal', text: raw, lower: raw.toLowerCase() };
  // '{{' and '}}' are escaped braces (ASP.NET), e.g. inside a regex constraint: {code:regex(^\\d{{3}}$)}.
  const inner = raw.slice(1, -1);
  if (raw.startsWith('{') && raw.endsWith('}') && !/[{}]/.test(inner.replace(/\{\{|\}\}/g, ''))) {
    return { kind: 'parameter', parameter: parseParameter(inner.replace(/\{\{/g, '{').replace(/\}\}/g, '}'), template) };
  }
  // Complex segment: literal text around several parameters, e.g. {name}.{ext}. Greedy captures
  // give ASP.NET's right-to-left matching: report.final.pdf is name=report.final, ext=pdf.
  const parameters: ParameterPart[] = [];
  let pattern = '^';
  let rest = raw;
  while (rest.length > 0) {
    const open = rest.indexOf('{');
    if (open === -1) {
      pattern += escapeRegExp(rest);
      break;
    }
    const close = rest.indexOf('}', open);
    if (close === -1) throw new SyncBridgeError('configuration', `Route "${template}": unbalanced "{" in segment "${raw}".`);
    pattern += escapeRegExp(rest.slice(0, open));
    const parameter = parseParameter(rest.slice(open + 1, close), template);
    if (parameter.catchAll) throw new SyncBridgeError('configuration', `Route "${template}": a catch-all cannot be part of segment "${raw}".`);
    parameters.push(parameter);
    pattern += parameter.optional ? '(.*)' : '(.+)';
    rest = rest.slice(close + 1);
  }
  return { kind: 'complex', pattern: new RegExp(`${pattern}$`, 'i'), parameters };
}

function parseParameter(body: string, template: string): ParameterPart {
  let text = body.trim();
  let catchAll = false;
  if (text.startsWith('**')) [catchAll, text] = [true, text.slice(2)];
  else if (text.startsWith('*')) [catchAll, text] = [true, text.slice(1)];
  let optional = false;
  if (text.endsWith('?')) [optional, text] = [true, text.slice(0, -1)];
  let defaultValue: string | undefined;
  const equals = indexOutsideParentheses(text, '=');
  if (equals !== -1) [text, defaultValue] = [text.slice(0, equals), text.slice(equals + 1)];
  const [name = '', ...constraintTexts] = splitOutsideParentheses(text, ':');
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new SyncBridgeError('configuration', `Route "${template}": "${body}" is not a valid route parameter.`);
  }
  return {
    kind: 'parameter',
    name,
    optional,
    catchAll,
    ...(defaultValue === undefined ? {} : { defaultValue }),
    constraints: constraintTexts.map(parseConstraint),
  };
}

/**
 * The common inline constraints; any other constraint is accepted as written and not enforced,
 * because the function code validates its own input anyway.
 */
function parseConstraint(text: string): Constraint {
  const call = /^(\w+)(?:\((.*)\))?$/s.exec(text);
  const name = call?.[1]?.toLowerCase() ?? '';
  const argument = call?.[2] ?? '';
  switch (name) {
    case 'int':
    case 'long':
      return (v) => /^-?\d+$/.test(v);
    case 'bool':
      return (v) => /^(true|false)$/i.test(v);
    case 'guid':
      return (v) => /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(v);
    case 'alpha':
      return (v) => /^[a-z]+$/i.test(v);
    case 'minlength':
      return (v) => v.length >= Number(argument);
    case 'maxlength':
      return (v) => v.length <= Number(argument);
    case 'min':
      return (v) => Number(v) >= Number(argument);
    case 'max':
      return (v) => Number(v) <= Number(argument);
    case 'regex': {
      const pattern = new RegExp(`^(?:${argument})$`, 'i');
      return (v) => pattern.test(v);
    }
    default:
      return () => true;
  }
}

function splitOutsideParentheses(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (c === '(') depth += 1;
    else if (c === ')') depth -= 1;
    else if (c === separator && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

function indexOutsideParentheses(text: string, char: string): number {
  let depth = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (c === '(') depth += 1;
    else if (c === ')') depth -= 1;
    else if (c === char && depth === 0) return i;
  }
  return -1;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
