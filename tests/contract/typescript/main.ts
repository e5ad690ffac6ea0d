// A frontend's main calls, written against types generated from openapi/openapi.json: if the
// document and these calls disagree (a path, a field, an enum value), `tsc --noEmit` fails.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

type Problem = components["schemas"]["Problem"];
type Role = components["schemas"]["Role"];

export async function mainFlow(baseUrl: string, email: string, password: string): Promise<void> {
  const api = createClient<paths>({ baseUrl });

  const { data: tokens, error: refused } = await api.POST("/api/auth/login", {
    body: { email, password },
  });
  if (refused) throw new Error(`login: ${describe(refused)}`);
  const authorized = { headers: { Authorization: `Bearer ${tokens.access}` } };
  // Schedule the next refresh without decoding the JWT.
  const refreshIn: number = tokens.expires_in;
  const renewed = await api.POST("/api/token/refresh/", { body: { refresh: tokens.refresh } });
  const nextRefreshIn: number | undefined = renewed.data?.expires_in;

  const me = await api.GET("/api/current-user/whoami", authorized);
  const org = me.data?.active_organization ?? 0;

  const link = await api.GET("/api/invite", authorized);
  const token = link.data?.token ?? "";
  const lookup = await api.GET("/api/invite/lookup", { params: { query: { token } } });
  const kind: "link" | "email" | undefined = lookup.data?.kind;

  const pending = await api.GET("/api/organizations/{id}/memberships", {
    ...authorized,
    params: { path: { id: org }, query: { role: "NO", ordering: "-created_at", page_size: 50 } },
  });
  const annotator: Role = "AN";
  for (const member of pending.data?.results ?? []) {
    await api.PATCH("/api/organizations/{id}/memberships", {
      ...authorized,
      params: { path: { id: org } },
      body: { user_id: member.user.id, role: annotator },
    });
  }

  const sent = await api.POST("/api/invite/send-email", {
    ...authorized,
    body: { emails: ["ann@example.org", "bob@example.org"], role: "MA", send_email: false },
  });
  for (const result of sent.data?.results ?? []) {
    if (result.status === "invited" && result.invitation_id != null) {
      await api.POST("/api/invitations/{id}/revoke", {
        ...authorized,
        params: { path: { id: result.invitation_id } },
      });
    }
  }
  const pendingInvitations = await api.GET("/api/invitations", {
    ...authorized,
    params: { query: { status: "pending" } },
  });
  const reset = await api.POST("/api/invite/reset-token", authorized);
  const personal = await api.POST("/api/token/", authorized);
  await api.POST("/api/token/blacklist/", { body: { refresh: tokens.refresh } });

  console.log(refreshIn, nextRefreshIn, kind, pendingInvitations.data?.count, reset.data?.token,
    personal.data?.expires_at);
}

// An error code the client does not know yet is still a string, never a crash.
function describe(problem: Problem): string {
  const code: string = problem.code;
  return `${problem.status} ${code}: ${problem.detail}`;
}
