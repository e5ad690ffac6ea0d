// /user/signup/: looks a token up before asking for anything, then signs the person up through it.
import { alertWith, api, inWords, keepSession, ROLE_NAMES, session } from "/ui/api.js";

const token = new URLSearchParams(location.search).get("token");
const form = document.getElementById("signup");
const alert = document.getElementById("alert");
const invitation = document.getElementById("invitation");
const heading = document.getElementById("heading");

async function start() {
  if (!token) {
    if (document.body.dataset.signupClosed === "true") {
      heading.textContent = "Signup is by invitation only";
      alertWith(alert, inWords({ code: "signup_requires_invite" }));
      return;
    }
    form.hidden = false;
    return;
  }
  try {
    const found = await api("GET", `/api/invite/lookup?token=${encodeURIComponent(token)}`);
    heading.textContent = `Join ${found.organization.title}`;
    invitation.hidden = false;
    if (found.kind === "email") {
      invitation.textContent = `You are invited as ${found.email} with the role ${ROLE_NAMES[found.role] || found.role}.`;
      const email = document.getElementById("email");
      email.value = found.email;
      email.readOnly = true;
    } else {
      invitation.textContent = `You are joining ${found.organization.title} through its invite link. ` +
        "Your account will be pending until an Owner or Administrator assigns you a role.";
    }
    form.hidden = false;
    await offerJoining();
  } catch (problem) {
    heading.textContent = "This link cannot be used";
    alertWith(alert, inWords(problem));
  }
}

/** Someone already signed in joins with their account instead of making another. */
async function offerJoining() {
  if (!session()) return;
  let me;
  try { me = await api("GET", "/api/current-user"); } catch { return; }
  document.getElementById("signed-in-as").textContent = `You are signed in as ${me.email}.`;
  document.getElementById("signed-in").hidden = false;
  document.getElementById("join").addEventListener("click", async () => {
    alertWith(alert, "");
    try {
      const joined = await api("POST", "/api/invite/accept", { token });
      finished(joined.organization_membership?.role, "You joined");
    } catch (problem) { alertWith(alert, inWords(problem)); }
  });
}

/** After joining: a pending person is told so; anyone else goes in. */
function finished(role, title) {
  if (role !== "NO") return location.assign("/organization/");
  form.hidden = true;
  invitation.hidden = true;
  document.getElementById("signed-in").hidden = true;
  const done = document.getElementById("done");
  done.hidden = false;
  done.textContent = "Your account is pending: an Owner or Administrator has to assign you a role " +
    "before you can do anything. You can close this page.";
  heading.textContent = title;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  alertWith(alert, "");
  const button = form.querySelector("button");
  button.disabled = true;
  const field = (id) => document.getElementById(id).value.trim();
  const body = {
    email: field("email"), password: document.getElementById("password").value,
    first_name: field("first_name"), last_name: field("last_name"),
  };
  if (token) body.token = token;
  try {
    const joined = await api("POST", "/api/signup", body);
    keepSession(joined);
    finished(joined.organization_membership?.role, "Account created");
  } catch (problem) {
    if (problem.code === "email_taken" && token) {
      // An existing account joins by signing in and coming back here.
      const back = `/user/signup/?token=${encodeURIComponent(token)}`;
      alertWith(alert, "An account with this email already exists. ");
      alert.append(Object.assign(document.createElement("a"), {
        href: `/user/login/?next=${encodeURIComponent(back)}`, textContent: "Sign in to join",
      }), ".");
      return;
    }
    alertWith(alert, inWords(problem));
  } finally {
    button.disabled = false;
  }
});

start();
