// One order: lines, totals, customer, addresses, payment history and sync status, kept current
// through orderUpdates(number).

import { gql, subscribe } from "./graphql.js";
import { lastListHash } from "./orders.js";
import {
  PAYMENT_STATUS,
  describeError,
  h,
  money,
  notice,
  paymentBadge,
  sum,
  syncBadge,
  time,
  times,
} from "./ui.js";

const ORDER_FIELDS = `number profileId email phone placedAt recordedAt updatedAt currency paymentStatus
  paymentStatusHistory { status at }
  billingAddress { firstName lastName company street street2 city state postalCode country phone }
  shippingAddress { firstName lastName company street street2 city state postalCode country phone }
  items { sku name price quantity warehouseId }
  shippingCost discountTotal taxTotal total
  sync { status }`;

const ORDER = `query Order($number: String!) { order(number: $number) { ${ORDER_FIELDS} } }`;
const UPDATES = `subscription OrderUpdates($number: String) { orderUpdates(number: $number) { ${ORDER_FIELDS} } }`;

const SYNC_EXPLAINED = {
  NOT_SYNCED: "No sync job has run for this order yet.",
  QUEUED: "A sync job is waiting to run.",
  SYNCING: "A sync job is running.",
  SYNCED: "A Sales Order exists in Acumatica for this order.",
  FAILED: "The sync job failed or was canceled; the order stays failed until the job is retried.",
};

export async function render({ main, params, onCleanup, signal }) {
  const [number] = params;
  document.title = `Order #${number} · acumatica-bridge`;
  const back = h("a", { class: "back-link", href: lastListHash }, "← All orders");
  const body = h("div", { class: "order", id: "order", "aria-live": "off" });
  main.append(back, body);

  const show = (o) => {
    if (!o) {
      body.replaceChildren(
        h("h1", {}, `Order #${number}`),
        notice("error", `There is no order #${number} in the bridge.`),
      );
      return;
    }
    body.replaceChildren(...orderView(o));
  };

  const reload = async () => {
    try {
      const data = await gql(ORDER, { number });
      if (!signal.aborted) show(data.order);
    } catch (e) {
      if (!signal.aborted) body.replaceChildren(h("h1", {}, `Order #${number}`), notice("error", `The order could not be loaded: ${describeError(e)}`));
    }
  };

  onCleanup(
    subscribe(UPDATES, { number }, {
      onData: (data) => {
        if (!signal.aborted) show(data.orderUpdates);
      },
      onResync: reload,
    }),
  );
  await reload();
}

function orderView(o) {
  const subtotal = sum(o.items.map((i) => times(i.price, i.quantity)));
  return [
    h(
      "div",
      { class: "page-head" },
      h("h1", {}, `Order #${o.number}`),
      h("p", { class: "page-summary" }, "Placed ", time(o.placedAt), " · recorded by the bridge ", time(o.recordedAt)),
    ),
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
          { class: "card", id: "sync-panel", "aria-labelledby": "sync-title" },
          h("h2", { id: "sync-title" }, "Acumatica sync"),
          h("dl", { class: "facts" }, row("Status", syncBadge(o.sync.status))),
          h("p", { class: "hint" }, SYNC_EXPLAINED[o.sync.status] ?? ""),
        ),
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
