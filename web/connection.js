// "Acumatica – Connection Settings": the connection's status, the form that starts a CONNECT
// job (followed live to its end), the details in use once connected (never a secret: the API
// returns none), and "Reset connection". Kept current through connectionUpdates and
// jobUpdates(kind: CONNECT). Below it, the X-Cart store's section (store.js).

import { GraphQLError, gql, subscribe } from "./graphql.js";
import { followJobs } from "./follow.js";
import { checkServiceUrl, checked, field } from "./form.js";
import { renderStore } from "./store.js";
import {
  LIVE_JOB_STATUSES,
  confirmDialog,
  describeError,
  h,
  jobProgress,
  notice,
  time,
  toast,
} from "./ui.js";

const CONNECTION_FIELDS = `status baseUrl tenant username clientId endpointName endpointVersion connectedAt tokenExpiresAt lastError`;
const JOB_FIELDS = `id kind status attempts maxAttempts lastError nextRunAt updatedAt progress { done total message }`;

const LOAD = `query Connection {
  connection { ${CONNECTION_FIELDS} }
  jobs(filter: { kind: CONNECT }, first: 1) { edges { node { ${JOB_FIELDS} } } }
}`;
const CONNECTION = `query Connection { connection { ${CONNECTION_FIELDS} } }`;
const JOB = `query Job($id: ID!) { job(id: $id) { ${JOB_FIELDS} } }`;
const CONNECT = `mutation Connect($input: ConnectInput!) { connect(input: $input) { ${JOB_FIELDS} } }`;
const RESET = `mutation ResetConnection { resetConnection { ${CONNECTION_FIELDS} } }`;
const CONNECTION_UPDATES = `subscription ConnectionUpdates { connectionUpdates { ${CONNECTION_FIELDS} } }`;
const JOB_UPDATES = `subscription ConnectJobs { jobUpdates(kind: CONNECT) { ${JOB_FIELDS} } }`;

/** The form's fields: name (as in ConnectInput), label, input attributes, hint, default. */
const FIELDS = [
  ["baseUrl", "Base URL", { type: "url", autocomplete: "url", inputmode: "url" },
    "Your Acumatica site, such as https://your-company.acumatica.com; add /t/<tenant> for a site with several tenants."],
  ["username", "Username", { type: "text", autocomplete: "username" }, "An Acumatica user allowed to use the API."],
  ["password", "Password", { type: "password", autocomplete: "current-password" }, "Stored encrypted; never shown again."],
  ["clientId", "Client ID", { type: "text", autocomplete: "off" },
    "From Connected Applications (SM303010), such as 1A2B3C4D-…@Company."],
  ["clientSecret", "Client Secret", { type: "password", autocomplete: "new-password" },
    "The shared secret of the connected application. Stored encrypted; never shown again."],
  ["endpointName", "API endpoint name", { type: "text", autocomplete: "off", class: "input-short" }, "Usually Default.", "Default"],
  ["endpointVersion", "API version", { type: "text", autocomplete: "off", class: "input-short" }, "The endpoint's version, such as 24.200.001.", "24.200.001"],
];

/** What the form checks before asking the API (which has the last word and finer checks). */
export function checkConnectForm(values) {
  const errors = {};
  for (const [name, label] of FIELDS) {
    if (!String(values[name] ?? "").trim()) errors[name] = `${label} is required.`;
  }
  const raw = String(values.baseUrl ?? "").trim();
  let url = null;
  if (raw && !errors.baseUrl) {
    const checkedUrl = checkServiceUrl(raw, { what: "Base URL", example: "https://your-company.acumatica.com" });
    url = checkedUrl.url;
    if (checkedUrl.error) errors.baseUrl = checkedUrl.error;
    else if (url.username || url.password || url.search || url.hash) {
      errors.baseUrl = "Leave out any user name, password, ?query or #fragment.";
    }
  }
  const urlTenant = url ? /\/t\/([^/]+)\/*$/.exec(url.pathname)?.[1] : null;
  const idTenant = /@([^@]+)$/.exec(String(values.clientId ?? "").trim())?.[1];
  if (!errors.baseUrl && !errors.clientId && urlTenant && idTenant) {
    const a = decodeURIComponent(urlTenant);
    if (a.toLowerCase() !== idTenant.toLowerCase()) {
      errors.clientId = `The Base URL names tenant "${a}" but this client ID belongs to tenant "${idTenant}" (after the @).`;
    }
  }
  if (!errors.endpointName && !/^[A-Za-z0-9_]+$/.test(String(values.endpointName).trim())) {
    errors.endpointName = "Letters, digits and _ only, such as Default.";
  }
  if (!errors.endpointVersion && !/^\d+\.\d+\.\d+$/.test(String(values.endpointVersion).trim())) {
    errors.endpointVersion = "Three numbers separated by dots, such as 24.200.001.";
  }
  return errors;
}

export async function render({ main, onCleanup, signal }) {
  document.title = "Connection · acumatica-bridge";
  const messages = h("div", { class: "page-messages", id: "connection-messages" });
  const statusLine = h("div", { class: "connection-status", id: "connection-status-line" });
  const progressSlot = h("div", { id: "connect-progress-slot", "aria-live": "polite" });
  const body = h("div", { id: "connection-body" });
  main.append(
    h("div", { class: "page-head" }, h("h1", {}, "Acumatica – Connection Settings")),
    messages,
    statusLine,
    progressSlot,
    body,
  );
  const storeSlot = h("div", { id: "store-slot" });
  main.append(storeSlot);
  renderStore({ container: storeSlot, onCleanup, signal }).catch((e) => {
    if (!signal.aborted) console.warn("the store section failed", e);
  });

  let connection = null;
  const form = connectForm(onSubmit);

  const showJob = (j) => {
    const running = LIVE_JOB_STATUSES.includes(j.status);
    form.busy(running);
    if (running) {
      const first = !progressSlot.firstChild;
      const retry =
        j.status === "RETRY_SCHEDULED" && j.lastError
          ? h("p", { class: "hint" }, `Attempt ${j.attempts} of ${j.maxAttempts} failed: ${j.lastError} It runs again shortly.`)
          : null;
      progressSlot.replaceChildren(
        h(
          "div",
          { class: "card connect-progress", id: "connect-progress" },
          h("h2", {}, "Connecting to Acumatica…"),
          jobProgress(j.progress ?? { done: 0, total: 4, message: "Waiting to start" }, "connect-job-progress"),
          retry,
          h("p", { class: "hint" }, "Job ", h("a", { href: `#/jobs/${j.id}` }, `#${j.id}`)),
        ),
      );
      // The form's button is far below: bring the progress into view once.
      if (first) progressSlot.scrollIntoView({ block: "nearest" });
      return;
    }
    progressSlot.replaceChildren();
  };

  const showEnd = (j) => {
    if (j.status === "SUCCEEDED") {
      form.clearSecrets();
      messages.replaceChildren(
        notice("success", "Connection to Acumatica established"),
        notice("success", "OAuth token generated"),
      );
    } else if (j.status === "FAILED") {
      messages.replaceChildren(notice("error", `The connection failed: ${j.lastError ?? "no reason given"}`));
      form.focusFirst();
    } else if (j.status === "CANCELED") {
      messages.replaceChildren(notice("info", "The connection attempt was canceled."));
    }
    messages.scrollIntoView({ block: "nearest" });
    reloadConnection();
  };

  const showConnection = (c) => {
    connection = c;
    const connected = c.status === "CONNECTED";
    const badge = h(
      "span",
      { class: `badge ${connected ? "badge-green" : "badge-yellow"}`, id: "connection-status", "data-status": c.status },
      connected ? "Acumatica is connected" : "Acumatica not connected",
    );
    const reset = connected
      ? h("button", { type: "button", class: "link-button", id: "reset-connection", onclick: onReset }, "Reset connection")
      : null;
    statusLine.replaceChildren(...[badge, reset].filter(Boolean));
    if (connected) {
      const wasOpen = body.querySelector("#connection-details")?.open ?? false;
      body.replaceChildren(detailsView(c, wasOpen));
    } else {
      form.prefill(c);
      const reason =
        c.lastError && !messages.childElementCount && !connectJob.running()
          ? notice("error", `The connection failed: ${c.lastError}`)
          : null;
      if (reason) messages.replaceChildren(reason);
      if (!body.contains(form.el)) body.replaceChildren(form.el);
    }
  };

  async function reloadConnection() {
    try {
      const data = await gql(CONNECTION);
      if (!signal.aborted) showConnection(data.connection);
    } catch (e) {
      if (!signal.aborted) messages.replaceChildren(notice("error", `The connection could not be loaded: ${describeError(e)}`));
    }
  }

  async function onSubmit(input) {
    messages.replaceChildren();
    form.busy(true);
    try {
      const data = await gql(CONNECT, { input });
      if (signal.aborted) return;
      connectJob.start(data.connect);
    } catch (err) {
      if (signal.aborted) return;
      form.busy(false);
      const fields = err instanceof GraphQLError ? err.fieldErrors() : {};
      const shown = form.apiErrors(fields);
      if (err instanceof GraphQLError && err.code === "CONFLICT") {
        messages.replaceChildren(notice("error", `${describeError(err)}`));
        reloadConnection();
      } else if (!shown) {
        messages.replaceChildren(notice("error", `The connection was not started: ${describeError(err)}`));
      } else {
        messages.replaceChildren(notice("error", "Some connection settings need a correction."));
      }
    }
  }

  async function onReset() {
    const yes = await confirmDialog({
      title: "Reset the connection?",
      message:
        "The bridge forgets the password, client secret and OAuth token, signs out of Acumatica, and stops syncing until you connect again.",
      confirmLabel: "Reset connection",
      danger: true,
    });
    if (!yes || signal.aborted) return;
    try {
      const data = await gql(RESET);
      if (signal.aborted) return;
      connectJob.forget();
      messages.replaceChildren(notice("info", "The connection was reset. Enter the password and client secret to connect again."));
      showConnection(data.resetConnection);
      toast("Connection reset.");
      form.focusFirst();
    } catch (e) {
      if (!signal.aborted) messages.replaceChildren(notice("error", `The connection was not reset: ${describeError(e)}`));
    }
  }

  const connectJob = followJobs({
    updates: JOB_UPDATES,
    query: JOB,
    signal,
    onCleanup,
    onChange: showJob,
    onEnd: showEnd,
    onError: (e) => messages.replaceChildren(notice("error", `The connect job could not be read: ${describeError(e)}`)),
    onResync: reloadConnection,
  });
  onCleanup(
    subscribe(CONNECTION_UPDATES, {}, {
      onData: (data) => {
        if (!signal.aborted) showConnection(data.connectionUpdates);
      },
      onResync: reloadConnection,
    }),
  );

  try {
    const data = await gql(LOAD);
    if (signal.aborted) return;
    connectJob.adopt(data.jobs.edges[0]?.node);
    showConnection(data.connection);
  } catch (e) {
    if (!signal.aborted) messages.replaceChildren(notice("error", `The connection could not be loaded: ${describeError(e)}`));
  }
}

/** The details of the connection in use, in a <details> element (collapsed at first). */
function detailsView(c, open) {
  const row = (label, value, id) =>
    h("div", {}, h("dt", {}, label), h("dd", { id }, value ?? h("span", { class: "muted" }, "—")));
  return h(
    "details",
    { class: "card connection-details", id: "connection-details", open },
    h("summary", {}, "Connection settings"),
    h(
      "dl",
      { class: "facts" },
      row("Base URL", c.baseUrl ? h("span", { class: "mono" }, c.baseUrl) : null, "detail-baseUrl"),
      row("Tenant", c.tenant, "detail-tenant"),
      row("Username", c.username, "detail-username"),
      row("Client ID", c.clientId ? h("span", { class: "mono" }, c.clientId) : null, "detail-clientId"),
      row("API endpoint", c.endpointName && `${c.endpointName} ${c.endpointVersion ?? ""}`.trim(), "detail-endpoint"),
      row("Connected", c.connectedAt ? time(c.connectedAt) : null, "detail-connectedAt"),
      row("OAuth token valid until", c.tokenExpiresAt ? time(c.tokenExpiresAt) : null, "detail-tokenExpiresAt"),
    ),
    h(
      "p",
      { class: "hint" },
      "The password and client secret are stored encrypted and never shown. To change any of these, reset the connection and connect again.",
    ),
  );
}

/** The connect form with inline validation; `onSubmit(input)` gets the checked values. */
function connectForm(onSubmit) {
  const controls = Object.fromEntries(
    FIELDS.map(([name, label, attrs, hint, value]) => [
      name,
      field({ inputId: `connect-${name}`, noteId: name, name, label, hint, attrs: { required: true, value: value ?? "", ...attrs } }),
    ]),
  );
  const submit = h("button", { type: "submit", class: "button button-primary", id: "connect" }, "Connect");
  const el = h(
    "form",
    { class: "card settings-section", id: "connect-form", novalidate: true, "aria-labelledby": "connect-title" },
    h("h2", { id: "connect-title" }, "Connection settings"),
    Object.values(controls).map((c) => c.el),
    h("div", { class: "form-actions" }, submit),
  );
  const keepAsTyped = ["password", "clientSecret"];
  const form = checked(
    el,
    controls,
    checkConnectForm,
    (values) => onSubmit(Object.fromEntries(Object.entries(values).map(([n, v]) => [n, keepAsTyped.includes(n) ? v : v.trim()]))),
    { onChange: true },
  );
  let prefilled = false;
  return {
    el,
    busy: (on) => {
      submit.disabled = on;
      submit.textContent = on ? "Connecting…" : "Connect";
      el.toggleAttribute("aria-busy", on);
    },
    /** Fills the non-secret fields from the stored details, once, where still empty or default. */
    prefill: (c) => {
      if (prefilled) return;
      prefilled = true;
      for (const name of ["baseUrl", "username", "clientId", "endpointName", "endpointVersion"]) {
        if (c[name]) controls[name].input.value = c[name];
      }
    },
    clearSecrets: () => {
      controls.password.input.value = "";
      controls.clientSecret.input.value = "";
    },
    apiErrors: form.apiErrors,
    focusFirst: () => {
      const empty = Object.values(controls).find((c) => !c.input.value);
      (empty ?? controls.baseUrl).input.focus();
    },
  };
}
