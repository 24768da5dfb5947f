// Calls to the OpenAPI on the same origin. The session cookie is HttpOnly: scripts never see
// the Polaris token. Writes carry the session's CSRF token, read from /console/v1/session.

let csrf = '';
let onUnauthorized: () => void = () => {};

export function setCsrf(value: string) {
  csrf = value;
}

export function setUnauthorizedHandler(handler: () => void) {
  onUnauthorized = handler;
}

export class ApiError extends Error {
  code: number;
  status: number;
  constructor(message: string, code: number, status: number) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export type Query = Record<string, string | number | boolean | undefined | null>;

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export async function call(method: string, path: string, body?: unknown, query?: Query): Promise<Json> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['X-Polaris-Csrf'] = csrf;
  const response = await fetch(withQuery(path, query), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  let json: Json = null;
  try {
    json = await response.json();
  } catch {
    json = null;
  }
  const code = Number(json?.code ?? (response.ok ? 200000 : response.status * 1000));
  if (response.status === 401 || code === 401000 || code === 401001 || code === 401004 || code === 407) {
    if (!path.endsWith('/user/login')) onUnauthorized();
  }
  if (!response.ok || (code !== 200000 && code !== 200001)) {
    const items = json?.responses as Json[] | undefined;
    const inner = items?.find((r) => r.code !== 200000);
    const info = inner?.info || json?.info || response.statusText || 'request failed';
    throw new ApiError(String(info), Number(inner?.code ?? code), response.status);
  }
  return json;
}

export const get = (path: string, query?: Query) => call('GET', path, undefined, query);
export const post = (path: string, body: unknown) => call('POST', path, body);
export const put = (path: string, body: unknown) => call('PUT', path, body);
export const del = (path: string, query?: Query) => call('DELETE', path, undefined, query);
