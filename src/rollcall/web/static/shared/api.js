// Calls to rollcall's HTTP API. Every failure becomes an ApiError with the problem's stable `code`.

export class ApiError extends Error {
  constructor(status, problem, retryAfterS = null) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || `http_${status}`;
    this.problem = problem;
    this.retryAfterS = retryAfterS;
  }

  /** Worth trying again by itself: the network or the database is briefly away. */
  get transient() {
    return this.status === 0 || this.status === 503 || this.status === 502 || this.status === 504;
  }
}

/**
 * The origin of the rollcall at `server` (a URL such as "https://rollcall.example"), or null when
 * it is this page's own: then the API is called same-origin, with the page's session cookie.
 */
export function serverOrigin(server) {
  if (!server) return null;
  const origin = new URL(server, location.href).origin;
  return origin === location.origin ? null : origin;
}

/**
 * Call the API (of the rollcall at `server`, an origin from serverOrigin; this page's own by
 * default). The answer's JSON, or with `accept` (a media type such as "text/csv") the answer as a
 * Blob of that type; a failure is an ApiError either way. Another site's rollcall is called
 * without cookies: it knows the caller by its token alone. `keepalive` lets the call outlive
 * the page.
 */
export async function api(
  path,
  { method = "GET", body, token, accept, server = null, keepalive = false } = {},
) {
  const headers = { Accept: `${accept || "application/json"}, application/problem+json` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(server ? `${server}${path}` : path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: server ? "omit" : "same-origin",
      keepalive, // outlives the page, as a beacon does
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, {
      code: "network_error",
      detail: "rollcall can't be reached right now.",
    });
  }
  if (response.status === 204) return null;
  if (accept && response.ok) return await response.blob();
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const retryAfter = Number(response.headers.get("Retry-After"));
    throw new ApiError(
      response.status,
      data && typeof data === "object" ? data : { detail: response.statusText },
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null,
    );
  }
  return data;
}

/** The event code from a path such as /j/k7p2qx: upper case, as codes are shown. */
export function codeFromPath() {
  const segment = location.pathname.split("/").filter(Boolean)[1] || "";
  return decodeURIComponent(segment).trim().toUpperCase();
}
