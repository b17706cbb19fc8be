// The console's only way to the server: the public API, with the signed-in token.

const TOKEN_KEY = 'sous.token';

export function token() {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) localStorage.setItem(TOKEN_KEY, value);
  else localStorage.removeItem(TOKEN_KEY);
}

/** An error answer: status plus the problem+json body when there is one. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? problem?.title ?? `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/**
 * api('/v1/…', {method, json, body, headers, as}): the parsed JSON answer (or, with
 * as: 'blob' | 'text' | 'response', that). Throws ApiError for any status from 400 up.
 */
export async function api(path, { method, json, body, headers = {}, as = 'json', auth = true } = {}) {
  const init = { method: method ?? (json !== undefined || body !== undefined ? 'POST' : 'GET'), headers: { ...headers } };
  const bearer = token();
  if (auth && bearer) init.headers.Authorization = `Bearer ${bearer}`;
  if (json !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    init.body = body;
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    let problem = null;
    const type = response.headers.get('Content-Type') ?? '';
    if (type.includes('json')) problem = await response.json().catch(() => null);
    if (response.status === 401 && auth) window.dispatchEvent(new CustomEvent('sous:unauthorized', { detail: problem }));
    throw new ApiError(response.status, problem);
  }
  if (as === 'response') return response;
  if (as === 'blob') return response.blob();
  if (as === 'text') return response.text();
  if (response.status === 204) return null;
  const type = response.headers.get('Content-Type') ?? '';
  return type.includes('json') ? response.json() : response.text();
}
