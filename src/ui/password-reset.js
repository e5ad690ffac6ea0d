// /user/password-reset/: asks for a reset link by email, or, with the link's token, sets the new
// password. Either way the person then signs in again.
import { alertWith, api, endSession, inWords } from "/ui/api.js";

const token = new URLSearchParams(location.search).get("token");
const alert = document.getElementById("alert");
const done = document.getElementById("done");
const form = document.getElementById(token ? "choose" : "ask");
form.hidden = false;

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  alertWith(alert, "");
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    if (token) {
      await api("POST", "/api/auth/password-reset/confirm", {
        token, password: document.getElementById("password").value,
      });
      endSession();
      done.replaceChildren();
      done.append("Your password is set. ", Object.assign(document.createElement("a"), {
        href: "/user/login/", textContent: "Sign in",
      }), " with it.");
    } else {
      await api("POST", "/api/auth/password-reset", { email: document.getElementById("email").value.trim() });
      done.textContent = "If an account has this address, a reset link is on its way. It works once, for an hour.";
    }
    form.hidden = true;
    done.hidden = false;
  } catch (problem) {
    alertWith(alert, problem.code === "password_reset_invalid"
      ? "This reset link is unknown, used or expired. Ask for a new one." : inWords(problem));
  } finally {
    button.disabled = false;
  }
});
