// What every page shares: calls to the API, the session's tokens, and problems in words.
//
// Tokens live in sessionStorage: they survive moving between these pages and a reload, stay in
// this tab, and end with it. They are never in a cookie, so no other site can make the browser
// send them; the pages load no script but their own (see the Content-Security-Policy), which is
// what keeps them from being read. The access token is refreshed a minute before it expires.

const SESSION = "org-members.session";

export function session() {
  try { return JSON.parse(sessionStorage.getItem(SESSION)) || null; } catch { return null; }
}

export function keepSession(tokens) {
  const expiresAt = Date.now() + (tokens.expires_in || 900) * 1000;
  sessionStorage.setItem(SESSION, JSON.stringify({
    access: tokens.access, refresh: tokens.refresh || session()?.refresh, expiresAt,
  }));
  scheduleRefresh();
}

export function endSession() {
  sessionStorage.removeItem(SESSION);
}

let refreshTimer;
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  const current = session();
  if (!current) return;
  const wait = Math.max(current.expiresAt - Date.now() - 60_000, 5_000);
  refreshTimer = setTimeout(() => { refresh().catch(() => {}); }, wait);
}

async function refresh() {
  const current = session();
  if (!current?.refresh) throw new Error("no session");
  const response = await fetch("/api/token/refresh/", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ refresh: current.refresh }),
  });
  if (!response.ok) { endSession(); throw new Error("refresh refused"); }
  keepSession(await response.json());
}

/** Back to sign-in, coming back here afterwards. */
export function toSignIn() {
  endSession();
  const next = location.pathname + location.search;
  location.assign(`/user/login/?next=${encodeURIComponent(next)}`);
}

/** Calls the API; resolves to the JSON body, or throws the problem document. */
export async function api(method, path, body, { retried = false } = {}) {
  const current = session();
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (current?.access) headers.authorization = `Bearer ${current.access}`;
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401 && current?.access && !retried) {
    try { await refresh(); } catch { toSignIn(); throw await problemOf(response); }
    return api(method, path, body, { retried: true });
  }
  if (response.status === 401 && current?.access) { toSignIn(); }
  if (!response.ok) throw await problemOf(response);
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

async function problemOf(response) {
  try { return await response.json(); } catch { return { status: response.status, code: "unknown", detail: response.statusText }; }
}

const WORDS = {
  invite_token_unknown: "This invite link is no longer valid: it may have been reset. Ask for a new one.",
  invitation_expired: "This invitation has expired. Ask for a new one.",
  invitation_revoked: "This invitation was withdrawn.",
  invitation_used: "This invitation was already used. Sign in instead.",
  invitation_superseded: "A newer invitation was sent to this address; use the link in the latest email.",
  invitation_email_mismatch: "This invitation is for another email address.",
  signup_requires_invite: "Signup is by invitation only. Ask an Owner or Administrator for an invite link.",
  email_taken: "An account with this email already exists. Sign in instead.",
  invalid_credentials: "Wrong email or password.",
  rate_limited: "Too many attempts. Wait a minute and try again.",
  account_not_activated: "Your account is pending until an Owner or Administrator assigns you a role.",
  account_deactivated: "Your account in this organization is deactivated.",
};

/** A problem in words a person can act on. */
export function inWords(problem) {
  if (problem?.code && WORDS[problem.code]) return WORDS[problem.code];
  const fields = (problem?.errors || []).map((e) => `${e.pointer.replace(/^\//, "")}: ${e.detail}`);
  return [problem?.detail || "Something went wrong. Try again.", ...fields].join(" ");
}

/** Shows `message` in the page's alert (announced by screen readers), or clears it. */
export function alertWith(element, message) {
  element.textContent = message || "";
}

export const ROLE_NAMES = {
  OW: "Owner", AD: "Administrator", MA: "Manager", RE: "Reviewer", AN: "Annotator",
  NO: "Not Activated", DI: "Deactivated",
};

scheduleRefresh();
