// Small DOM and formatting helpers shared by the pages.

/**
 * Creates an element: h("a", {href: "#/orders", class: "link"}, "Orders").
 * Attributes starting with "on" become event listeners; null/false attributes are left out;
 * children may be strings, nodes, arrays, or null.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key in el && typeof value !== "string") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : value);
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

export const SYNC_STATUS = {
  NOT_SYNCED: { label: "Not synced", tone: "grey" },
  QUEUED: { label: "Queued", tone: "yellow" },
  SYNCING: { label: "Syncing", tone: "yellow" },
  SYNCED: { label: "Synced", tone: "green" },
  FAILED: { label: "Failed", tone: "red" },
  NEEDS_ATTENTION: { label: "Needs attention", tone: "yellow" },
};

export const PAYMENT_STATUS = {
  QUEUED: "Queued",
  AUTHORIZED: "Authorized",
  PARTIALLY_PAID: "Partially paid",
  PAID: "Paid",
  DECLINED: "Declined",
  CANCELED: "Canceled",
  REFUNDED: "Refunded",
};

export function syncBadge(status) {
  const s = SYNC_STATUS[status] ?? { label: status, tone: "grey" };
  return h("span", { class: `badge badge-${s.tone}`, "data-sync-status": status }, s.label);
}

/** "SO 000012": the Sales Order's type and number, once the order is linked; else null. */
export function salesOrderLabel(sync) {
  if (!sync?.salesOrderNbr) return null;
  return [sync.salesOrderType, sync.salesOrderNbr].filter(Boolean).join(" ");
}

export function paymentBadge(status) {
  return h(
    "span",
    { class: "pill", "data-payment-status": status },
    PAYMENT_STATUS[status] ?? status,
  );
}

const dateTime = new Intl.DateTimeFormat("en-US", { dateStyle: "medium", timeStyle: "short", hourCycle: "h23" });

export function formatDateTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateTime.format(d);
}

const dateTimeSeconds = new Intl.DateTimeFormat("en-US", { dateStyle: "medium", timeStyle: "medium", hourCycle: "h23" });

/** Like `time`, to the second (for job attempts, where minutes are too coarse). */
export function timeSeconds(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return h("time", { datetime: iso, title: iso }, Number.isNaN(d.getTime()) ? iso : dateTimeSeconds.format(d));
}

/** A <time> element showing a DateTime in the browser's zone, the exact UTC value as title. */
export function time(iso) {
  return h("time", { datetime: iso, title: iso }, formatDateTime(iso));
}

/** Money from a Decimal string, exactly (Intl formats decimal strings without floats). */
export function money(amount, currency) {
  if (amount === null || amount === undefined) return "";
  try {
    return new Intl.NumberFormat("en-US", { style: "currency", currency }).format(amount);
  } catch {
    return `${amount} ${currency}`;
  }
}

/** Exact decimal arithmetic on Decimal strings, through BigInt. */
function parseDecimal(s) {
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(String(s).trim());
  if (!m) return null;
  const frac = m[3] ?? "";
  const units = BigInt((m[2] || "0") + frac) * (m[1] ? -1n : 1n);
  return { units, scale: frac.length };
}

function formatDecimal({ units, scale }) {
  const negative = units < 0n;
  let digits = (negative ? -units : units).toString().padStart(scale + 1, "0");
  if (scale > 0) digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return (negative ? "-" : "") + digits;
}

/** price × quantity, as a Decimal string with the price's scale. */
export function times(price, quantity) {
  const p = parseDecimal(price);
  if (!p) return null;
  return formatDecimal({ units: p.units * BigInt(quantity), scale: p.scale });
}

/** The sum of Decimal strings, at the largest scale among them. */
export function sum(values) {
  const parsed = values.map(parseDecimal);
  if (parsed.some((p) => !p)) return null;
  const scale = Math.max(0, ...parsed.map((p) => p.scale));
  const units = parsed.reduce((acc, p) => acc + p.units * 10n ** BigInt(scale - p.scale), 0n);
  return formatDecimal({ units, scale });
}

/** A page-level message: role=alert for errors, role=status otherwise. */
export function notice(kind, text) {
  return h(
    "div",
    { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status" },
    text,
  );
}

/** A short confirmation at the bottom of the window, wherever the page is scrolled. */
export function toast(text) {
  let el = document.getElementById("toast");
  if (!el) {
    el = h("div", { id: "toast", class: "toast", role: "status" });
    document.body.append(el);
  }
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => {
    el.hidden = true;
  }, 4000);
}

export function describeError(e) {
  return e?.message || String(e);
}

/** Keeps a function from running more than once per `ms`; the last call wins. */
export function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

export const JOB_STATUS = {
  QUEUED: { label: "Queued", tone: "grey" },
  RUNNING: { label: "Running", tone: "blue" },
  RETRY_SCHEDULED: { label: "Retry scheduled", tone: "yellow" },
  FAILED: { label: "Failed", tone: "red" },
  SUCCEEDED: { label: "Succeeded", tone: "green" },
  CANCELED: { label: "Canceled", tone: "grey" },
};

/** Statuses a job can still leave on its own: it is queued, running or waiting to retry. */
export const LIVE_JOB_STATUSES = ["QUEUED", "RUNNING", "RETRY_SCHEDULED"];

export const JOB_KIND = {
  CONNECT: "Connect",
  SIGN_OUT: "Sign out",
  REFRESH_LOOKUPS: "Refresh lists",
  SYNC_ORDER: "Sync order",
  IMPORT_ORDERS: "Import orders",
  SEND_ALERT: "Send alert",
  CANCEL_ORDER: "Cancel order",
  WRITE_BACK: "Write shipment to store",
  CREATE_REFUND_CREDIT: "Create refund credit",
  RECORD_PAYMENT: "Record payment",
};

export function jobBadge(status) {
  const s = JOB_STATUS[status] ?? { label: status, tone: "grey" };
  return h("span", { class: `badge badge-${s.tone}`, "data-job-status": status }, s.label);
}

/**
 * A job's progress: a <progress> bar with "done of total" and the step's message. With a
 * `unit` ("orders"), it counts things ("3 of 10 orders") instead of steps.
 */
export function jobProgress(progress, id, unit = null) {
  if (!progress) return null;
  const { done, total, message } = progress;
  const label = unit
    ? total
      ? `${Math.min(done, total)} of ${total} ${unit}`
      : `${done} ${unit}`
    : total
      ? `Step ${Math.min(done, total)} of ${total}`
      : `${done} done`;
  return h(
    "div",
    { class: "job-progress", id },
    h("progress", {
      max: total ? String(total) : null,
      value: total ? String(Math.min(done, total)) : null,
      "aria-label": "Progress",
    }),
    h("p", { class: "job-progress-text" }, h("span", { class: "job-progress-step" }, label), message ? `: ${message}` : ""),
  );
}

/**
 * Asks a yes/no question in a modal dialog; resolves true when confirmed. Escape, the
 * Cancel button or a click outside say no. The safe answer has the focus first.
 */
export function confirmDialog({ title, message, confirmLabel, danger = false }) {
  return new Promise((resolve) => {
    const ok = h(
      "button",
      { type: "button", class: `button ${danger ? "button-danger" : "button-primary"}`, id: "confirm-ok" },
      confirmLabel,
    );
    const cancel = h("button", { type: "button", class: "button", id: "confirm-cancel", autofocus: true }, "Cancel");
    const dialog = h(
      "dialog",
      { class: "dialog", id: "confirm-dialog", "aria-labelledby": "confirm-title", "aria-describedby": "confirm-message" },
      h("h2", { id: "confirm-title" }, title),
      h("p", { id: "confirm-message" }, message),
      h("div", { class: "dialog-actions" }, cancel, ok),
    );
    let answer = false;
    ok.addEventListener("click", () => {
      answer = true;
      dialog.close();
    });
    cancel.addEventListener("click", () => dialog.close());
    dialog.addEventListener("click", (e) => {
      if (e.target === dialog) dialog.close();
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
