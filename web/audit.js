// The audit log: operator actions newest first (when, action, what, outcome, client address
// and the X-Forwarded-For the client reported), an action filter, cursor paging.

import { gql } from "./graphql.js";
import { describeError, h, notice, time } from "./ui.js";

const PAGE_SIZE = 50;
const AUDIT = `query AuditLog($first: Int, $after: String, $filter: AuditLogFilter) {
  auditLog(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id at action summary outcome result clientAddress forwardedFor } }
  }
}`;
const OUTCOME = { SUCCEEDED: "Succeeded", FAILED: "Failed", PENDING: "No outcome" };

export function render({ main, signal }) {
  document.title = "Audit log · acumatica-bridge";
  const state = { action: "", cursors: [null], endCursor: null };
  let loadSeq = 0;
  const summary = h("p", { class: "page-summary", id: "audit-summary", "aria-live": "polite" });
  const action = h("input", { id: "audit-action", type: "search", placeholder: "e.g. retryJobs", autocomplete: "off" });
  const results = h("div", { class: "results", id: "audit-results" });
  const prev = h("button", { type: "button", class: "button", id: "audit-prev" }, "Previous");
  const next = h("button", { type: "button", class: "button", id: "audit-next" }, "Next");
  const pager = h("nav", { class: "pager", "aria-label": "Pages" }, prev, next);
  main.append(
    h("div", { class: "page-head" }, h("h1", {}, "Audit log"), summary),
    h("div", { class: "filters" }, h("div", { class: "field" }, h("label", { for: "audit-action" }, "Action"), action)),
    results,
    pager,
  );
  action.addEventListener("change", () => {
    state.action = action.value.trim();
    state.cursors = [null];
    load();
  });
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
  load();

  async function load() {
    const seq = ++loadSeq;
    results.setAttribute("aria-busy", "true");
    let data;
    try {
      data = await gql(AUDIT, {
        first: PAGE_SIZE,
        after: state.cursors.at(-1),
        filter: state.action ? { action: state.action } : null,
      });
    } catch (e) {
      if (seq !== loadSeq || signal.aborted) return;
      results.removeAttribute("aria-busy");
      results.replaceChildren(notice("error", `The audit log could not be loaded: ${describeError(e)}`));
      return;
    }
    if (seq !== loadSeq || signal.aborted) return;
    const conn = data.auditLog;
    state.endCursor = conn.pageInfo.hasNextPage ? conn.pageInfo.endCursor : null;
    summary.textContent = conn.totalCount ? `${conn.totalCount} ${conn.totalCount === 1 ? "entry" : "entries"}` : "";
    results.removeAttribute("aria-busy");
    results.replaceChildren(
      conn.edges.length
        ? table(conn.edges.map((e) => e.node))
        : h("div", { class: "card empty", id: "audit-empty" }, h("p", {}, "No operator actions recorded yet.")),
    );
    pager.hidden = state.cursors.length === 1 && !state.endCursor;
    prev.disabled = state.cursors.length === 1;
    next.disabled = !state.endCursor;
  }
}

function table(entries) {
  const cols = ["When", "Action", "What", "Outcome", "Client"];
  return h(
    "div",
    { class: "card table-wrap" },
    h(
      "table",
      { class: "table table-cards", id: "audit-table" },
      h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c)))),
      h(
        "tbody",
        {},
        entries.map((e) =>
          h(
            "tr",
            { "data-entry": e.id, "data-action": e.action },
            h("td", { "data-label": "When" }, time(e.at)),
            h("th", { scope: "row", "data-label": "Action" }, e.action),
            h("td", { "data-label": "What" }, e.summary),
            h(
              "td",
              { "data-label": "Outcome", "data-outcome": e.outcome },
              OUTCOME[e.outcome] ?? e.outcome,
              e.result ? h("div", { class: "muted" }, e.result) : "",
            ),
            h(
              "td",
              { "data-label": "Client", class: "audit-client" },
              e.clientAddress ?? "",
              e.forwardedFor ? h("div", { class: "muted" }, `X-Forwarded-For: ${e.forwardedFor}`) : "",
            ),
          ),
        ),
      ),
    ),
  );
}
