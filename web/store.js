// The "X-Cart store" section of the connection page: the store connection's status, the form
// that connects it (checked by the API with one request to the store; its objections shown at
// their field), the details once connected (never the token: the API does not return it), the
// last import, change detection, the last error and the rejected orders, "Reset" after a
// confirmation, and the "Catch up" form whose IMPORT_ORDERS job is followed live. Kept current
// through storeConnectionUpdates and jobUpdates(kind: IMPORT_ORDERS).

import { followJobs } from "./follow.js";
import { checkServiceUrl, checked, field, fieldMessage } from "./form.js";
import { GraphQLError, gql, subscribe } from "./graphql.js";
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

const STORE_FIELDS = `status storeUrl importIntervalSeconds lastImportAt lastError connectedAt changeDetection
  tokenAccess rejectedOrders { number reason at }`;
const JOB_FIELDS = `id kind status attempts maxAttempts lastError updatedAt progress { done total message }`;

const LOAD = `query Store {
  storeConnection { ${STORE_FIELDS} }
  settings { writeBackShipments }
  jobs(filter: { kind: IMPORT_ORDERS }, first: 1) { edges { node { ${JOB_FIELDS} } } }
}`;
const STORE = `query Store { storeConnection { ${STORE_FIELDS} } }`;
const CONNECT = `mutation ConnectStore($input: StoreConnectionInput!) { connectStore(input: $input) { ${STORE_FIELDS} } }`;
const RESET = `mutation ResetStore { resetStoreConnection { ${STORE_FIELDS} } }`;
const IMPORT = `mutation ImportOrders($since: DateTime!, $until: DateTime) { importOrders(since: $since, until: $until) { ${JOB_FIELDS} } }`;
const JOB = `query Job($id: ID!) { job(id: $id) { ${JOB_FIELDS} } }`;
const STORE_UPDATES = `subscription StoreUpdates { storeConnectionUpdates { ${STORE_FIELDS} } }`;
const JOB_UPDATES = `subscription ImportJobs { jobUpdates(kind: IMPORT_ORDERS) { ${JOB_FIELDS} } }`;

const DEFAULT_INTERVAL = 60;

const CHANGE_DETECTION = {
  LAST_RENEW_DATE: "By the orders' last change date (X-Cart 5.5.1 or later)",
  LOOK_BACK: "By re-reading recent orders (X-Cart 5.5.0)",
};

/** What the store form checks before asking the API (which has the last word). */
export function checkStoreForm(values) {
  const errors = {};
  const raw = String(values.storeUrl ?? "").trim();
  if (!raw) {
    errors.storeUrl = "Store URL is required.";
  } else {
    const { error } = checkServiceUrl(raw, { what: "store URL", example: "https://shop.example.com" });
    if (error) errors.storeUrl = error;
  }
  if (!String(values.apiToken ?? "")) errors.apiToken = "API token is required.";
  const interval = String(values.importIntervalSeconds ?? "").trim();
  if (!/^\d+$/.test(interval) || Number(interval) < 5 || Number(interval) > 86400) {
    errors.importIntervalSeconds = "A whole number of seconds from 5 to 86400 (one day).";
  }
  return errors;
}

const TOKEN_ACCESS = {
  READ_ONLY: "Read-only (the store refused a write)",
  READ_WRITE: "Read/write (the store took a write)",
  UNKNOWN: "Not known until the first shipment is written back",
};

/** "every 60 seconds", "every 5 minutes", "every 2 hours". */
function every(seconds) {
  if (seconds % 3600 === 0) return `every ${seconds / 3600 === 1 ? "hour" : `${seconds / 3600} hours`}`;
  if (seconds % 60 === 0) return `every ${seconds / 60 === 1 ? "minute" : `${seconds / 60} minutes`}`;
  return `every ${seconds} seconds`;
}

/** A datetime-local value (the browser's zone) as an RFC 3339 instant, or null. */
function instant(value) {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** Renders the section into `container`. */
export async function renderStore({ container, onCleanup, signal }) {
  const messages = h("div", { class: "page-messages", id: "store-messages" });
  const statusLine = h("div", { class: "connection-status", id: "store-status-line" });
  const details = h("div", { id: "store-details-slot" });
  const form = storeForm(onConnect);
  const catchUp = catchUpForm(onCatchUp);
  const body = h("div", { id: "store-body" });
  container.append(
    h(
      "section",
      { class: "store-section", id: "store-section", "aria-labelledby": "store-title" },
      h("h2", { class: "section-title", id: "store-title" }, "X-Cart store"),
      h("p", { class: "hint section-hint" }, "The online store the bridge imports orders from (X-Cart 5.5 or later, through its REST API)."),
      messages,
      statusLine,
      body,
    ),
  );


  // The status line's elements live as long as the page: each import updates the connection,
  // and a button re-created under the pointer would lose its click.
  const badge = h("span", { class: "badge", id: "store-status" });
  const resetButton = h("button", { type: "button", class: "link-button", id: "reset-store", onclick: onReset, hidden: true }, "Reset");
  statusLine.append(badge, resetButton);

  // Whether shipments are written back to the store (from the settings, read on load).
  let writeBack = false;
  const tokenNotice = h(
    "div",
    { class: "notice notice-warning", id: "store-token-readonly", role: "alert" },
    h("strong", {}, "A read/write API token is needed. "),
    "Writing shipments back to the store is on, but the store refused a write with this token: it is the read-only one. ",
    "In the store's admin area, under Settings → API, copy the read/write token and connect again with it below.",
  );

  function showStore(c) {
    const connected = c.status === "CONNECTED";
    const needsToken = connected && writeBack && c.tokenAccess === "READ_ONLY";
    badge.className = `badge ${connected ? "badge-green" : "badge-yellow"}`;
    badge.dataset.status = c.status;
    badge.textContent = connected ? "X-Cart store is connected" : "X-Cart store not connected";
    resetButton.hidden = !connected;
    // An open or closed list of rejected orders stays so across updates.
    const rejectedOpen = details.querySelector("#store-rejected")?.open ?? true;
    if (connected) {
      details.replaceChildren(detailsView(c));
      const list = details.querySelector("#store-rejected");
      if (list) list.open = rejectedOpen;
      if (needsToken) {
        // Prefilled once: later imports update the connection while the operator types.
        if (!body.contains(tokenNotice)) {
          form.prefill(c);
          body.replaceChildren(details, tokenNotice, form.el, catchUp.el);
        }
      } else if (!body.contains(catchUp.el) || body.contains(tokenNotice)) {
        body.replaceChildren(details, catchUp.el);
      }
    } else {
      form.prefill(c);
      details.replaceChildren(
        c.lastError ? notice("error", `The store connection failed: ${c.lastError}`) : "",
        c.rejectedOrders.length ? rejectedView(c.rejectedOrders) : "",
      );
      if (!body.contains(form.el)) body.replaceChildren(details, form.el);
    }
  }

  async function reloadStore() {
    try {
      const data = await gql(STORE);
      if (!signal.aborted) showStore(data.storeConnection);
    } catch (e) {
      if (!signal.aborted) messages.replaceChildren(notice("error", `The store connection could not be loaded: ${describeError(e)}`));
    }
  }

  async function onConnect(input) {
    messages.replaceChildren();
    form.busy(true);
    try {
      const data = await gql(CONNECT, { input });
      if (signal.aborted) return;
      form.busy(false);
      form.clearToken();
      const c = data.connectStore;
      messages.replaceChildren(
        notice(
          "success",
          `Connected to the X-Cart store. New and changed orders are imported ${every(c.importIntervalSeconds)}; use Catch up for older ones.`,
        ),
      );
      showStore(c);
    } catch (err) {
      if (signal.aborted) return;
      form.busy(false);
      const fields = err instanceof GraphQLError ? err.fieldErrors() : {};
      if (form.apiErrors(fields)) {
        messages.replaceChildren(notice("error", "The store refused the connection: see the field marked below."));
      } else if (err instanceof GraphQLError && err.code === "NOT_CONNECTED") {
        messages.replaceChildren(notice("error", `The store could not be reached: ${describeError(err)}`));
      } else {
        messages.replaceChildren(notice("error", `The store was not connected: ${describeError(err)}`));
        if (err instanceof GraphQLError && err.code === "CONFLICT") reloadStore();
      }
    }
  }

  async function onReset() {
    const yes = await confirmDialog({
      title: "Reset the X-Cart connection?",
      message: "The bridge stops importing orders and forgets the API token. Orders already imported stay.",
      confirmLabel: "Reset",
      danger: true,
    });
    if (!yes || signal.aborted) return;
    try {
      const data = await gql(RESET);
      if (signal.aborted) return;
      messages.replaceChildren(notice("info", "The X-Cart connection was reset. Enter an API token to connect again."));
      showStore(data.resetStoreConnection);
      toast("X-Cart connection reset.");
      form.focusToken();
    } catch (e) {
      if (!signal.aborted) messages.replaceChildren(notice("error", `The X-Cart connection was not reset: ${describeError(e)}`));
    }
  }

  function showJob(j) {
    const running = LIVE_JOB_STATUSES.includes(j.status);
    catchUp.busy(running);
    if (running) {
      catchUp.show(
        h(
          "div",
          { class: "catch-up-progress", id: "catch-up-progress" },
          h("p", { class: "catch-up-title" }, "Importing orders from X-Cart…"),
          jobProgress(j.progress ?? { done: 0, total: null, message: "Waiting to start" }, "catch-up-job-progress", "orders"),
          j.status === "RETRY_SCHEDULED" && j.lastError
            ? h("p", { class: "hint" }, `Attempt ${j.attempts} of ${j.maxAttempts} failed: ${j.lastError} It runs again shortly.`)
            : null,
          h("p", { class: "hint" }, "Job ", h("a", { href: `#/jobs/${j.id}` }, `#${j.id}`)),
        ),
      );
    }
  }

  function showEnd(j) {
    const link = h("a", { href: `#/jobs/${j.id}` }, `job #${j.id}`);
    const result =
      j.status === "SUCCEEDED"
        ? h("div", { class: "notice notice-success", role: "status", id: "catch-up-result" }, `Catch-up finished: ${(j.progress?.message ?? "done").replace(/^done:\s*/, "")}. `, link)
        : j.status === "FAILED"
          ? h("div", { class: "notice notice-error", role: "alert", id: "catch-up-result" }, `The catch-up failed: ${j.lastError ?? "no reason given"} `, link)
          : h("div", { class: "notice notice-info", role: "status", id: "catch-up-result" }, "The catch-up was canceled. ", link);
    catchUp.show(result);
  }

  async function onCatchUp({ since, until }) {
    catchUp.busy(true);
    catchUp.show(null);
    try {
      const data = await gql(IMPORT, { since, until });
      if (signal.aborted) return;
      importJob.start(data.importOrders);
    } catch (err) {
      if (signal.aborted) return;
      catchUp.busy(false);
      const fields = err instanceof GraphQLError ? err.fieldErrors() : {};
      if (!catchUp.apiErrors(fields)) catchUp.show(notice("error", `The catch-up was not started: ${describeError(err)}`));
      if (err instanceof GraphQLError && err.code === "NOT_CONNECTED") reloadStore();
    }
  }

  onCleanup(
    subscribe(STORE_UPDATES, {}, {
      onData: (data) => {
        if (!signal.aborted) showStore(data.storeConnectionUpdates);
      },
      onResync: reloadStore,
    }),
  );
  const importJob = followJobs({
    updates: JOB_UPDATES,
    query: JOB,
    signal,
    onCleanup,
    onChange: showJob,
    onEnd: showEnd,
    onError: (e) => catchUp.show(notice("error", `The import job could not be read: ${describeError(e)}`)),
    onResync: reloadStore,
  });

  try {
    const data = await gql(LOAD);
    if (signal.aborted) return;
    writeBack = data.settings.writeBackShipments;
    showStore(data.storeConnection);
    importJob.adopt(data.jobs.edges[0]?.node);
  } catch (e) {
    if (!signal.aborted) messages.replaceChildren(notice("error", `The store connection could not be loaded: ${describeError(e)}`));
  }
}

/** The connection in use: a card of facts, the last error, and the rejected orders. */
function detailsView(c) {
  const fact = (label, value, id) =>
    h("div", {}, h("dt", {}, label), h("dd", { id }, value ?? h("span", { class: "muted" }, "—")));
  return h(
    "div",
    { class: "card store-details", id: "store-details" },
    h(
      "dl",
      { class: "facts-grid" },
      fact("Store URL", c.storeUrl ? h("span", { class: "mono" }, c.storeUrl) : null, "store-detail-url"),
      fact("Imports", every(c.importIntervalSeconds), "store-detail-interval"),
      fact("Connected", c.connectedAt ? time(c.connectedAt) : null, "store-detail-connectedAt"),
      fact("Last import", c.lastImportAt ? time(c.lastImportAt) : h("span", { class: "muted" }, "Not yet"), "store-detail-lastImportAt"),
      fact(
        "Change detection",
        c.changeDetection ? CHANGE_DETECTION[c.changeDetection] ?? c.changeDetection : h("span", { class: "muted" }, "Found out on the first import with orders"),
        "store-detail-changeDetection",
      ),
      fact("API token", h("span", { class: "muted" }, "Stored encrypted; never shown"), "store-detail-token"),
      fact("Token access", TOKEN_ACCESS[c.tokenAccess] ?? c.tokenAccess, "store-detail-tokenAccess"),
    ),
    c.lastError ? h("div", { class: "notice notice-error", id: "store-last-error", role: "alert" }, h("strong", {}, "Last import failed: "), c.lastError) : null,
    rejectedView(c.rejectedOrders),
  );
}

function rejectedView(rejected) {
  if (!rejected.length) {
    return h("p", { class: "hint", id: "store-rejected-none" }, "No order was rejected by the import.");
  }
  return h(
    "details",
    { class: "store-rejected", id: "store-rejected", open: true },
    h("summary", {}, `Rejected orders (${rejected.length})`),
    h("p", { class: "hint" }, "Orders the import skipped because they cannot be bridge orders; fix them in the store to have them imported."),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "table table-cards" },
        h("caption", { class: "visually-hidden" }, "Rejected orders, newest first"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Order"), h("th", { scope: "col" }, "Reason"), h("th", { scope: "col" }, "When"))),
        h(
          "tbody",
          {},
          [...rejected].reverse().map((r) =>
            h(
              "tr",
              { "data-order": r.number },
              h("th", { scope: "row", "data-label": "Order" }, `#${r.number}`),
              h("td", { "data-label": "Reason", class: "rejected-reason" }, r.reason),
              h("td", { "data-label": "When" }, time(r.at)),
            ),
          ),
        ),
      ),
    ),
  );
}

/** A field of the store section: ids `<prefix>-<name>` for the input, hint and error. */
function storeField(prefix, name, label, attrs, hint) {
  return field({ inputId: `${prefix}-${name}`, name, label, attrs, hint });
}

/** The connect form; `onSubmit(input)` gets the checked StoreConnectionInput. */
function storeForm(onSubmit) {
  const controls = {
    storeUrl: storeField("store", "storeUrl", "Store URL", { type: "url", inputmode: "url", autocomplete: "url", required: true },
      "Your store's address, such as https://shop.example.com (its API lives at /api)."),
    apiToken: storeField("store", "apiToken", "API token", { type: "password", autocomplete: "new-password", required: true },
      "From the store's Settings → API; a read-only token is enough to import orders, writing shipments back needs the read/write one. Stored encrypted; never shown again."),
    importIntervalSeconds: storeField("store", "importIntervalSeconds", "Import interval (seconds)",
      { type: "number", min: "5", max: "86400", step: "1", inputmode: "numeric", value: String(DEFAULT_INTERVAL), class: "input-short", required: true },
      "How often the bridge fetches new and changed orders: from 5 seconds to 86400 (one day)."),
  };
  const submit = h("button", { type: "submit", class: "button button-primary", id: "store-connect" }, "Connect");
  const el = h(
    "form",
    { class: "card settings-section", id: "store-form", novalidate: true, "aria-labelledby": "store-form-title" },
    h("h3", { id: "store-form-title" }, "Connect the store"),
    Object.values(controls).map((c) => c.el),
    h("div", { class: "form-actions" }, submit),
  );
  const form = checked(el, controls, checkStoreForm, (v) =>
    onSubmit({ storeUrl: v.storeUrl.trim(), apiToken: v.apiToken, importIntervalSeconds: Number(v.importIntervalSeconds) }),
  );
  let prefilled = false;
  return {
    el,
    busy: (on) => {
      submit.disabled = on;
      submit.textContent = on ? "Checking the store…" : "Connect";
      el.toggleAttribute("aria-busy", on);
    },
    prefill: (c) => {
      if (prefilled) return;
      prefilled = true;
      if (c.storeUrl) controls.storeUrl.input.value = c.storeUrl;
      if (c.importIntervalSeconds) controls.importIntervalSeconds.input.value = String(c.importIntervalSeconds);
    },
    clearToken: () => {
      controls.apiToken.input.value = "";
    },
    focusToken: () => {
      (controls.storeUrl.input.value ? controls.apiToken : controls.storeUrl).input.focus();
    },
    apiErrors: form.apiErrors,
  };
}

/** The "Catch up" form: since / until in the browser's zone, sent as instants. */
function catchUpForm(onSubmit) {
  const since = storeField("catch-up", "since", "From", { type: "datetime-local", required: true, step: "1" },
    "Orders placed at or after this time (your browser's time zone).");
  const until = storeField("catch-up", "until", "Until", { type: "datetime-local", step: "1" },
    "Orders placed before this time. Leave empty for now.");
  const submit = h("button", { type: "submit", class: "button", id: "catch-up" }, "Catch up");
  const slot = h("div", { id: "catch-up-slot", "aria-live": "polite" });
  const el = h(
    "form",
    { class: "card settings-section catch-up", id: "catch-up-form", novalidate: true, "aria-labelledby": "catch-up-title" },
    h("h3", { id: "catch-up-title" }, "Catch up"),
    h(
      "p",
      { class: "hint" },
      "The periodic import brings orders placed since the store was connected. Import older ones (or any missed) here: orders already in the bridge are updated, never doubled.",
    ),
    h("div", { class: "catch-up-fields" }, since.el, until.el),
    h("div", { class: "form-actions" }, submit),
    slot,
  );
  const check = () => {
    const errors = {};
    const s = instant(since.input.value);
    const u = instant(until.input.value);
    if (!s) errors.since = "Choose when the catch-up starts.";
    else if (Date.parse(s) > Date.now()) errors.since = "This time is in the future.";
    if (until.input.value && !u) errors.until = "Enter a full date and time.";
    else if (s && u && Date.parse(u) <= Date.parse(s)) errors.until = "Until must be after From.";
    since.setError(errors.since);
    until.setError(errors.until);
    return { errors, s, u };
  };
  el.addEventListener("submit", (e) => {
    e.preventDefault();
    const { errors, s, u } = check();
    if (errors.since) return since.input.focus();
    if (errors.until) return until.input.focus();
    onSubmit({ since: s, until: u });
  });
  return {
    el,
    busy: (on) => {
      submit.disabled = on;
      submit.textContent = on ? "Importing…" : "Catch up";
    },
    show: (node) => slot.replaceChildren(...(node ? [node] : [])),
    apiErrors: (fields) => {
      const map = { since, until };
      let shown = false;
      for (const [path, message] of Object.entries(fields)) {
        const c = map[path.replace(/^input\./, "")];
        if (c) {
          c.setError(fieldMessage(message));
          shown = true;
        }
      }
      return shown;
    },
  };
}
