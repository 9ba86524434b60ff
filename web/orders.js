// The orders list: cursor paging, filters by sync and payment status, search, and live updates
// through the orderUpdates subscription. Filters live in the hash (#/orders?sync=…&payment=…&q=…)
// so a reload or a shared link keeps them.

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
  syncBadge,
  time,
} from "./ui.js";

const ORDERS = `query Orders($first: Int, $after: String, $filter: OrderFilter) {
  orders(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { number placedAt email total currency paymentStatus sync { status } } }
  }
}`;

const UPDATES = `subscription OrderUpdates { orderUpdates { number } }`;

const PAGE_SIZES = [25, 50, 100];

/** The hash of the list as last shown, so an order page can link back to it. */
export let lastListHash = "#/orders";

export function render({ main, query, onCleanup }) {
  document.title = "Orders · acumatica-bridge";
  const state = {
    search: query.get("q") ?? "",
    sync: SYNC_STATUS[query.get("sync")] ? query.get("sync") : "",
    payment: PAYMENT_STATUS[query.get("payment")] ? query.get("payment") : "",
    size: PAGE_SIZES.includes(Number(query.get("size"))) ? Number(query.get("size")) : PAGE_SIZES[0],
    cursors: [null], // the `after` of each page shown so far; the last is the current page
    changed: new Set(), // numbers changed by a live event since the last load
  };
  let loadSeq = 0;

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

  main.append(h("div", { class: "page-head" }, h("h1", {}, "Orders"), summary), filters, results, pager);

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
        : table(edges.map((e) => e.node), changed),
    );
    prev.disabled = state.cursors.length <= 1;
    next.disabled = !state.endCursor;
    pageLabel.textContent = `Page ${state.cursors.length}`;
    pager.hidden = state.cursors.length <= 1 && !state.endCursor;
    if (focus) results.querySelector("a")?.focus();
  }
}

function table(orders, changed) {
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
          h("th", { scope: "col" }, "Order"),
          h("th", { scope: "col" }, "Date"),
          h("th", { scope: "col" }, "Email"),
          h("th", { scope: "col", class: "num" }, "Total"),
          h("th", { scope: "col" }, "Payment"),
          h("th", { scope: "col" }, "Sync status"),
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
              "th",
              { scope: "row", "data-label": "Order" },
              h("a", { href: `#/orders/${encodeURIComponent(o.number)}` }, `#${o.number}`),
            ),
            h("td", { "data-label": "Date" }, time(o.placedAt)),
            h("td", { "data-label": "Email", class: "email" }, o.email),
            h("td", { "data-label": "Total", class: "num" }, money(o.total, o.currency)),
            h("td", { "data-label": "Payment" }, paymentBadge(o.paymentStatus)),
            h("td", { "data-label": "Sync status" }, syncBadge(o.sync.status)),
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
