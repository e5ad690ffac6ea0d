// The pages in a real browser: Debian's Chromium, headless, driven by Playwright through the
// seed's flows against BINARY, by the accessible names the pages promise. Takes a screenshot of
// each page into tests/browser/screenshots/ (README shows them).
//
// Usage: node tests/browser/pages_check.mjs BINARY
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const binary = process.argv[2];
const work = mkdtempSync(join(tmpdir(), "org-members-pages-"));
const messages = join(work, "messages");
mkdirSync(messages);
const shots = join(here, "screenshots");
mkdirSync(shots, { recursive: true });
const PASSWORD = "correct horse battery";
const port = 18651;
const base = `http://127.0.0.1:${port}`;
let passed = 0;

function ok(what) { passed += 1; console.log(`ok   ${what}`); }
function fail(what) { console.error(`FAIL: ${what}`); process.exitCode = 1; throw new Error(what); }

const children = [];
function start(command, args, env) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "inherit"] });
  children.push(child);
  return child;
}

async function ready(url) {
  for (let i = 0; i < 100; i += 1) {
    try { if ((await fetch(`${url}/ready`)).ok) return; } catch { /* not yet */ }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  fail(`${url} never became ready`);
}

async function waitForEmail(to, path = "/user/signup/") {
  for (let i = 0; i < 100; i += 1) {
    for (const name of readdirSync(messages).filter((n) => n.endsWith(".eml"))) {
      const raw = readFileSync(join(messages, name), "utf8");
      if (raw.includes(to)) {
        // Quoted-printable bodies fold long lines with "=\n" and write "=" as "=3D".
        const text = raw.replace(/=\r?\n/g, "").replace(/=3D/g, "=");
        const link = text.match(new RegExp(`https?://[^\\s"<>]+${path}\\?token=[A-Za-z0-9_-]+`));
        if (link) return link[0];
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  fail(`no invitation email to ${to}`);
}

const env = {
  PORT: String(port), RUST_LOG: "warn", PUBLIC_URL: base, SMTP_URL: "smtp://127.0.0.1:18652",
  EMAIL_POLL_INTERVAL: "1s", DATABASE_URL: `sqlite://${work}/pages.sqlite3?mode=rwc`,
  RATE_LIMIT_PER_ADDRESS: "0", RATE_LIMIT_PER_EMAIL: "0",
};
start("python3", [join(here, "..", "..", "bench", "smtp_sink.py"), "18652", join(work, "count"), join(work, "to"), messages]);
const created = spawnSync(binary, ["bootstrap", "--email", "owner@example.org", "--password", PASSWORD,
  "--organization", "Acme"], { env: { ...process.env, ...env }, stdio: "ignore" });
if (created.status !== 0) fail("bootstrap");
start(binary, [], env);
const closedPort = port + 2;
const closedEnv = { ...env, PORT: String(closedPort), DATABASE_URL: `sqlite://${work}/closed.sqlite3?mode=rwc`,
  DISABLE_SIGNUP_WITHOUT_LINK: "true", SMTP_URL: "", PUBLIC_URL: "" };
spawnSync(binary, ["migrate"], { env: { ...process.env, ...closedEnv }, stdio: "ignore" });
start(binary, [], closedEnv);
await ready(base);
await ready(`http://127.0.0.1:${closedPort}`);

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const scriptErrors = [];
async function person() {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const page = await context.newPage();
  page.on("pageerror", (error) => scriptErrors.push(String(error)));
  // Refused API calls are answers the pages handle (a dead link's 404); anything else is not.
  page.on("console", (message) => {
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
      scriptErrors.push(message.text());
    }
  });
  page.on("dialog", (dialog) => dialog.accept());
  return page;
}
async function signIn(page, email) {
  await page.goto(`${base}/user/login/`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL("**/organization/");
}

try {
  const owner = await person();
  await owner.goto(`${base}/user/login/`);
  await owner.screenshot({ path: join(shots, "login.png") });
  await signIn(owner, "owner@example.org");
  await owner.getByRole("heading", { name: "Acme" }).waitFor();
  ok("the Owner signs in and lands on the Organization page");

  await owner.getByRole("button", { name: "Invite Members" }).click();
  const dialog = owner.getByRole("dialog");
  await dialog.waitFor();
  const oldLink = await dialog.getByLabel("Invite link").inputValue();
  if (!oldLink.startsWith(`${base}/user/signup/?token=`)) fail(`invite link ${oldLink}`);
  await owner.screenshot({ path: join(shots, "invite-dialog.png") });
  await dialog.getByRole("button", { name: "Reset Link" }).click();
  await owner.waitForFunction((old) => document.getElementById("invite-link").value !== old, oldLink);
  const link = await dialog.getByLabel("Invite link").inputValue();
  ok("Invite Members shows the link; Reset Link replaces it");

  const stranger = await person();
  await stranger.goto(oldLink);
  await stranger.getByRole("alert").filter({ hasText: "no longer valid" }).waitFor();
  ok("the old link says it is no longer valid");

  const newcomer = await person();
  await newcomer.goto(link);
  await newcomer.getByRole("heading", { name: "Join Acme" }).waitFor();
  await newcomer.screenshot({ path: join(shots, "signup-link.png") });
  await newcomer.getByLabel("Email").fill("pat@example.org");
  await newcomer.getByLabel("Password").fill(PASSWORD);
  await newcomer.getByRole("button", { name: "Sign up" }).click();
  await newcomer.getByRole("status").filter({ hasText: "pending" }).waitFor();
  await newcomer.screenshot({ path: join(shots, "signup-pending.png") });
  ok("link signup lands pending");

  const pending = await person();
  await signIn(pending, "pat@example.org");
  await pending.getByRole("status").filter({ hasText: "pending" }).waitFor();
  if (await pending.getByRole("table").count()) fail("a pending person sees the members");
  ok("a pending person who signs in sees that they are pending, nothing else");

  await dialog.getByRole("button", { name: "Close" }).click();
  await owner.getByLabel("Role filter").selectOption({ label: "Not Activated" });
  const roleOfPat = owner.getByLabel("Role for pat@example.org");
  await roleOfPat.waitFor();
  await owner.screenshot({ path: join(shots, "organization-not-activated.png") });
  await roleOfPat.selectOption({ label: "Annotator" });
  await owner.waitForFunction(() => document.getElementById("member-count").textContent === "(0)");
  await owner.getByLabel("Role filter").selectOption({ label: "Annotator" });
  await owner.getByLabel("Role for pat@example.org").waitFor();
  if ((await owner.getByLabel("Role for pat@example.org").inputValue()) !== "AN") fail("role not assigned");
  ok("the Owner filters Not Activated and assigns a role");

  await owner.getByRole("button", { name: "Invite Members" }).click();
  await dialog.getByLabel("Emails").fill("Mia@Example.org");
  await dialog.getByLabel("Role").selectOption({ label: "Manager" });
  await dialog.getByRole("button", { name: "Send invitations" }).click();
  await dialog.getByText("mia@example.org: invited", { exact: false }).or(dialog.getByText("Mia@Example.org: invited")).waitFor();
  await dialog.getByRole("button", { name: "Close" }).click();
  const emailed = await waitForEmail("Mia@Example.org");
  const invitee = await person();
  await invitee.goto(emailed);
  await invitee.getByText("with the role Manager").waitFor();
  await invitee.screenshot({ path: join(shots, "signup-invitation.png") });
  await invitee.getByLabel("Password").fill(PASSWORD);
  await invitee.getByRole("button", { name: "Sign up" }).click();
  await invitee.waitForURL("**/organization/");
  await invitee.getByLabel("Role for Mia@Example.org").or(invitee.getByLabel("Role for mia@example.org")).waitFor();
  ok("an emailed invitation, received over SMTP, signs the person up with its role and straight in");

  await owner.reload();
  await owner.getByLabel("Role for owner@example.org").waitFor();
  await owner.screenshot({ path: join(shots, "organization.png"), fullPage: true });

  const closed = await person();
  await closed.goto(`http://127.0.0.1:${closedPort}/user/signup/`);
  await closed.getByRole("heading", { name: "Signup is by invitation only" }).waitFor();
  if (await closed.getByRole("button", { name: "Sign up" }).isVisible()) fail("closed signup offers a form");
  await closed.screenshot({ path: join(shots, "signup-closed.png") });
  ok("closed signup shows the invitation-only message");

  // The Owner of Acme also joins Beta (invited by its Owner, accepted while signed in) and
  // switches between the two from the page.
  const bootstrapped = spawnSync(binary, ["bootstrap", "--email", "beta@example.org", "--password", PASSWORD,
    "--organization", "Beta"], { env: { ...process.env, ...env }, stdio: "ignore" });
  if (bootstrapped.status !== 0) fail("bootstrap Beta");
  const post = async (path, body, token) => {
    const response = await fetch(`${base}${path}`, {
      method: "POST", body: JSON.stringify(body),
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    });
    if (!response.ok) fail(`${path}: ${response.status} ${await response.text()}`);
    return response.json();
  };
  const beta = await post("/api/auth/login", { email: "beta@example.org", password: PASSWORD });
  const invitation = await post("/api/invite/send-email",
    { emails: ["owner@example.org"], role: "AD", send_email: false }, beta.access);
  const ownerApi = await post("/api/auth/login", { email: "owner@example.org", password: PASSWORD });
  const betaToken = new URL(invitation.results[0].invite_url, base).searchParams.get("token");
  await post("/api/invite/accept", { token: betaToken }, ownerApi.access);
  await owner.reload();
  await owner.getByRole("heading", { name: "Beta" }).waitFor();
  await owner.getByLabel("Organization").selectOption({ label: "Acme (Owner)" });
  await owner.getByRole("heading", { name: "Acme" }).waitFor();
  await owner.getByLabel("Role for pat@example.org").waitFor();
  ok("a person in two organizations switches between them on the page");

  const forgetful = await person();
  await forgetful.goto(`${base}/user/login/`);
  await forgetful.getByRole("link", { name: "Forgot your password?" }).click();
  await forgetful.getByLabel("Email").fill("pat@example.org");
  await forgetful.getByRole("button", { name: "Send reset link" }).click();
  await forgetful.getByRole("status").filter({ hasText: "on its way" }).waitFor();
  const resetLink = await waitForEmail("pat@example.org", "/user/password-reset/");
  await forgetful.goto(resetLink);
  await forgetful.getByLabel("New password").fill("a brand new password");
  await forgetful.getByRole("button", { name: "Set password" }).click();
  await forgetful.getByRole("status").filter({ hasText: "Your password is set" }).waitFor();
  await forgetful.screenshot({ path: join(shots, "password-reset.png") });
  await forgetful.goto(`${base}/user/login/`);
  await forgetful.getByLabel("Email").fill("pat@example.org");
  await forgetful.getByLabel("Password").fill("a brand new password");
  await forgetful.getByRole("button", { name: "Sign in" }).click();
  await forgetful.waitForURL("**/organization/");
  ok("a forgotten password is reset through the emailed link, and the new one signs in");

  // Signed in, pat opens Beta's invite link and joins with the account they have.
  const betaLink = await (await fetch(`${base}/api/invite`, { headers: { authorization: `Bearer ${beta.access}` } })).json();
  await forgetful.goto(`${base}/user/signup/?token=${betaLink.token}`);
  await forgetful.getByText("You are signed in as pat@example.org").waitFor();
  await forgetful.getByRole("button", { name: "Join with my account" }).click();
  await forgetful.getByRole("status").filter({ hasText: "pending" }).waitFor();
  ok("a signed-in person opens another organization's link and joins it, pending, with their account");

  if (scriptErrors.length) fail(`script errors or CSP violations: ${scriptErrors.join(" | ")}`);
  ok("no script error and no Content-Security-Policy violation on any page");
  console.log(`pages: ${passed} passed`);
} finally {
  await browser.close();
  for (const child of children) child.kill();
}
