// Sign-in with the admin token. The token is checked with one GraphQL request; the bridge
// answers 401 to a wrong one. A good token is kept in sessionStorage only.

import { UnauthorizedError, request, setToken } from "./graphql.js";
import { describeError, h, notice } from "./ui.js";

export function render({ main, message, onSignedIn }) {
  document.title = "Sign in · acumatica-bridge";
  const input = h("input", {
    id: "token",
    name: "token",
    type: "password",
    autocomplete: "current-password",
    required: true,
    spellcheck: "false",
    "aria-describedby": "token-hint",
  });
  const error = h("p", { id: "signin-error", class: "field-error", role: "alert" });
  const button = h("button", { type: "submit", class: "button button-primary", id: "sign-in" }, "Sign in");
  const form = h(
    "form",
    { class: "signin-form", novalidate: true },
    h("label", { for: "token" }, "Admin token"),
    input,
    h(
      "p",
      { id: "token-hint", class: "hint" },
      "The token the bridge printed on its first start (or the value of BRIDGE_ADMIN_TOKEN). It is kept for this browser session only.",
    ),
    error,
    button,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const value = input.value.trim();
    error.textContent = "";
    input.removeAttribute("aria-invalid");
    if (!value) {
      fail("Enter the admin token.");
      return;
    }
    button.disabled = true;
    button.textContent = "Signing in…";
    try {
      await request("query SignIn { __typename }", {}, value);
      setToken(value);
      onSignedIn();
    } catch (err) {
      fail(
        err instanceof UnauthorizedError
          ? "That token is wrong: the bridge refused it. Check it and try again."
          : describeError(err),
      );
    } finally {
      button.disabled = false;
      button.textContent = "Sign in";
    }
  });

  function fail(text) {
    error.textContent = text;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", "signin-error token-hint");
    input.focus();
    input.select();
  }

  main.append(
    h(
      "div",
      { class: "signin-card" },
      h("div", { class: "brand brand-large" }, h("span", { class: "brand-mark", "aria-hidden": "true" }, "AB"), "Acumatica Bridge"),
      h("h1", {}, "Sign in"),
      message ? notice("info", message) : null,
      form,
    ),
  );
  input.focus();
}
