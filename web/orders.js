// The orders list: cursor paging, filters by sync and payment status, search, and live updates
// through the orderUpdates subscription. Filters live in the hash (#/orders?sync=…&payment=…&q=…)
// so a reload or a shared link keeps them. Rows can be selected (a checkbox each, one for the
// page) and synced together with syncOrders; a progress bar follows their SYNC_ORDER jobs
// through jobUpdates to a summary.

import { gql, subscribe } from "./graphql.js";
import {
  PAYMENT_STATUS,
  SYNC_STATUS,
  debounce,
  describeError,
  h,
  money,
  notice,
  paymentBadge,
  salesOrderLabel,
  syncBadge,
  time,
  toast,
} from "./ui.js";

const ORDERS = `query Orders($first: Int, $after: String, $filter: OrderFilter) {
  orders(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { number placedAt email total currency paymentStatus sync { status salesOrderType salesOrderNbr } } }
  }
}`;

const JOB_FIELDS = `id status orderNumber lastError waitingFor updatedAt`;
const SYNC_ORDERS = `mutation SyncOrders($numbers: [String!]!) { syncOrders(numbers: $numbers) { ${JOB_FIELDS} } }`;
const JOB_UPDATES = `subscription SyncJobs { jobUpdates(kind: SYNC_ORDER) { ${JOB_FIELDS} } }`;

/** Job statuses after which a job of a bulk sync counts as done. */
const FINISHED = ["SUCCEEDED", "FAILED", "CANCELED"];

const UPDATES = `subscription OrderUpdates { orderUpdates { number } }`;

const PAGE_SIZES = [25, 50, 100];

/** The hash of the list as last shown, so an order page can link back to it. */
export let lastListHash = "#/orders";

export function render({ main, query, onCleanup, signal }) {
  document.title = "Orders · acumatica-bridge";
  const state = {
    search: query.get("q") ?? "",
    sync: SYNC_STATUS[query.get("sync")] ? query.get("sync") : "",
    payment: PAYMENT_STATUS[query.get("payment")] ? query.get("payment") : "",
    size: PAGE_SIZES.includes(Number(query.get("size"))) ? Number(query.get("size")) : PAGE_SIZES[0],
    cursors: [null], // the `after` of each page shown so far; the last is the current page
    changed: new Set(), // numbers changed by a live event since the last load
    selected: new Set(), // numbers ticked, kept across live reloads and pages
    shown: [], // numbers on the page shown
  };
  let loadSeq = 0;
  let run = null; // the bulk sync followed: { jobs: Map(id → job), total }

  const summary = h("p", { class: "page-summary", id: "orders-summary", "aria-live": "polite" });
  const search = h("input", {
    id: "orders-search",
    type: "search",
    value: state.search,
    placeholder: "Order number or email",
    autocomplete: "off",
  });
  const syncSelect = select("orders-sync", "All", SYNC_STATUS, (v) => v.label, state.sync);
  const paymentSelect = select("orders-payment", "All", PAYMENT_STATUS, (v) => v, state.payment);
  const sizeSelect = h(
    "select",
    { id: "orders-size" },
    PAGE_SIZES.map((n) => h("option", { value: String(n), selected: n === state.size }, String(n))),
  );
  const filters = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter orders", onsubmit: (e) => e.preventDefault() },
    field("orders-search", "Search", search, "grow"),
    field("orders-sync", "Sync status", syncSelect),
    field("orders-payment", "Payment status", paymentSelect),
    field("orders-size", "Per page", sizeSelect),
  );
  const results = h("div", { class: "results", id: "orders-results" });
  const prev = h("button", { type: "button", class: "button", id: "orders-prev" }, "Previous");
  const next = h("button", { type: "button", class: "button", id: "orders-next" }, "Next");
  const pageLabel = h("span", { class: "pager-label", id: "orders-page" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages" }, prev, pageLabel, next);

  const selectAll = h("input", { type: "checkbox", id: "orders-select-all" });
  selectAll.addEventListener("change", () => selection.toggleAll(selectAll.checked));
  const selectedText = h("p", { class: "bulk-text", id: "orders-selected", "aria-live": "polite" });
  const clearSelection = h("button", { type: "button", class: "link-button", id: "orders-clear-selection" }, "Clear selection");
  const syncSelected = h("button", { type: "button", class: "button button-primary", id: "sync-selected" }, "Sync selected to Acumatica");
  const bulkBar = h(
    "div",
    { class: "bulk-bar", id: "bulk-bar", role: "region", "aria-label": "Selected orders" },
    h("div", { class: "bulk-select" }, selectAll, h("label", { for: "orders-select-all" }, "Select all on this page")),
    selectedText,
    h("div", { class: "bulk-actions" }, clearSelection, syncSelected),
  );
  const bulkSlot = h("div", { id: "bulk-slot" });

  main.append(h("div", { class: "page-head" }, h("h1", {}, "Orders"), summary), filters, bulkSlot, bulkBar, results, pager);

  const selection = {
    has: (n) => state.selected.has(n),
    toggle: (n, on) => {
      if (on) state.selected.add(n);
      else state.selected.delete(n);
      showSelection();
    },
    toggleAll: (on) => {
      for (const n of state.shown) {
        if (on) state.selected.add(n);
        else state.selected.delete(n);
      }
      for (const box of results.querySelectorAll("input.order-select")) box.checked = on;
      showSelection();
    },
  };

  function showSelection() {
    const n = state.selected.size;
    selectedText.textContent =
      n === 0 ? "Tick orders to sync them to Acumatica together." : `${n} ${n === 1 ? "order" : "orders"} selected`;
    clearSelection.hidden = n === 0;
    syncSelected.disabled = n === 0 || Boolean(run && !run.done);
    const ticked = state.shown.filter((x) => state.selected.has(x)).length;
    selectAll.checked = ticked > 0 && ticked === state.shown.length;
    selectAll.indeterminate = ticked > 0 && ticked < state.shown.length;
    selectAll.disabled = state.shown.length === 0;
  }

  clearSelection.addEventListener("click", () => {
    state.selected.clear();
    for (const box of results.querySelectorAll("input.order-select")) box.checked = false;
    showSelection();
  });
  syncSelected.addEventListener("click", startBulkSync);

  // ---- bulk sync: syncOrders, then each job followed through jobUpdates(kind: SYNC_ORDER) ----
  async function startBulkSync() {
    const numbers = [...state.selected];
    if (numbers.length === 0) return;
    syncSelected.disabled = true;
    syncSelected.textContent = "Starting…";
    let jobs;
    try {
      jobs = (await gql(SYNC_ORDERS, { numbers })).syncOrders;
    } catch (e) {
      if (signal.aborted) return;
      syncSelected.textContent = "Sync selected to Acumatica";
      showSelection();
      bulkSlot.replaceChildren(notice("error", `The sync was not started: ${describeError(e)}`));
      return;
    }
    if (signal.aborted) return;
    syncSelected.textContent = "Sync selected to Acumatica";
    run = { jobs: new Map(jobs.map((j) => [j.id, j])), total: jobs.length, done: false };
    state.selected.clear();
    for (const box of results.querySelectorAll("input.order-select")) box.checked = false;
    showSelection();
    toast(`Syncing ${jobs.length} ${jobs.length === 1 ? "order" : "orders"} to Acumatica.`);
    showRun();
    // Jobs may have moved on before the subscription saw them: read them once more.
    rereadRun();
  }

  function updateRunJob(j) {
    if (!run || !run.jobs.has(j.id)) return;
    const before = run.jobs.get(j.id);
    if (before && Date.parse(before.updatedAt) > Date.parse(j.updatedAt)) return;
    run.jobs.set(j.id, j);
    showRun();
  }

  async function rereadRun() {
    if (!run) return;
    const ids = [...run.jobs.keys()];
    const query = `query RunJobs(${ids.map((_, i) => `$i${i}: ID!`).join(", ")}) {
      ${ids.map((_, i) => `j${i}: job(id: $i${i}) { ${JOB_FIELDS} }`).join("\n")}
    }`;
    try {
      const data = await gql(query, Object.fromEntries(ids.map((id, i) => [`i${i}`, id])));
      if (signal.aborted) return;
      for (const j of Object.values(data)) if (j) updateRunJob(j);
    } catch (e) {
      console.warn("re-reading the sync jobs failed", e);
    }
  }

  function showRun() {
    if (!run) {
      bulkSlot.replaceChildren();
      return;
    }
    const jobs = [...run.jobs.values()];
    const finished = jobs.filter((j) => FINISHED.includes(j.status));
    const synced = jobs.filter((j) => j.status === "SUCCEEDED");
    const failed = jobs.filter((j) => j.status === "FAILED" || j.status === "CANCELED");
    const waiting = jobs.find((j) => !FINISHED.includes(j.status) && j.waitingFor);
    run.done = finished.length === run.total;
    const counts = [
      `${finished.length} of ${run.total} done`,
      synced.length ? `${synced.length} synced` : null,
      failed.length ? `${failed.length} failed` : null,
    ].filter(Boolean);
    const summaryPart = run.done
      ? h(
          "div",
          { id: "bulk-summary" },
          h(
            "p",
            { class: "bulk-summary-line" },
            h("strong", { class: "bulk-synced" }, `${synced.length} synced`),
            failed.length ? [", ", h("strong", { class: "bulk-failed" }, `${failed.length} failed`)] : null,
            ".",
          ),
          failed.length
            ? h(
                "ul",
                { class: "bulk-failures", id: "bulk-failures" },
                failed.map((j) =>
                  h(
                    "li",
                    { "data-order": j.orderNumber },
                    h("a", { href: `#/orders/${encodeURIComponent(j.orderNumber)}` }, `#${j.orderNumber}`),
                    ": ",
                    h("span", { class: "bulk-reason" }, j.status === "CANCELED" ? "the job was canceled." : (j.lastError ?? "no reason given.")),
                    " ",
                    h("a", { class: "muted", href: `#/jobs/${j.id}` }, `job #${j.id}`),
                  ),
                ),
              )
            : null,
        )
      : null;
    const hadFocus = document.activeElement?.id === "bulk-dismiss";
    bulkSlot.replaceChildren(
      h(
        "section",
        { class: `card bulk-sync${run.done && failed.length ? " bulk-sync-failed" : ""}`, id: "bulk-sync", "aria-labelledby": "bulk-title" },
        h(
          "div",
          { class: "bulk-head" },
          h(
            "h2",
            { id: "bulk-title" },
            run.done ? `Sync of ${run.total} ${run.total === 1 ? "order" : "orders"} finished` : `Syncing ${run.total} ${run.total === 1 ? "order" : "orders"} to Acumatica…`,
          ),
          run.done
            ? h("button", { type: "button", class: "link-button", id: "bulk-dismiss", onclick: dismissRun }, "Dismiss")
            : null,
        ),
        h("progress", {
          id: "bulk-progress",
          max: String(run.total),
          value: String(finished.length),
          "aria-label": "Orders synced or failed",
        }),
        h("p", { class: "job-progress-text", id: "bulk-progress-text", role: "status" }, counts.join(" · ")),
        waiting && !run.done ? h("p", { class: "hint" }, `Waiting: ${waiting.waitingFor}`) : null,
        summaryPart,
      ),
    );
    if (hadFocus) document.getElementById("bulk-dismiss")?.focus();
    showSelection();
  }

  function dismissRun() {
    run = null;
    showRun();
    syncSelected.focus();
  }

  onCleanup(
    subscribe(JOB_UPDATES, {}, {
      onData: (data) => {
        if (!signal.aborted) updateRunJob(data.jobUpdates);
      },
      onResync: () => rereadRun(),
    }),
  );

  const refilter = () => {
    state.cursors = [null];
    keepInHash();
    load();
  };
  const searchLater = debounce(() => {
    state.search = search.value.trim();
    refilter();
  }, 300);
  onCleanup(() => searchLater.cancel());
  search.addEventListener("input", searchLater);
  search.addEventListener("change", searchLater);
  search.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      searchLater.cancel();
      state.search = search.value.trim();
      refilter();
    }
  });
  syncSelect.addEventListener("change", () => {
    state.sync = syncSelect.value;
    refilter();
  });
  paymentSelect.addEventListener("change", () => {
    state.payment = paymentSelect.value;
    refilter();
  });
  sizeSelect.addEventListener("change", () => {
    state.size = Number(sizeSelect.value);
    refilter();
  });
  prev.addEventListener("click", () => {
    if (state.cursors.length > 1) {
      state.cursors.pop();
      load({ focus: true });
    }
  });
  next.addEventListener("click", () => {
    if (state.endCursor) {
      state.cursors.push(state.endCursor);
      load({ focus: true });
    }
  });

  // Live: any order change reloads the page shown (debounced), so new orders appear and changed
  // ones move between filters exactly as the API filters them.
  const reloadLater = debounce(() => load(), 250);
  onCleanup(() => reloadLater.cancel());
  onCleanup(
    subscribe(UPDATES, {}, {
      onData: (data) => {
        state.changed.add(data.orderUpdates.number);
        reloadLater();
      },
      onResync: () => reloadLater(),
    }),
  );

  keepInHash();
  showSelection();
  load();

  function keepInHash() {
    const q = new URLSearchParams();
    if (state.search) q.set("q", state.search);
    if (state.sync) q.set("sync", state.sync);
    if (state.payment) q.set("payment", state.payment);
    if (state.size !== PAGE_SIZES[0]) q.set("size", String(state.size));
    const text = q.toString();
    lastListHash = `#/orders${text ? `?${text}` : ""}`;
    if (location.hash !== lastListHash) history.replaceState(null, "", lastListHash);
  }

  async function load({ focus = false } = {}) {
    const seq = ++loadSeq;
    const filter = {};
    if (state.search) filter.search = state.search;
    if (state.sync) filter.syncStatus = state.sync;
    if (state.payment) filter.paymentStatus = state.payment;
    results.setAttribute("aria-busy", "true");
    let data;
    try {
      data = await gql(ORDERS, { first: state.size, after: state.cursors.at(-1), filter });
    } catch (e) {
      if (seq !== loadSeq) return;
      results.removeAttribute("aria-busy");
      results.replaceChildren(notice("error", `The orders could not be loaded: ${describeError(e)}`));
      return;
    }
    if (seq !== loadSeq) return;
    const { totalCount, pageInfo, edges } = data.orders;
    const changed = state.changed;
    state.changed = new Set();
    if (edges.length === 0 && state.cursors.length > 1) {
      // The page emptied (orders moved out of the filter): go back to the first page.
      state.cursors = [null];
      load();
      return;
    }
    state.endCursor = pageInfo.hasNextPage ? pageInfo.endCursor : null;
    const first = (state.cursors.length - 1) * state.size + (edges.length ? 1 : 0);
    const last = (state.cursors.length - 1) * state.size + edges.length;
    const filtered = Boolean(state.search || state.sync || state.payment);
    summary.textContent =
      totalCount === 0
        ? ""
        : `${first}–${last} of ${totalCount} ${totalCount === 1 ? "order" : "orders"}${filtered ? " matching the filters" : ""}`;
    results.removeAttribute("aria-busy");
    results.replaceChildren(
      edges.length === 0
        ? h(
            "div",
            { class: "empty", id: "orders-empty" },
            filtered
              ? h("p", {}, "No orders match these filters.")
              : h("p", {}, "No orders yet. Orders appear here as soon as the store records them with the recordOrder mutation."),
          )
        : table(edges.map((e) => e.node), changed, selection),
    );
    state.shown = edges.map((e) => e.node.number);
    showSelection();
    prev.disabled = state.cursors.length <= 1;
    next.disabled = !state.endCursor;
    pageLabel.textContent = `Page ${state.cursors.length}`;
    pager.hidden = state.cursors.length <= 1 && !state.endCursor;
    if (focus) results.querySelector("a")?.focus();
  }
}

function table(orders, changed, selection) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "table table-cards", id: "orders-table" },
      h("caption", { class: "visually-hidden" }, "Orders, newest first"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col", class: "select-cell" }, h("span", { class: "visually-hidden" }, "Selected")),
          h("th", { scope: "col" }, "Order"),
          h("th", { scope: "col" }, "Date"),
          h("th", { scope: "col" }, "Email"),
          h("th", { scope: "col", class: "num" }, "Total"),
          h("th", { scope: "col" }, "Payment"),
          h("th", { scope: "col" }, "Sync status"),
          h("th", { scope: "col" }, "Acumatica order"),
        ),
      ),
      h(
        "tbody",
        {},
        orders.map((o) =>
          h(
            "tr",
            { "data-order": o.number, class: changed.has(o.number) ? "row-updated" : null },
            h(
              "td",
              { class: "select-cell", "data-label": "Select" },
              h("input", {
                type: "checkbox",
                class: "order-select",
                value: o.number,
                checked: selection.has(o.number),
                "aria-label": `Select order #${o.number}`,
                onchange: (e) => selection.toggle(o.number, e.currentTarget.checked),
              }),
            ),
            h(
              "th",
              { scope: "row", "data-label": "Order" },
              h("a", { href: `#/orders/${encodeURIComponent(o.number)}` }, `#${o.number}`),
            ),
            h("td", { "data-label": "Date" }, time(o.placedAt)),
            h("td", { "data-label": "Email", class: "email" }, o.email),
            h("td", { "data-label": "Total", class: "num" }, money(o.total, o.currency)),
            h("td", { "data-label": "Payment" }, paymentBadge(o.paymentStatus)),
            h("td", { "data-label": "Sync status" }, syncBadge(o.sync.status)),
            h(
              "td",
              { "data-label": "Acumatica order", class: "mono sales-order" },
              salesOrderLabel(o.sync) ?? h("span", { class: "muted" }, "—"),
            ),
          ),
        ),
      ),
    ),
  );
}

function select(id, allLabel, options, label, selected) {
  return h(
    "select",
    { id },
    h("option", { value: "" }, allLabel),
    Object.entries(options).map(([value, v]) => h("option", { value, selected: value === selected }, label(v))),
  );
}

function field(id, label, control, extra = "") {
  return h("div", { class: `field ${extra}` }, h("label", { for: id }, label), control);
}
