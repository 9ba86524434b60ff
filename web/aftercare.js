// The order page's "After the Sales Order" card: why the order needs attention (with the note
// and the Resolve button that call resolveAttention), the Sales Order's cancellation with its
// CANCEL_ORDER job and the refunds the store reported; each shown only when there is something
// to show.

import { gql } from "./graphql.js";
import { JOB_KIND, describeError, h, jobBadge, money, notice, time, toast } from "./ui.js";

export const AFTERCARE_FIELDS = `refunds { amount refundedTotal at creditMemo { referenceNbr amount status } }
  cancellation { requestedAt canceledAt outcome }`;
export const ATTENTION_FIELDS = `attention { reason raisedAt } attentionHistory { reason raisedAt resolvedAt resolution }`;

const RESOLVE = `mutation ResolveAttention($number: String!, $note: String) {
  resolveAttention(number: $number, note: $note) { number sync { status } }
}`;

/** The card, or null when the order has had nothing after its Sales Order. */
export function aftercareCard(o, { onResolved }) {
  const s = o.sync;
  const resolved = s.attentionHistory.filter((a) => a.resolvedAt);
  if (!s.attention && !o.cancellation && !o.refunds.length && !resolved.length) return null;
  return h(
    "section",
    { class: "card", id: "aftercare", "aria-labelledby": "aftercare-title" },
    h("h2", { id: "aftercare-title" }, "After the Sales Order"),
    s.attention ? attentionForm(o, onResolved) : null,
    o.cancellation ? cancellation(o.cancellation, o.sync.jobs.filter((j) => j.kind === "CANCEL_ORDER")) : null,
    o.refunds.length ? refunds(o) : null,
    resolved.length
      ? h(
          "details",
          { id: "attention-history" },
          h("summary", {}, `Resolved (${resolved.length})`),
          h(
            "ul",
            {},
            resolved.map((a) =>
              h("li", {}, a.reason, " — resolved ", time(a.resolvedAt), a.resolution ? `: ${a.resolution}` : ""),
            ),
          ),
        )
      : null,
  );
}

function attentionForm(o, onResolved) {
  const note = h("input", { type: "text", id: "attention-note", maxlength: "500", placeholder: "What was done (optional)" });
  const error = h("div", { id: "attention-error" });
  const button = h("button", { type: "submit", class: "button button-primary", id: "resolve-attention" }, "Mark resolved");
  const form = h(
    "form",
    {
      class: "attention-form",
      onsubmit: async (e) => {
        e.preventDefault();
        button.disabled = true;
        error.replaceChildren();
        try {
          await gql(RESOLVE, { number: o.number, note: note.value });
          toast(`Order #${o.number} no longer needs attention.`);
          onResolved();
        } catch (err) {
          error.replaceChildren(notice("error", `Not resolved: ${describeError(err)}`));
          button.disabled = false;
        }
      },
    },
    h("label", { for: "attention-note" }, "Note"),
    note,
    button,
    error,
  );
  return h(
    "div",
    { class: "notice notice-warning", id: "attention", role: "alert" },
    h("strong", {}, "Needs attention: "),
    h("span", { id: "attention-reason" }, o.sync.attention.reason),
    h("p", { class: "hint" }, "Since ", time(o.sync.attention.raisedAt), "."),
    form,
  );
}

function cancellation(c, jobs) {
  return h(
    "dl",
    { class: "facts", id: "cancellation" },
    jobs.map((j) =>
      h(
        "div",
        { "data-job": j.id },
        h("dt", {}, JOB_KIND[j.kind]),
        h("dd", {}, h("a", { href: `#/jobs/${j.id}` }, `Job #${j.id}`), " ", jobBadge(j.status), j.lastError ? ` ${j.lastError}` : ""),
      ),
    ),
    h("div", {}, h("dt", {}, "Canceled in the store"), h("dd", {}, time(c.requestedAt))),
    h(
      "div",
      {},
      h("dt", {}, "Sales Order"),
      h("dd", { id: "cancellation-outcome" }, c.outcome ?? h("span", { class: "muted" }, "being canceled…")),
    ),
  );
}

function refunds(o) {
  return h(
    "ul",
    { id: "refunds" },
    o.refunds.map((r) =>
      h(
        "li",
        {},
        `Refund of ${money(r.amount, o.currency)} (refunded in all ${money(r.refundedTotal, o.currency)}) `,
        time(r.at),
        r.creditMemo ? h("span", { class: "refund-credit" }, ` · credit memo ${r.creditMemo.referenceNbr} in Acumatica (${r.creditMemo.status ?? "created"})`) : "",
      ),
    ),
  );
}
