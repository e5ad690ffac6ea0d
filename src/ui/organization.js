// /organization/: the members list with its role filter, search and pages; role changes and
// removal; the invite dialog (link, reset, email invitations); invitations and the audit log.
// What a person sees follows their role, as the API decides it.
import { alertWith, api, endSession, inWords, ROLE_NAMES, session, toSignIn } from "/ui/api.js";

const $ = (id) => document.getElementById(id);
const alert = $("alert");
const PAGE_SIZE = 25;
const state = { org: null, me: null, role: null, page: 1 };

function element(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

function cell(row, content) {
  const td = element("td");
  td.append(content instanceof Node ? content : document.createTextNode(content ?? ""));
  row.append(td);
  return td;
}

async function start() {
  if (!session()) return toSignIn();
  $("sign-out").addEventListener("click", signOut);
  let me;
  try { me = await api("GET", "/api/current-user/whoami"); } catch (problem) { return alertWith(alert, inWords(problem)); }
  state.me = me;
  state.org = me.active_organization;
  state.role = me.organization_membership?.role || null;
  $("me").textContent = me.email;
  const standing = $("standing");
  if (!state.role) return show(standing, "You are no longer a member of this organization.");
  if (state.role === "NO") return show(standing, inWords({ code: "account_not_activated" }));
  if (state.role === "DI") return show(standing, inWords({ code: "account_deactivated" }));
  try {
    const organization = await api("GET", `/api/organizations/${state.org}`);
    $("title").textContent = organization.title;
  } catch (problem) { alertWith(alert, inWords(problem)); }
  await offerSwitch();
  if (!["OW", "AD", "MA"].includes(state.role)) {
    return show(standing, `You are a member of this organization as ${ROLE_NAMES[state.role]}.`);
  }
  $("members-section").hidden = false;
  wireMembers();
  await loadMembers();
  if (manages()) {
    $("invite").hidden = false;
    $("invitations-section").hidden = false;
    $("audit-section").hidden = false;
    wireInviteDialog();
    await Promise.all([loadInvitations(), loadAudit()]);
  }
}

/** A person in several organizations picks the one they act in; every token of theirs follows. */
async function offerSwitch() {
  let mine;
  try { mine = await api("GET", "/api/organizations"); } catch { return; }
  if (mine.length < 2) return;
  const select = $("organization-switch");
  select.replaceChildren(...mine.map((organization) => {
    const option = element("option", `${organization.title} (${ROLE_NAMES[organization.role] || organization.role})`,
      { value: organization.id });
    option.selected = organization.active;
    return option;
  }));
  $("switcher").hidden = false;
  select.addEventListener("change", async () => {
    try {
      await api("PATCH", "/api/current-user", { active_organization: Number(select.value) });
      location.reload();
    } catch (problem) { alertWith(alert, inWords(problem)); }
  });
}

function show(node, text) { node.hidden = false; node.textContent = text; }
const manages = () => ["OW", "AD"].includes(state.role);

async function signOut() {
  const current = session();
  if (current?.refresh) {
    try { await api("POST", "/api/token/blacklist/", { refresh: current.refresh }); } catch { /* signed out anyway */ }
  }
  endSession();
  location.assign("/user/login/");
}

function wireMembers() {
  let typing;
  $("role-filter").addEventListener("change", () => { state.page = 1; loadMembers(); });
  $("search").addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => { state.page = 1; loadMembers(); }, 250);
  });
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); state.page = 1; loadMembers(); });
  $("previous").addEventListener("click", () => { state.page -= 1; loadMembers(); });
  $("next").addEventListener("click", () => { state.page += 1; loadMembers(); });
}

async function loadMembers() {
  const query = new URLSearchParams({ page: state.page, page_size: PAGE_SIZE });
  const role = $("role-filter").value;
  const search = $("search").value.trim();
  if (role) query.set("role", role);
  if (search) query.set("search", search);
  let page;
  try { page = await api("GET", `/api/organizations/${state.org}/memberships?${query}`); } catch (problem) {
    return alertWith(alert, inWords(problem));
  }
  alertWith(alert, "");
  const pages = Math.max(1, Math.ceil(page.count / PAGE_SIZE));
  $("member-count").textContent = `(${page.count})`;
  $("page").textContent = `Page ${state.page} of ${pages}`;
  $("previous").disabled = !page.previous;
  $("next").disabled = !page.next;
  $("members").replaceChildren(...page.results.map(memberRow));
}

function memberRow(member) {
  const row = element("tr");
  const { user } = member;
  cell(row, user.email);
  cell(row, [user.first_name, user.last_name].filter(Boolean).join(" "));
  const select = element("select", undefined, { "aria-label": `Role for ${user.email}` });
  for (const [code, name] of Object.entries(ROLE_NAMES)) {
    if (code === "OW" && member.role !== "OW") continue;
    const option = element("option", name, { value: code });
    option.selected = code === member.role;
    select.append(option);
  }
  const own = user.id === state.me.id;
  select.disabled = !manages() || own || member.role === "OW";
  select.addEventListener("change", async () => {
    try {
      await api("PATCH", `/api/organizations/${state.org}/memberships`, { user_id: user.id, role: select.value });
      alertWith(alert, "");
      await Promise.all([loadMembers(), loadAudit()]);
    } catch (problem) {
      alertWith(alert, inWords(problem));
      await loadMembers();
    }
  });
  cell(row, select);
  const actions = cell(row, "");
  if (manages() && !own && member.role !== "OW") {
    const remove = element("button", "Remove", { type: "button", class: "secondary", "aria-label": `Remove ${user.email}` });
    remove.addEventListener("click", async () => {
      if (!confirm(`Remove ${user.email} from the organization?`)) return;
      try {
        await api("DELETE", `/api/organizations/${state.org}/memberships/${user.id}`);
        await Promise.all([loadMembers(), loadAudit()]);
      } catch (problem) { alertWith(alert, inWords(problem)); }
    });
    actions.append(remove);
  }
  return row;
}

function wireInviteDialog() {
  const dialog = $("invite-dialog");
  const dialogAlert = $("dialog-alert");
  $("invite").addEventListener("click", async () => {
    alertWith(dialogAlert, "");
    $("invite-results").replaceChildren();
    try {
      const link = await api("GET", "/api/invite");
      $("invite-link").value = absolute(link.invite_url);
    } catch (problem) { alertWith(dialogAlert, inWords(problem)); }
    dialog.showModal();
  });
  $("close-dialog").addEventListener("click", () => dialog.close());
  $("copy-link").addEventListener("click", async () => {
    const input = $("invite-link");
    try { await navigator.clipboard.writeText(input.value); } catch { input.select(); document.execCommand?.("copy"); }
    $("copy-link").textContent = "Copied";
    setTimeout(() => { $("copy-link").textContent = "Copy link"; }, 1500);
  });
  $("reset-link").addEventListener("click", async () => {
    if (!confirm("Reset the invite link? The current link stops working at once.")) return;
    try {
      const link = await api("POST", "/api/invite/reset-token", {});
      $("invite-link").value = absolute(link.invite_url);
      alertWith(dialogAlert, "");
      await loadAudit();
    } catch (problem) { alertWith(dialogAlert, inWords(problem)); }
  });
  $("invite-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = event.target.querySelector("button");
    button.disabled = true;
    try {
      const sent = await api("POST", "/api/invite/send-email", { emails: $("emails").value, role: $("invite-role").value });
      alertWith(dialogAlert, "");
      $("invite-results").replaceChildren(...sent.results.map((result) =>
        element("li", `${result.email}: ${result.status.replaceAll("_", " ")}${result.detail ? ` (${result.detail})` : ""}`)));
      $("emails").value = "";
      await Promise.all([loadInvitations(), loadAudit()]);
    } catch (problem) {
      alertWith(dialogAlert, inWords(problem));
    } finally { button.disabled = false; }
  });
}

function absolute(url) { return new URL(url, location.origin).href; }

async function loadInvitations() {
  let page;
  try { page = await api("GET", "/api/invitations?status=pending&page_size=100"); } catch (problem) {
    return alertWith(alert, inWords(problem));
  }
  $("invitations").replaceChildren(...page.results.map((invitation) => {
    const row = element("tr");
    cell(row, invitation.email);
    cell(row, ROLE_NAMES[invitation.role] || invitation.role);
    cell(row, invitation.status);
    cell(row, invitation.delivery.state.replaceAll("_", " "));
    const actions = cell(row, "");
    for (const [label, path] of [["Resend", "resend"], ["Revoke", "revoke"]]) {
      const button = element("button", label, { type: "button", class: "secondary", "aria-label": `${label} the invitation of ${invitation.email}` });
      button.addEventListener("click", async () => {
        try {
          await api("POST", `/api/invitations/${invitation.id}/${path}`, {});
          await Promise.all([loadInvitations(), loadAudit()]);
        } catch (problem) { alertWith(alert, inWords(problem)); }
      });
      actions.append(button);
    }
    return row;
  }));
}

async function loadAudit() {
  if (!manages()) return;
  let page;
  try { page = await api("GET", `/api/organizations/${state.org}/audit-log?page_size=20`); } catch { return; }
  $("audit").replaceChildren(...page.results.map((entry) => element("li",
    `${new Date(entry.occurred_at).toLocaleString()} · ${entry.action} · by ${entry.actor?.email || "the service"}` +
    ` · ${entry.target.type} ${entry.target.id ?? ""}`)));
}

start();
