// The public REST API, called with the key the user signed in with (this tab's sessionStorage).

const BASE = "/api/scheduler";
const KEY = "agent-scheduler-api-key";

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export function key() {
  return sessionStorage.getItem(KEY);
}

export function signIn(value) {
  sessionStorage.setItem(KEY, value);
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

/** Call `path` (under /api/scheduler); answers the JSON body, throws ApiError otherwise.
 * `body` is sent as JSON; `headers` are added (e.g. an Idempotency-Key). */
export async function api(
  path, { method = "GET", params = {}, token = key(), body = undefined, headers = {} } = {},
) {
  const url = new URL(BASE + path, location.origin);
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, value);
  }
  const sent = { Authorization: `Bearer ${token}`, Accept: "application/json", ...headers };
  if (body !== undefined) sent["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method,
    headers: sent,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = response.status === 204 ? null : await response.json().catch(() => null);
  if (response.status === 401 && token === key()) {
    signOut();
    window.dispatchEvent(new Event("signed-out"));
  }
  if (!response.ok) throw new ApiError(response.status, answer);
  return answer;
}

/** A fresh Idempotency-Key: 32 random hex digits (getRandomValues also works where the page is
 * not a secure context, unlike randomUUID). */
export function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}
