// One order: lines, totals, customer, addresses, payment history, the sync panel (status,
// Sales Order, customer, warnings, last error, every job with its attempts, and Sync / Re-sync)
// and what came after the Sales Order (attention with Mark resolved, cancellation, refunds),
// kept current through orderUpdates(number); the running job's steps come from
// jobUpdates(kind: SYNC_ORDER); below it the shipments written back to the store, each with its
// WRITE_BACK job.
// The Acumatica payments card lists the payments Acumatica shows, the unpaid balance and the
// order's RECORD_PAYMENT jobs (jobUpdates(kind: RECORD_PAYMENT)).

import { AFTERCARE_FIELDS, ATTENTION_FIELDS, aftercareCard } from "./aftercare.js";
import { gql, subscribe } from "./graphql.js";
import { lastListHash } from "./orders.js";
import {
  JOB_KIND,
  LIVE_JOB_STATUSES,
  PAYMENT_STATUS,
  describeError,
  h,
  jobBadge,
  jobProgress,
  money,
  notice,
  paymentBadge,
  salesOrderLabel,
  sum,
  syncBadge,
  time,
  timeSeconds,
  times,
  toast,
} from "./ui.js";

const JOB_FIELDS = `id kind status attempts maxAttempts lastError nextRunAt waitingFor createdAt updatedAt orderNumber
  progress { done total message } history { number startedAt finishedAt error }`;

const ORDER_FIELDS = `number profileId email phone placedAt recordedAt updatedAt currency paymentStatus
  paymentStatusHistory { status at }
  billingAddress { firstName lastName company street street2 city state postalCode country phone }
  shippingAddress { firstName lastName company street street2 city state postalCode country phone }
  items { sku name price quantity warehouseId }
  shippingCost discountTotal taxTotal total paymentMethod
  payments { docType referenceNbr amount appliedToOrder status paymentMethod }
  ${AFTERCARE_FIELDS}
  sync { status salesOrderType salesOrderNbr customerId lastError warnings syncedAt unpaidBalance ${ATTENTION_FIELDS} jobs { ${JOB_FIELDS} } }
  shipments { number status trackingNumbers shippedAt storeShippingStatus writtenBackAt job { id kind status } }`;

const ORDER = `query Order($number: String!) { order(number: $number) { ${ORDER_FIELDS} } }`;
const UPDATES = `subscription OrderUpdates($number: String) { orderUpdates(number: $number) { ${ORDER_FIELDS} } }`;
const JOB_UPDATES = `subscription SyncJobs { jobUpdates(kind: SYNC_ORDER) { ${JOB_FIELDS} } }`;
const WRITE_BACK_UPDATES = `subscription WriteBackJobs { jobUpdates(kind: WRITE_BACK) { id orderNumber } }`;
const CANCEL_UPDATES = `subscription CancelJobs { jobUpdates(kind: CANCEL_ORDER) { id orderNumber } }`;
const PAYMENT_JOB_UPDATES = `subscription PaymentJobs { jobUpdates(kind: RECORD_PAYMENT) { ${JOB_FIELDS} } }`;
const SYNC = `mutation SyncOrder($number: String!) { syncOrder(number: $number) { ${JOB_FIELDS} } }`;

const SYNC_EXPLAINED = {
  NOT_SYNCED: "No sync job has run for this order yet.",
  QUEUED: "A sync job is waiting to run.",
  SYNCING: "A sync job is running.",
  SYNCED: "A Sales Order exists in Acumatica for this order.",
  FAILED: "The sync job failed or was canceled; the order stays failed until it is synced again.",
  NEEDS_ATTENTION: "Synced, then something happened in the store that must be handled in Acumatica by a person: see below.",
};

export async function render({ main, params, onCleanup, signal }) {
  const [number] = params;
  document.title = `Order #${number} · acumatica-bridge`;
  const back = h("a", { class: "back-link", href: lastListHash }, "← All orders");
  const body = h("div", { class: "order", id: "order", "aria-live": "off" });
  main.append(back, body);

  let order = null;
  const jobs = new Map(); // the newest state of this order's jobs seen through jobUpdates
  let starting = false; // a syncOrder call is on its way
  let startError = null;

  const newest = (j) => {
    const seen = jobs.get(j.id);
    return seen && Date.parse(seen.updatedAt) > Date.parse(j.updatedAt) ? seen : j;
  };

  const panel = () =>
    syncPanel(order, {
      jobs: order.sync.jobs.filter((j) => j.kind === "SYNC_ORDER").map(newest),
      starting,
      startError,
      onSync,
    });

  const payments = () => paymentsCard(order, order.sync.jobs.filter((j) => j.kind === "RECORD_PAYMENT").map(newest));

  const showPayments = () => {
    if (!order) return;
    const old = body.querySelector("#acumatica-payments");
    const next = payments();
    if (old && next) old.replaceWith(next);
    else if (!old && next) body.querySelector("#sync-panel")?.after(next);
    else if (old) old.remove();
  };

  const showPanel = () => {
    const old = body.querySelector("#sync-panel");
    if (!old || !order) return;
    const focused = document.activeElement?.id;
    old.replaceWith(panel());
    if (focused && document.activeElement === document.body) document.getElementById(focused)?.focus();
  };

  const show = (o) => {
    if (!o) {
      body.replaceChildren(
        h("h1", {}, `Order #${number}`),
        notice("error", `There is no order #${number} in the bridge.`),
      );
      return;
    }
    order = o;
    const focused = document.activeElement?.id;
    body.replaceChildren(...orderView(o, panel(), payments(), aftercareCard(o, { onResolved: reload })).filter(Boolean), shipmentsView(o));
    if (focused) document.getElementById(focused)?.focus();
  };

  // Every change of the order is an event, so the last event received is the newest state; a
  // query's answer is shown only when no event came while it was on its way (it could be older).
  let events = 0;
  const reload = async () => {
    const before = events;
    try {
      const data = await gql(ORDER, { number });
      if (!signal.aborted && events === before) show(data.order);
    } catch (e) {
      if (!signal.aborted) body.replaceChildren(h("h1", {}, `Order #${number}`), notice("error", `The order could not be loaded: ${describeError(e)}`));
    }
  };

  async function onSync() {
    starting = true;
    startError = null;
    showPanel();
    try {
      const data = await gql(SYNC, { number });
      if (signal.aborted) return;
      const j = data.syncOrder;
      jobs.set(j.id, newest(j));
      toast(order?.sync.status === "SYNCED" ? `Re-sync of order #${number} started.` : `Sync of order #${number} started.`);
    } catch (e) {
      if (signal.aborted) return;
      startError = `The sync was not started: ${describeError(e)}`;
    }
    starting = false;
    // The order's own event brings the new job; read it in case it came before the answer.
    await reload();
  }

  onCleanup(
    subscribe(UPDATES, { number }, {
      onData: (data) => {
        events += 1;
        if (!signal.aborted) show(data.orderUpdates);
      },
      onResync: reload,
    }),
  );
  onCleanup(
    subscribe(JOB_UPDATES, {}, {
      onData: (data) => {
        const j = data.jobUpdates;
        if (signal.aborted || j.orderNumber !== number) return;
        jobs.set(j.id, newest(j));
        showPanel();
      },
      onResync: reload,
    }),
  );
  // A write-back of this order moved (it failed, or waits to retry): read the order again.
  onCleanup(
    subscribe(WRITE_BACK_UPDATES, {}, {
      onData: (data) => {
        if (!signal.aborted && data.jobUpdates.orderNumber === number) reload();
      },
      onResync: reload,
    }),
  );
  // The cancellation of this order's Sales Order moved: read the order again.
  onCleanup(
    subscribe(CANCEL_UPDATES, {}, {
      onData: (data) => {
        if (!signal.aborted && data.jobUpdates.orderNumber === number) reload();
      },
      onResync: reload,
    }),
  );
  onCleanup(
    subscribe(PAYMENT_JOB_UPDATES, {}, {
      onData: (data) => {
        const j = data.jobUpdates;
        if (signal.aborted || j.orderNumber !== number) return;
        jobs.set(j.id, newest(j));
        // A job the order's last read did not list yet: read the order again.
        if (order && !order.sync.jobs.some((k) => k.id === j.id)) reload();
        else showPayments();
      },
      onResync: reload,
    }),
  );
  await reload();
}

/** The sync panel: status, the Sales Order, warnings, errors, the running job's steps, Sync / Re-sync, and every job. */
function syncPanel(o, { jobs, starting, startError, onSync }) {
  const s = o.sync;
  const liveJob = jobs.find((j) => LIVE_JOB_STATUSES.includes(j.status));
  const fact = (label, value, id) =>
    h("div", {}, h("dt", {}, label), h("dd", { id }, value ?? h("span", { class: "muted" }, "—")));
  let action = null;
  if (s.status === "NOT_SYNCED" || s.status === "FAILED" || s.status === "SYNCED") {
    const resync = s.status === "SYNCED";
    action = h(
      "button",
      {
        type: "button",
        class: `button ${resync ? "" : "button-primary"}`,
        id: "sync-order",
        disabled: starting,
        onclick: onSync,
      },
      starting ? "Starting…" : resync ? "Re-sync" : "Sync to Acumatica",
    );
  } else if (liveJob?.status === "RETRY_SCHEDULED" || (s.status === "QUEUED" && s.lastError && !liveJob?.waitingFor)) {
    action = h("button", { type: "button", class: "button", id: "sync-order", disabled: starting, onclick: onSync }, "Retry now");
  }
  let progress = null;
  if (liveJob) {
    const steps = liveJob.progress ?? { done: 0, total: 4, message: liveJob.status === "RUNNING" ? "Starting" : "Waiting to start" };
    progress = h(
      "div",
      { class: "sync-progress", id: "sync-progress", role: "status" },
      jobProgress(steps, "sync-job-progress"),
      liveJob.waitingFor ? h("p", { class: "hint", id: "sync-waiting" }, `Waiting: ${liveJob.waitingFor}.`) : null,
      liveJob.status === "RETRY_SCHEDULED" && liveJob.nextRunAt
        ? h("p", { class: "hint" }, `Attempt ${liveJob.attempts} of ${liveJob.maxAttempts} failed; it runs again at `, timeSeconds(liveJob.nextRunAt), ".")
        : null,
    );
  }
  return h(
    "section",
    { class: "card sync-panel", id: "sync-panel", "aria-labelledby": "sync-title", "data-sync-status": s.status },
    h(
      "div",
      { class: "sync-head" },
      h("h2", { id: "sync-title" }, "Acumatica sync"),
      h("span", { id: "sync-status" }, syncBadge(s.status)),
      action ? h("div", { class: "sync-actions" }, action) : null,
    ),
    h("p", { class: "hint", id: "sync-explained" }, SYNC_EXPLAINED[s.status] ?? ""),
    startError ? notice("error", startError) : null,
    progress,
    h(
      "dl",
      { class: "facts-grid", id: "sync-facts" },
      fact("Sales Order", salesOrderLabel(s) ? h("span", { class: "mono" }, salesOrderLabel(s)) : null, "sync-sales-order"),
      fact("Customer ID", s.customerId ? h("span", { class: "mono" }, s.customerId) : null, "sync-customer"),
      fact("Synced", s.syncedAt ? time(s.syncedAt) : null, "sync-synced-at"),
    ),
    s.warnings.length
      ? h(
          "div",
          { class: "notice notice-warning", id: "sync-warnings", role: "note" },
          h("strong", {}, s.warnings.length === 1 ? "Warning" : `${s.warnings.length} warnings`),
          h("ul", {}, s.warnings.map((w) => h("li", {}, w))),
        )
      : null,
    s.lastError
      ? h(
          "div",
          { class: "notice notice-error", id: "sync-last-error", role: s.status === "FAILED" ? "alert" : null },
          h("strong", {}, s.status === "QUEUED" ? "Last attempt failed: " : "Sync failed: "),
          s.lastError,
        )
      : null,
    jobs.length ? syncHistory(jobs) : null,
  );
}

const STORE_SHIPPING = { S: "Shipped", P: "Processing (part of the order shipped)" };

/** The Acumatica shipments written back to the store, and write-backs on their way. */
function shipmentsView(o) {
  const pending = o.sync.jobs.filter((j) => j.kind === "WRITE_BACK" && !o.shipments.some((s) => s.job?.id === j.id));
  if (!o.shipments.length && !pending.length) return h("div", { id: "order-shipments" });
  const jobLink = (j) => (j ? h("span", {}, " · ", h("a", { href: `#/jobs/${j.id}` }, `WRITE_BACK job #${j.id}`), " ", jobBadge(j.status)) : null);
  return h(
    "section",
    { class: "card", id: "order-shipments", "aria-labelledby": "shipments-title" },
    h("h2", { id: "shipments-title" }, "Shipments"),
    h(
      "ul",
      { class: "shipment-list" },
      o.shipments.map((s) =>
        h(
          "li",
          { class: "shipment", "data-shipment": s.number },
          h("strong", {}, `${STORE_SHIPPING[s.storeShippingStatus] ?? s.storeShippingStatus}: `),
          s.trackingNumbers.length
            ? h("span", {}, "tracking ", s.trackingNumbers.map((t, i) => [i ? ", " : "", h("span", { class: "mono shipment-tracking" }, t)]))
            : h("span", { class: "muted" }, "no tracking number"),
          ", written to the store at ",
          time(s.writtenBackAt),
          h("span", { class: "muted" }, ` (Acumatica shipment ${s.number}, ${s.status})`),
          jobLink(s.job),
        ),
      ),
      pending.map((j) =>
        h(
          "li",
          { class: "shipment shipment-pending", "data-job": j.id },
          "A shipment is being written to the store",
          j.lastError ? h("span", { class: "shipment-error" }, `: ${j.lastError}`) : null,
          jobLink(j),
        ),
      ),
    ),
  );
}

/** Every sync job of the order, newest first, each with its attempts. */
function syncHistory(jobs) {
  return h(
    "details",
    { class: "sync-history", id: "sync-history", open: true },
    h("summary", {}, `Sync history (${jobs.length} ${jobs.length === 1 ? "job" : "jobs"})`),
    jobs.map((j) =>
      h(
        "div",
        { class: "sync-job", "data-job": j.id },
        h(
          "p",
          { class: "sync-job-head" },
          h("a", { href: `#/jobs/${j.id}` }, `Job #${j.id}`),
          h("span", { class: "sync-job-kind" }, JOB_KIND[j.kind] ?? j.kind),
          jobBadge(j.status),
          h("span", { class: "muted" }, `attempt ${j.attempts} of ${j.maxAttempts} · created `, timeSeconds(j.createdAt)),
        ),
        j.history.length
          ? h(
              "div",
              { class: "table-wrap" },
              h(
                "table",
                { class: "table table-cards sync-attempts" },
                h("caption", { class: "visually-hidden" }, `Attempts of job #${j.id}, newest first`),
                h(
                  "thead",
                  {},
                  h(
                    "tr",
                    {},
                    h("th", { scope: "col", class: "num" }, "Attempt"),
                    h("th", { scope: "col" }, "Started"),
                    h("th", { scope: "col" }, "Finished"),
                    h("th", { scope: "col" }, "Result"),
                  ),
                ),
                h(
                  "tbody",
                  {},
                  [...j.history].reverse().map((a) =>
                    h(
                      "tr",
                      { "data-attempt": String(a.number) },
                      h("th", { scope: "row", class: "num", "data-label": "Attempt" }, String(a.number)),
                      h("td", { "data-label": "Started" }, timeSeconds(a.startedAt)),
                      h("td", { "data-label": "Finished" }, a.finishedAt ? timeSeconds(a.finishedAt) : h("span", { class: "muted" }, "running")),
                      h(
                        "td",
                        { "data-label": "Result" },
                        a.error
                          ? h("span", { class: "attempt-error" }, a.error)
                          : a.finishedAt
                            ? h("span", { class: "attempt-ok" }, "OK")
                            : "",
                      ),
                    ),
                  ),
                ),
              ),
            )
          : h("p", { class: "hint" }, j.waitingFor ? `Not started: waiting for ${j.waitingFor}.` : "Not started yet."),
      ),
    ),
  );
}

/** The payments Acumatica shows for the order, its unpaid balance and its RECORD_PAYMENT jobs (none: no card). */
function paymentsCard(o, jobs) {
  if (!o.payments.length && !jobs.length) return null;
  const cur = o.currency;
  return h(
    "section",
    { class: "card", id: "acumatica-payments", "aria-labelledby": "acumatica-payments-title" },
    h("h2", { id: "acumatica-payments-title" }, "Payments in Acumatica"),
    o.payments.length
      ? h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "table table-cards", id: "payments-table" },
            h("caption", { class: "visually-hidden" }, "Payments recorded in Acumatica"),
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ["Reference", "Type", "Method", "Amount", "Applied", "Status"].map((t) =>
                  h("th", { scope: "col", class: t === "Amount" || t === "Applied" ? "num" : null }, t),
                ),
              ),
            ),
            h(
              "tbody",
              {},
              o.payments.map((p) =>
                h(
                  "tr",
                  { "data-payment": p.referenceNbr },
                  h("td", { "data-label": "Reference", class: "mono" }, p.referenceNbr),
                  h("td", { "data-label": "Type" }, p.docType),
                  h("td", { "data-label": "Method" }, p.paymentMethod ?? "—"),
                  h("td", { "data-label": "Amount", class: "num" }, money(p.amount, cur)),
                  h("td", { "data-label": "Applied", class: "num" }, p.appliedToOrder ? money(p.appliedToOrder, cur) : "—"),
                  h("td", { "data-label": "Status", class: "payment-status" }, p.status ?? "—"),
                ),
              ),
            ),
          ),
        )
      : h("p", { class: "hint", id: "payments-none" }, "No payment is recorded in Acumatica yet."),
    h(
      "dl",
      { class: "facts-grid" },
      h("div", {}, h("dt", {}, "Unpaid balance"), h("dd", { id: "unpaid-balance" }, o.sync.unpaidBalance ? money(o.sync.unpaidBalance, cur) : "—")),
      h("div", {}, h("dt", {}, "Store payment method"), h("dd", { id: "store-payment-method" }, o.paymentMethod ?? "—")),
    ),
    jobs.length
      ? h(
          "ul",
          { class: "payment-jobs", id: "payment-jobs" },
          jobs.map((j) =>
            h(
              "li",
              { "data-job": j.id },
              h("a", { href: `#/jobs/${j.id}` }, `Record payment · job #${j.id}`),
              " ",
              jobBadge(j.status),
              j.lastError ? h("span", { class: "muted" }, ` ${j.lastError}`) : null,
            ),
          ),
        )
      : null,
  );
}

function orderView(o, panel, payments, aftercare) {
  const subtotal = sum(o.items.map((i) => times(i.price, i.quantity)));
  return [
    h(
      "div",
      { class: "page-head" },
      h("h1", {}, `Order #${o.number}`),
      h("p", { class: "page-summary" }, "Placed ", time(o.placedAt), " · recorded by the bridge ", time(o.recordedAt)),
    ),
    panel,
    payments,
    aftercare,
    h(
      "div",
      { class: "order-grid" },
      h(
        "div",
        { class: "order-main" },
        h(
          "section",
          { class: "card", "aria-labelledby": "items-title" },
          h("h2", { id: "items-title" }, "Items"),
          h(
            "div",
            { class: "table-wrap" },
            h(
              "table",
              { class: "table table-cards", id: "order-items" },
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  h("th", { scope: "col" }, "SKU"),
                  h("th", { scope: "col" }, "Name"),
                  h("th", { scope: "col" }, "Warehouse"),
                  h("th", { scope: "col", class: "num" }, "Qty"),
                  h("th", { scope: "col", class: "num" }, "Unit price"),
                  h("th", { scope: "col", class: "num" }, "Amount"),
                ),
              ),
              h(
                "tbody",
                {},
                o.items.map((i) =>
                  h(
                    "tr",
                    {},
                    h("td", { "data-label": "SKU", class: "mono" }, i.sku),
                    h("th", { scope: "row", "data-label": "Name" }, i.name),
                    h("td", { "data-label": "Warehouse" }, i.warehouseId ?? h("span", { class: "muted" }, "Default")),
                    h("td", { "data-label": "Qty", class: "num" }, String(i.quantity)),
                    h("td", { "data-label": "Unit price", class: "num" }, money(i.price, o.currency)),
                    h("td", { "data-label": "Amount", class: "num" }, money(times(i.price, i.quantity), o.currency)),
                  ),
                ),
              ),
            ),
          ),
          h(
            "dl",
            { class: "totals", id: "order-totals" },
            subtotal !== null ? row("Items", money(subtotal, o.currency)) : null,
            o.shippingCost ? row("Shipping", money(o.shippingCost, o.currency)) : null,
            o.discountTotal ? row("Discount", `−${money(o.discountTotal, o.currency)}`) : null,
            o.taxTotal ? row("Tax (store)", money(o.taxTotal, o.currency)) : null,
            row("Total", money(o.total, o.currency), "totals-grand"),
          ),
        ),
        h(
          "section",
          { class: "card", "aria-labelledby": "payments-title" },
          h("h2", { id: "payments-title" }, "Payment history"),
          h(
            "ol",
            { class: "timeline", id: "payment-history" },
            [...o.paymentStatusHistory]
              .reverse()
              .map((c) => h("li", {}, h("span", { class: "timeline-status" }, PAYMENT_STATUS[c.status] ?? c.status), time(c.at))),
          ),
        ),
      ),
      h(
        "aside",
        { class: "order-side" },
        h(
          "section",
          { class: "card", "aria-labelledby": "customer-title" },
          h("h2", { id: "customer-title" }, "Customer"),
          h(
            "dl",
            { class: "facts" },
            row("Email", o.email),
            o.phone ? row("Phone", o.phone) : null,
            o.profileId ? row("Profile ID", o.profileId) : null,
            row("Payment", paymentBadge(o.paymentStatus)),
          ),
        ),
        h(
          "section",
          { class: "card", "aria-labelledby": "billing-title" },
          h("h2", { id: "billing-title" }, "Billing address"),
          address(o.billingAddress),
        ),
        h(
          "section",
          { class: "card", "aria-labelledby": "shipping-title" },
          h("h2", { id: "shipping-title" }, "Shipping address"),
          o.shippingAddress ? address(o.shippingAddress) : h("p", { class: "muted" }, "No shipping address."),
        ),
      ),
    ),
  ];
}

function row(label, value, cls) {
  return h("div", { class: cls ?? null }, h("dt", {}, label), h("dd", {}, value));
}

function address(a) {
  const name = [a.firstName, a.lastName].filter(Boolean).join(" ");
  const cityLine = [a.city, [a.state, a.postalCode].filter(Boolean).join(" ")].filter(Boolean).join(", ");
  const lines = [name, a.company, a.street, a.street2, cityLine, a.country, a.phone].filter(Boolean);
  return h("address", {}, lines.map((l, i) => [i ? h("br") : null, l]));
}
