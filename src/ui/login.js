// /user/login/: signs in and goes where the person was headed (only ever a page of this site).
import { alertWith, api, inWords, keepSession } from "/ui/api.js";

const form = document.getElementById("login");
const alert = document.getElementById("alert");

function destination() {
  const next = new URLSearchParams(location.search).get("next") || "/organization/";
  // A path of this site only: never another origin, never a protocol-relative "//host".
  return next.startsWith("/") && !next.startsWith("//") ? next : "/organization/";
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  alertWith(alert, "");
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const tokens = await api("POST", "/api/auth/login", {
      email: document.getElementById("email").value.trim(),
      password: document.getElementById("password").value,
    });
    keepSession(tokens);
    location.assign(destination());
  } catch (problem) {
    alertWith(alert, inWords(problem));
  } finally {
    button.disabled = false;
  }
});
