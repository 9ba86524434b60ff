// The jobs list: a count per status (one tab each), kind, error class and order-number prefix
// filters, cursor paging, "Retry all failed", bulk retry / cancel of every job matching the
// filters (jobsCount first, then "Retry 37 jobs?"), and live updates through jobUpdates. The filters live in the hash
// (#/jobs?status=FAILED&kind=CONNECT) so a reload or a shared link keeps them.

import { gql, subscribe } from "./graphql.js";
import {
  JOB_KIND,
  JOB_STATUS,
  confirmDialog,
  debounce,
  describeError,
  h,
  jobBadge,
  notice,
  time,
  toast,
} from "./ui.js";

const PAGE_SIZE = 25;
const STATUSES = Object.keys(JOB_STATUS);

const JOBS = `query Jobs($first: Int, $after: String, $filter: JobFilter, $kind: JobKind) {
  jobs(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id kind status attempts maxAttempts lastError errorClass orderNumber updatedAt nextRunAt waitingFor } }
  }
  all: jobs(first: 1, filter: { kind: $kind }) { totalCount }
  ${STATUSES.map((s) => `${s}: jobs(first: 1, filter: { status: ${s}, kind: $kind }) { totalCount }`).join("\n  ")}
}`;
const RETRY_FAILED = `mutation RetryFailed($filter: JobFilter!) { retryJobs(filter: $filter) { id } }`;
const COUNT = `query BulkCount($filter: JobFilter, $action: JobAction) { jobsCount(filter: $filter, action: $action) }`;
const BULK = {
  RETRY: { mutation: `mutation BulkRetry($filter: JobFilter!) { retryJobs(filter: $filter) { id } }`, verb: "Retry", done: "will run again" },
  CANCEL: { mutation: `mutation BulkCancel($filter: JobFilter!) { cancelJobs(filter: $filter) }`, verb: "Cancel", done: "canceled" },
};
const ERROR_CLASS = { DATA: "Data", TRANSIENT: "Transient", CONFIGURATION: "Configuration" };
const UPDATES = `subscription JobUpdates { jobUpdates { id } }`;

/** The hash of the list as last shown, so a job page can link back to it. */
export let lastJobsHash = "#/jobs";

export function render({ main, query, onCleanup, signal }) {
  document.title = "Jobs · acumatica-bridge";
  const state = {
    status: JOB_STATUS[query.get("status")] ? query.get("status") : "",
    kind: JOB_KIND[query.get("kind")] ? query.get("kind") : "",
    errorClass: ERROR_CLASS[query.get("class")] ? query.get("class") : "",
    prefix: (query.get("prefix") ?? "").trim(),
    cursors: [null],
    counts: null,
  };
  let loadSeq = 0;

  const summary = h("p", { class: "page-summary", id: "jobs-summary", "aria-live": "polite" });
  const messages = h("div", { class: "page-messages", id: "jobs-messages" });
  const tabs = h("ul", { class: "tabs", id: "jobs-tabs" });
  const kindSelect = h(
    "select",
    { id: "jobs-kind" },
    h("option", { value: "" }, "All kinds"),
    Object.entries(JOB_KIND).map(([value, label]) => h("option", { value, selected: value === state.kind }, label)),
  );
  const classSelect = h(
    "select",
    { id: "jobs-class" },
    h("option", { value: "" }, "All error classes"),
    Object.entries(ERROR_CLASS).map(([value, label]) => h("option", { value, selected: value === state.errorClass }, label)),
  );
  const prefixInput = h("input", { id: "jobs-prefix", type: "search", value: state.prefix, placeholder: "e.g. XC-10", autocomplete: "off" });
  const bulkRetry = h("button", { type: "button", class: "button", id: "jobs-bulk-retry" }, "Retry matching…");
  const bulkCancel = h("button", { type: "button", class: "button", id: "jobs-bulk-cancel" }, "Cancel matching…");
  const retryAll = h(
    "button",
    { type: "button", class: "button", id: "retry-all-failed", hidden: true },
    "Retry all failed",
  );
  const results = h("div", { class: "results", id: "jobs-results" });
  const prev = h("button", { type: "button", class: "button", id: "jobs-prev" }, "Previous");
  const next = h("button", { type: "button", class: "button", id: "jobs-next" }, "Next");
  const pageLabel = h("span", { class: "pager-label", id: "jobs-page" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages" }, prev, pageLabel, next);

  main.append(
    h("div", { class: "page-head" }, h("h1", {}, "Jobs"), summary),
    messages,
    h("nav", { class: "tabs-nav", "aria-label": "Job status" }, tabs),
    h(
      "div",
      { class: "filters jobs-filters" },
      h("div", { class: "field" }, h("label", { for: "jobs-kind" }, "Kind"), kindSelect),
      h("div", { class: "field" }, h("label", { for: "jobs-class" }, "Error class"), classSelect),
      h("div", { class: "field" }, h("label", { for: "jobs-prefix" }, "Order number starts with"), prefixInput),
      h("div", { class: "filters-end" }, bulkRetry, bulkCancel, retryAll),
    ),
    results,
    pager,
  );

  kindSelect.addEventListener("change", () => {
    state.kind = kindSelect.value;
    state.cursors = [null];
    keepInHash();
    load();
  });
  classSelect.addEventListener("change", () => {
    state.errorClass = classSelect.value;
    state.cursors = [null];
    keepInHash();
    load();
  });
  const prefixChanged = debounce(() => {
    state.prefix = prefixInput.value.trim();
    state.cursors = [null];
    keepInHash();
    load();
  }, 300);
  onCleanup(() => prefixChanged.cancel());
  prefixInput.addEventListener("input", () => prefixChanged());
  bulkRetry.addEventListener("click", () => bulk("RETRY", bulkRetry));
  bulkCancel.addEventListener("click", () => bulk("CANCEL", bulkCancel));

  // The filter shown: what the list, the count and the bulk action all read.
  function currentFilter() {
    const filter = {};
    if (state.status) filter.status = state.status;
    if (state.kind) filter.kind = state.kind;
    if (state.errorClass) filter.errorClass = state.errorClass;
    if (state.prefix) filter.orderNumberPrefix = state.prefix;
    return filter;
  }

  async function bulk(action, button) {
    const { mutation, verb, done } = BULK[action];
    const filter = currentFilter();
    button.disabled = true;
    try {
      const n = (await gql(COUNT, { filter, action })).jobsCount;
      if (signal.aborted) return;
      if (n === 0) {
        toast(action === "RETRY" ? "No failed or canceled job matches these filters." : "No queued or scheduled job matches these filters.");
        return;
      }
      const jobsWord = n === 1 ? "job" : "jobs";
      const yes = await confirmDialog({
        title: `${verb} ${n} ${jobsWord}?`,
        message:
          action === "RETRY"
            ? `Every failed or canceled job matching the filters (${n}) runs again from its first attempt.`
            : `Every queued or scheduled job matching the filters (${n}) is canceled; running jobs end on their own.`,
        confirmLabel: `${verb} ${n} ${jobsWord}`,
      });
      if (!yes || signal.aborted) return;
      const data = await gql(mutation, { filter });
      if (signal.aborted) return;
      const count = action === "RETRY" ? data.retryJobs.length : data.cancelJobs;
      toast(`${count} ${count === 1 ? "job" : "jobs"} ${done}.`);
      messages.replaceChildren();
      load();
    } catch (e) {
      if (!signal.aborted) messages.replaceChildren(notice("error", `The jobs were not changed: ${describeError(e)}`));
    } finally {
      button.disabled = false;
    }
  }
  prev.addEventListener("click", () => {
    if (state.cursors.length > 1) {
      state.cursors.pop();
      load();
    }
  });
  next.addEventListener("click", () => {
    if (state.endCursor) {
      state.cursors.push(state.endCursor);
      load();
    }
  });
  retryAll.addEventListener("click", async () => {
    const n = state.counts?.FAILED ?? 0;
    const kind = state.kind ? ` of kind ${JOB_KIND[state.kind]}` : "";
    const yes = await confirmDialog({
      title: "Retry all failed jobs?",
      message: `${n === 1 ? "The failed job" : `All ${n} failed jobs`}${kind} will run again, each from its first attempt.`,
      confirmLabel: "Retry all failed",
    });
    if (!yes || signal.aborted) return;
    retryAll.disabled = true;
    try {
      const filter = { status: "FAILED", ...(state.kind ? { kind: state.kind } : {}) };
      const data = await gql(RETRY_FAILED, { filter });
      if (signal.aborted) return;
      const count = data.retryJobs.length;
      toast(count === 1 ? "1 job will run again." : `${count} jobs will run again.`);
      messages.replaceChildren();
      load();
    } catch (e) {
      if (!signal.aborted) messages.replaceChildren(notice("error", `The failed jobs were not retried: ${describeError(e)}`));
    } finally {
      retryAll.disabled = false;
    }
  });

  const reloadLater = debounce(() => load(), 250);
  onCleanup(() => reloadLater.cancel());
  onCleanup(
    subscribe(UPDATES, {}, {
      onData: () => reloadLater(),
      onResync: () => reloadLater(),
    }),
  );

  keepInHash();
  load();

  function keepInHash() {
    const q = new URLSearchParams();
    if (state.status) q.set("status", state.status);
    if (state.kind) q.set("kind", state.kind);
    if (state.errorClass) q.set("class", state.errorClass);
    if (state.prefix) q.set("prefix", state.prefix);
    const hash = `#/jobs${q.size ? `?${q}` : ""}`;
    lastJobsHash = hash;
    if (location.hash !== hash) history.replaceState(null, "", hash);
  }

  function tabHref(status) {
    const q = new URLSearchParams();
    if (status) q.set("status", status);
    if (state.kind) q.set("kind", state.kind);
    if (state.errorClass) q.set("class", state.errorClass);
    if (state.prefix) q.set("prefix", state.prefix);
    return `#/jobs${q.size ? `?${q}` : ""}`;
  }

  function renderTabs() {
    const c = state.counts ?? {};
    const tab = (status, label) =>
      h(
        "li",
        {},
        h(
          "a",
          {
            href: tabHref(status),
            "aria-current": status === state.status ? "page" : null,
            "data-status": status || "ALL",
          },
          label,
          " ",
          h("span", { class: "tab-count", "data-count": c[status || "all"] ?? null }, c[status || "all"] ?? "…"),
        ),
      );
    tabs.replaceChildren(tab("", "All"), ...STATUSES.map((s) => tab(s, JOB_STATUS[s].label)));
  }

  async function load() {
    const seq = ++loadSeq;
    results.setAttribute("aria-busy", "true");
    const filter = currentFilter();
    let data;
    try {
      data = await gql(JOBS, {
        first: PAGE_SIZE,
        after: state.cursors.at(-1),
        filter,
        kind: state.kind || null,
      });
    } catch (e) {
      if (seq !== loadSeq || signal.aborted) return;
      results.removeAttribute("aria-busy");
      results.replaceChildren(notice("error", `The jobs could not be loaded: ${describeError(e)}`));
      return;
    }
    if (seq !== loadSeq || signal.aborted) return;
    const conn = data.jobs;
    // A live change may have emptied the page shown: go back to the first page.
    if (conn.edges.length === 0 && state.cursors.length > 1) {
      state.cursors = [null];
      load();
      return;
    }
    state.counts = Object.fromEntries([["all", data.all.totalCount], ...STATUSES.map((s) => [s, data[s].totalCount])]);
    state.endCursor = conn.pageInfo.hasNextPage ? conn.pageInfo.endCursor : null;
    renderTabs();
    retryAll.hidden = !state.counts.FAILED;
    retryAll.textContent = `Retry all failed (${state.counts.FAILED})`;

    const first = (state.cursors.length - 1) * PAGE_SIZE + 1;
    const last = first + conn.edges.length - 1;
    const what = [state.status && JOB_STATUS[state.status].label.toLowerCase(), state.kind && JOB_KIND[state.kind]]
      .filter(Boolean)
      .join(", ");
    summary.textContent = conn.totalCount
      ? `${first}–${last} of ${conn.totalCount} ${conn.totalCount === 1 ? "job" : "jobs"}${what ? ` (${what})` : ""}`
      : "";
    results.removeAttribute("aria-busy");
    if (conn.edges.length === 0) {
      results.replaceChildren(
        h(
          "div",
          { class: "card empty", id: "jobs-empty" },
          h("p", {}, state.status || state.kind || state.errorClass || state.prefix ? "No jobs match these filters." : "No jobs yet."),
          h(
            "p",
            { class: "muted" },
            "Jobs appear here when the bridge connects to Acumatica, refreshes its lists or syncs an order.",
          ),
        ),
      );
    } else {
      results.replaceChildren(table(conn.edges.map((e) => e.node)));
    }
    pager.hidden = state.cursors.length === 1 && !state.endCursor;
    prev.disabled = state.cursors.length === 1;
    next.disabled = !state.endCursor;
    pageLabel.textContent = `Page ${state.cursors.length}`;
  }
}

function table(jobs) {
  const cols = ["Job", "Kind", "Status", "Attempts", "Order", "Last error", "Updated"];
  return h(
    "div",
    { class: "card table-wrap" },
    h(
      "table",
      { class: "table table-cards", id: "jobs-table" },
      h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c)))),
      h(
        "tbody",
        {},
        jobs.map((j) =>
          h(
            "tr",
            { "data-job": j.id },
            h("th", { scope: "row", "data-label": "Job" }, h("a", { href: `#/jobs/${j.id}` }, `#${j.id}`)),
            h("td", { "data-label": "Kind" }, JOB_KIND[j.kind] ?? j.kind),
            h("td", { "data-label": "Status" }, jobBadge(j.status)),
            h("td", { "data-label": "Attempts", class: "num" }, `${j.attempts} of ${j.maxAttempts}`),
            h(
              "td",
              { "data-label": "Order" },
              j.orderNumber ? h("a", { href: `#/orders/${encodeURIComponent(j.orderNumber)}` }, `#${j.orderNumber}`) : "",
            ),
            h(
              "td",
              { "data-label": "Last error", class: "job-error" },
              j.lastError
                ? h(
                    "span",
                    { title: j.lastError },
                    j.errorClass ? h("span", { class: "badge", "data-class": j.errorClass }, ERROR_CLASS[j.errorClass] ?? j.errorClass) : "",
                    j.errorClass ? " " : "",
                    j.lastError,
                  )
                : j.waitingFor ? h("span", { class: "muted" }, `Waiting for ${j.waitingFor}`) : "",
            ),
            h("td", { "data-label": "Updated" }, time(j.updatedAt)),
          ),
        ),
      ),
    ),
  );
}
