// Forms with inline validation, shared by the connection page and the X-Cart store section:
// labelled inputs with a hint and an error line, checks as the user types, the first problem
// focused on submit, and the API's BAD_INPUT errors shown at their fields.

import { h } from "./ui.js";

/**
 * One labelled input with its hint and error line. The input's id is `inputId`; the hint's and
 * error's ids are `${noteId}-hint` and `${noteId}-error`. Returns { el, input, setError, hasError }.
 */
export function field({ inputId, noteId = inputId, name, label, attrs = {}, hint }) {
  const input = h("input", { id: inputId, name, spellcheck: "false", "aria-describedby": `${noteId}-hint`, ...attrs });
  const err = h("p", { class: "field-error", id: `${noteId}-error`, hidden: true });
  const setError = (msg) => {
    err.textContent = msg ?? "";
    err.hidden = !msg;
    if (msg) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", `${noteId}-error ${noteId}-hint`);
    } else {
      input.removeAttribute("aria-invalid");
      input.setAttribute("aria-describedby", `${noteId}-hint`);
    }
  };
  return {
    el: h("div", { class: "field" }, h("label", { for: inputId }, label), input, h("p", { class: "hint", id: `${noteId}-hint` }, hint), err),
    input,
    setError,
    hasError: () => !err.hidden,
  };
}

/** An API message for a field, without the field's path it may start with, capitalised. */
export function fieldMessage(message) {
  const text = message.replace(/^input\.\w+:\s*/, "");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * Wires validation into `form` (a <form> holding `controls`, name → field): `check(values)`
 * returns { name: message }; a field in error is checked again as it changes (and, with
 * `onChange`, any field once it is left filled in); on submit the first problem is focused,
 * else `onValid(values)` runs. Returns { values, apiErrors }.
 */
export function checked(form, controls, check, onValid, { onChange = false } = {}) {
  const values = () => Object.fromEntries(Object.entries(controls).map(([n, c]) => [n, c.input.value]));
  const validate = (only) => {
    const errors = check(values());
    for (const [name, c] of Object.entries(controls)) {
      if (!only || only === name || c.hasError()) c.setError(errors[name]);
    }
    return errors;
  };
  form.addEventListener("input", (e) => {
    if (controls[e.target.name]?.hasError()) validate(e.target.name);
  });
  if (onChange) {
    form.addEventListener("change", (e) => {
      if (controls[e.target.name] && e.target.value !== "") validate(e.target.name);
    });
  }
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const errors = validate();
    const first = Object.keys(controls).find((n) => errors[n]);
    if (first) {
      controls[first].input.focus();
      return;
    }
    onValid(values());
  });
  return {
    values,
    /** Shows the API's BAD_INPUT errors (path → message) at their fields; true when one was. */
    apiErrors(fields) {
      let first = null;
      for (const [path, message] of Object.entries(fields)) {
        const name = path.replace(/^input\./, "");
        if (controls[name]) {
          controls[name].setError(fieldMessage(message));
          first ??= name;
        }
      }
      if (first) controls[first].input.focus();
      return Boolean(first);
    },
  };
}

/**
 * The rule every service URL follows (as the API checks it): a full address, https unless the
 * host is this machine. Returns { url, error } (`url` null when unreadable).
 */
export function checkServiceUrl(raw, { what, example }) {
  let url;
  try {
    url = new URL(raw);
  } catch {
    return { url: null, error: `Enter a full address, such as ${example}.` };
  }
  const loopback = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i.test(url.hostname);
  if (url.protocol === "http:" && !loopback) {
    return { url, error: "Use https:// (plain http is only allowed for this machine, such as http://127.0.0.1)." };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return { url, error: `The ${what} must start with https://.` };
  }
  return { url, error: null };
}
