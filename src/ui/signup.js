// /user/signup/: looks a token up before asking for anything, then signs the person up through it.
import { alertWith, api, inWords, keepSession, ROLE_NAMES } from "/ui/api.js";

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
  } catch (problem) {
    heading.textContent = "This link cannot be used";
    alertWith(alert, inWords(problem));
  }
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
    const role = joined.organization_membership?.role;
    if (role === "NO") {
      form.hidden = true;
      invitation.hidden = true;
      const done = document.getElementById("done");
      done.hidden = false;
      done.textContent = "Your account is pending: an Owner or Administrator has to assign you a role " +
        "before you can do anything. You can close this page.";
      heading.textContent = "Account created";
    } else {
      location.assign("/organization/");
    }
  } catch (problem) {
    alertWith(alert, inWords(problem));
  } finally {
    button.disabled = false;
  }
});

start();
