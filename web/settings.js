// Settings: "Data Sync Options" and "Acumatica Configuration", saved through saveSettings
// from a sticky panel that shows only while something is unsaved. Once the bridge is connected,
// Acumatica Configuration gains drop-downs filled from Acumatica's lists (`lookups`), which
// "Refresh lists" reads again through a REFRESH_LOOKUPS job followed to its end. Payments have
// a Release payments checkbox and a mapping editor: rows of store payment method → Acumatica
// payment method and cash account (drop-downs from the same lists).

import { GraphQLError, gql, subscribe } from "./graphql.js";
import { LIVE_JOB_STATUSES, describeError, h, jobProgress, notice, time, toast } from "./ui.js";

const LOOKUP_FIELDS = ["customerClass", "itemClass", "postingClass", "reasonCodeSubaccount", "taxCategoryId", "warehouseId", "paymentMethod", "cashAccount"];
const FIELDS = `orderSyncMode createNewProducts useStoreNumberAsOrderNbr customerIdSource stockItemIdSource salesOrderType orderNumberPrefix orderDateTimeZone recordPayments paymentType paymentsActive releasePayments paymentMethodMap { storeMethod paymentMethod cashAccount } writeBackShipments createRefundCredits ${LOOKUP_FIELDS.join(" ")}`;
const LISTS = `lookups {
  customerClasses { id description } itemClasses { id description } postingClasses { id description }
  subaccounts { id description } taxCategories { id description } warehouses { id description }
  paymentMethods { id description } cashAccounts { id description }
  refreshedAt unavailable { list reason }
}`;
const JOB_FIELDS = `id kind status attempts maxAttempts lastError progress { done total message }`;
const LOAD = `query Settings { settings { ${FIELDS} } connection { status } ${LISTS} }`;
const CONNECTION_AND_LISTS = `query Lists { connection { status } ${LISTS} }`;
const SAVE = `mutation SaveSettings($input: SyncSettingsInput!) { saveSettings(input: $input) { ${FIELDS} } }`;
const REFRESH = `mutation RefreshLookups { refreshLookups { ${JOB_FIELDS} } }`;
const JOB = `query Job($id: ID!) { job(id: $id) { ${JOB_FIELDS} } }`;
const JOB_UPDATES = `subscription JobUpdates { jobUpdates { ${JOB_FIELDS} } }`;
const CONNECTION_UPDATES = `subscription ConnectionUpdates { connectionUpdates { status } }`;

/** Settings that may be cleared: an empty control saves null. */
const NULLABLE = new Set(["orderNumberPrefix", ...LOOKUP_FIELDS]);

/** The drop-downs filled from Acumatica: setting, list in `lookups`, label, hint. */
const LOOKUPS = [
  ["customerClass", "customerClasses", "Customer class", "The class of the customers the bridge creates in Acumatica."],
  ["itemClass", "itemClasses", "Item class", "The class of the Stock Items the bridge creates (with Create new products on)."],
  ["postingClass", "postingClasses", "Posting class", "The posting class of the Stock Items the bridge creates."],
  ["reasonCodeSubaccount", "subaccounts", "Reason code subaccount", "The subaccount the bridge's documents use for reason codes."],
  ["taxCategoryId", "taxCategories", "Tax category", "The tax category of the Stock Items the bridge creates; Acumatica computes the tax."],
  ["warehouseId", "warehouses", "Default warehouse", "For order lines whose store location has no warehouse of its own."],
  ["paymentMethod", "paymentMethods", "Payment method", "The Acumatica payment method a paid order's payment is recorded with."],
  ["cashAccount", "cashAccounts", "Cash account", "The cash account the payments go to: one the payment method allows."],
];

/** Client-side checks, the same rules the API applies (the API has the last word). */
const CHECKS = {
  salesOrderType: (v) =>
    /^[A-Za-z0-9]{2}$/.test(v.trim()) ? null : "Two letters or digits, such as SO.",
  orderDateTimeZone: (v) =>
    /^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/.test(v.trim()) ? null : "An IANA time zone name, such as Europe/Berlin or UTC.",
  orderNumberPrefix: (v) =>
    v === "" || (v.length <= 10 && !/\s/.test(v)) ? null : "Up to 10 characters without spaces, such as XC-.",
};

export async function render({ main, onCleanup, signal }) {
  document.title = "Settings · acumatica-bridge";
  const status = h("div", { class: "page-messages", id: "settings-messages" });
  const body = h("div", { id: "settings-body" });
  main.append(h("div", { class: "page-head" }, h("h1", {}, "Settings")), status, body);

  let saved;
  let lists;
  let connected;
  try {
    const data = await gql(LOAD);
    saved = data.settings;
    lists = data.lookups;
    connected = data.connection.status === "CONNECTED";
  } catch (e) {
    if (!signal.aborted) body.replaceChildren(notice("error", `The settings could not be loaded: ${describeError(e)}`));
    return;
  }
  if (signal.aborted) return;

  const controls = {
    orderSyncMode: radios("orderSyncMode", "Order sync mode", [
      ["AUTOMATIC_AFTER_PAYMENT", "Automatic (after payment)", "An order is synced when its payment status becomes Paid."],
      ["MANUAL_ONLY", "Manual only", "An admin starts each order's sync."],
    ]),
    createNewProducts: checkbox(
      "createNewProducts",
      "Create new products",
      "When no Acumatica Stock Item matches a line's SKU, create one. When off, such an order fails to sync.",
    ),
    salesOrderType: textField("salesOrderType", "Sales order type", "The Acumatica order type of the Sales Orders the bridge creates, such as SO.", { maxlength: "2", required: true, class: "input-short" }),
    orderDateTimeZone: textField("orderDateTimeZone", "Order date time zone", "The ERP's time zone, as an IANA name such as Europe/Berlin or America/New_York: the Sales Order's date is the day the order was placed there. Default UTC.", { maxlength: "40", required: true }),
    orderNumberPrefix: textField("orderNumberPrefix", "Order number prefix", "Put before the store's order number in the Sales Order's customer order and external reference, such as XC-. Leave empty for none.", { maxlength: "10", class: "input-short" }),
    useStoreNumberAsOrderNbr: checkbox(
      "useStoreNumberAsOrderNbr",
      "Use the store order number as the Sales Order number",
      "Sends the prefix and the store's order number as the Sales Order's number (OrderNbr). Turn it on only when the sales order type above is numbered manually in Acumatica; when off, Acumatica numbers the order.",
    ),
    customerIdSource: selectField("customerIdSource", "Customer ID", [
      ["EMAIL", "Email"],
      ["PHONE", "Phone"],
      ["PROFILE_ID", "Profile ID"],
    ], "How the bridge finds the order's customer in Acumatica. Email falls back to the profile ID; phone to email, then the profile ID."),
    stockItemIdSource: selectField("stockItemIdSource", "Stock Item ID", [["SKU", "SKU"]], "Order lines match Acumatica Stock Items whose Inventory ID is the line's SKU."),
    recordPayments: checkbox(
      "recordPayments",
      "Record payments",
      "A paid order's payment is sent with its Sales Order and applied to it, so the order's unpaid balance is 0.",
    ),
    paymentType: selectField("paymentType", "Payment type", [
      ["PREPAYMENT", "Prepayment"],
      ["PAYMENT", "Payment"],
    ], "The kind of Acumatica document the store's payment becomes."),
    releasePayments: checkbox(
      "releasePayments",
      "Release payments",
      "Release each payment in Acumatica once it is recorded (its Release action), so it is Open rather than Balanced. One more request per payment.",
    ),
    paymentMethodMap: mappingEditor(),
    writeBackShipments: checkbox(
      "writeBackShipments",
      "Write shipments back to the store",
      "When Acumatica confirms a shipment of a synced order, the store's order is marked shipped and gets the shipment's tracking numbers. Needs the store's read/write API token.",
    ),
    createRefundCredits: checkbox(
      "createRefundCredits",
      "Create credit memos for refunds",
      "When the store refunds a synced order, create an AR credit memo for the refunded amount in Acumatica. Off: the order is marked Needs attention for a person to handle the refund there.",
    ),
  };
  const paymentsHint = h("p", { class: "hint", id: "payments-hint", role: "status" });

  const syncSection = h(
    "section",
    { class: "card settings-section", "aria-labelledby": "sync-options-title", id: "data-sync-options" },
    h("h2", { id: "sync-options-title" }, "Data Sync Options"),
    ["orderSyncMode", "createNewProducts", "salesOrderType", "orderNumberPrefix", "useStoreNumberAsOrderNbr", "orderDateTimeZone", "writeBackShipments", "createRefundCredits"].map((n) => controls[n].el),
  );
  const listsPart = h("div", { id: "acumatica-lists" });
  const configSection = h(
    "section",
    { class: "card settings-section", "aria-labelledby": "acumatica-config-title", id: "acumatica-configuration" },
    h("h2", { id: "acumatica-config-title" }, "Acumatica Configuration"),
    controls.customerIdSource.el,
    controls.stockItemIdSource.el,
    controls.recordPayments.el,
    controls.paymentType.el,
    controls.releasePayments.el,
    paymentsHint,
    listsPart,
    controls.paymentMethodMap.el,
  );
  const form = h("form", { id: "settings-form", novalidate: true }, syncSection, configSection);

  const unsavedText = h("p", { class: "savebar-text" }, "You have unsaved changes.");
  const discard = h("button", { type: "button", class: "button", id: "settings-discard" }, "Discard");
  const save = h("button", { type: "submit", class: "button button-primary", id: "settings-save", form: "settings-form" }, "Save changes");
  const savebar = h(
    "div",
    { class: "savebar", id: "savebar", role: "region", "aria-label": "Unsaved changes", hidden: true },
    h("div", { class: "savebar-inner" }, unsavedText, h("div", { class: "savebar-actions" }, discard, save)),
  );
  body.replaceChildren(form, savebar);

  const fill = (values) => {
    for (const [name, c] of Object.entries(controls)) c.set(values[name]);
  };
  const current = () => Object.fromEntries(Object.entries(controls).map(([name, c]) => [name, c.get()]));
  const changes = () => {
    const out = {};
    for (const [name, value] of Object.entries(current())) {
      const before = saved[name] ?? "";
      const same = typeof value === "object" ? canonical(value) === canonical(before) : value === before;
      if (!same) out[name] = NULLABLE.has(name) && value === "" ? null : value;
    }
    return out;
  };
  const validate = (name) => {
    const check = CHECKS[name];
    const msg = check ? check(controls[name].get()) : null;
    controls[name].error(msg);
    return !msg;
  };
  const refresh = () => {
    const on = controls.recordPayments.get();
    const method = controls.paymentMethod?.get() ?? saved.paymentMethod;
    const account = controls.cashAccount?.get() ?? saved.cashAccount;
    const mapped = controls.paymentMethodMap.get().length;
    const also = mapped === 0 ? "" : ` ${mapped === 1 ? "One store payment method is" : `${mapped} store payment methods are`} mapped below.`;
    paymentsHint.textContent = !on
      ? "Payments are not recorded in Acumatica."
      : method && account
        ? `Payments are recorded with ${method} into cash account ${account}.${also}`
        : mapped
          ? `Only orders paid with a mapped store payment method get a payment until a default payment method and cash account are chosen below.${also}`
          : "Payments are not recorded until a payment method and a cash account are chosen below.";
    const unsaved = Object.keys(changes());
    savebar.hidden = unsaved.length === 0;
    savebar.dataset.unsaved = unsaved.join(" ");
    document.body.classList.toggle("has-savebar", !savebar.hidden);
  };
  onCleanup(() => document.body.classList.remove("has-savebar"));

  // ---- Acumatica's lists ----
  let refreshJob = null;
  const refreshButton = h("button", { type: "button", class: "button", id: "refresh-lookups" }, "Refresh lists");
  const refreshStatus = h("div", { id: "refresh-status", "aria-live": "polite" });
  const showLists = () => {
    controls.paymentMethodMap.setLists(connected ? lists.paymentMethods : [], connected ? lists.cashAccounts : []);
    // Unsaved choices survive a new list; the saved value stays shown even when gone from it.
    const before = Object.fromEntries(LOOKUP_FIELDS.filter((n) => controls[n]).map((n) => [n, controls[n].get()]));
    for (const n of LOOKUP_FIELDS) delete controls[n];
    if (!connected) {
      listsPart.replaceChildren(
        h(
          "p",
          { class: "notice notice-info", id: "lists-not-connected" },
          "Connect to Acumatica to choose the customer class, item class, posting class, reason code subaccount, tax category and default warehouse from its lists. ",
          h("a", { href: "#/connection" }, "Connection settings"),
        ),
      );
      refresh();
      return;
    }
    const unavailable = Object.fromEntries(lists.unavailable.map((u) => [u.list, u.reason]));
    for (const [name, list, label, hint] of LOOKUPS) {
      controls[name] = lookupField(name, label, lists[list], hint, unavailable[list]);
      controls[name].set(name in before ? before[name] : saved[name]);
    }
    listsPart.replaceChildren(
      h(
        "div",
        { class: "lists-bar" },
        h(
          "p",
          { class: "hint", id: "lists-refreshed" },
          lists.refreshedAt ? ["Lists read from Acumatica ", time(lists.refreshedAt), "."] : "The lists have not been read from Acumatica yet.",
        ),
        refreshButton,
      ),
      refreshStatus,
      ...LOOKUPS.map(([name]) => controls[name].el),
    );
    refresh();
  };

  const reloadLists = async () => {
    try {
      const data = await gql(CONNECTION_AND_LISTS);
      if (signal.aborted) return;
      lists = data.lookups;
      connected = data.connection.status === "CONNECTED";
      showLists();
    } catch (e) {
      if (!signal.aborted) refreshStatus.replaceChildren(notice("error", `The lists could not be loaded: ${describeError(e)}`));
    }
  };

  const showRefreshJob = (j) => {
    if (!refreshJob || j.id !== refreshJob.id) return;
    refreshJob = j;
    if (LIVE_JOB_STATUSES.includes(j.status)) {
      refreshButton.disabled = true;
      refreshButton.textContent = "Refreshing…";
      const retrying = j.status === "RETRY_SCHEDULED" && j.lastError
        ? h("p", { class: "hint" }, `Attempt ${j.attempts} of ${j.maxAttempts} failed (${j.lastError}); it runs again shortly.`)
        : null;
      refreshStatus.replaceChildren(
        h(
          "div",
          { class: "refresh-progress", id: "refresh-progress" },
          jobProgress(j.progress ?? { done: 0, total: null, message: "Waiting to start" }, "refresh-job-progress"),
          retrying,
        ),
      );
      return;
    }
    refreshButton.disabled = false;
    refreshButton.textContent = "Refresh lists";
    refreshJob = null;
    if (j.status === "SUCCEEDED") {
      refreshStatus.replaceChildren();
      toast("Lists refreshed from Acumatica.");
      reloadLists();
    } else {
      refreshStatus.replaceChildren(
        notice(
          "error",
          h("span", {}, `The lists were not refreshed: ${j.lastError ?? j.status.toLowerCase()}. `, h("a", { href: `#/jobs/${j.id}` }, `Job #${j.id}`)),
        ),
      );
    }
  };

  refreshButton.addEventListener("click", async () => {
    refreshButton.disabled = true;
    refreshStatus.replaceChildren();
    try {
      const data = await gql(REFRESH);
      if (signal.aborted) return;
      refreshJob = data.refreshLookups;
      showRefreshJob(refreshJob);
      // It may have ended before the subscription saw it: read it once more.
      const again = await gql(JOB, { id: refreshJob.id });
      if (!signal.aborted && again.job) showRefreshJob(again.job);
    } catch (e) {
      if (signal.aborted) return;
      refreshButton.disabled = false;
      refreshStatus.replaceChildren(notice("error", `The lists were not refreshed: ${describeError(e)}`));
    }
  });

  onCleanup(
    subscribe(JOB_UPDATES, {}, {
      onData: (data) => {
        if (signal.aborted) return;
        const j = data.jobUpdates;
        if (refreshJob && j.id === refreshJob.id) showRefreshJob(j);
        // A connection made, or lists read by a job started elsewhere: show the new lists.
        else if (j.status === "SUCCEEDED" && (j.kind === "CONNECT" || j.kind === "REFRESH_LOOKUPS")) reloadLists();
      },
      onResync: () => {
        if (refreshJob) gql(JOB, { id: refreshJob.id }).then((d) => !signal.aborted && d.job && showRefreshJob(d.job), () => {});
      },
    }),
  );
  onCleanup(
    subscribe(CONNECTION_UPDATES, {}, {
      onData: (data) => {
        const now = data.connectionUpdates.status === "CONNECTED";
        if (!signal.aborted && now !== connected) reloadLists();
      },
      onResync: reloadLists,
    }),
  );

  fill(saved);
  showLists();
  refresh();
  form.addEventListener("input", (e) => {
    const name = e.target.name;
    if (controls[name]?.hasError()) validate(name);
    refresh();
  });
  form.addEventListener("change", (e) => {
    if (CHECKS[e.target.name]) validate(e.target.name);
    refresh();
  });
  discard.addEventListener("click", () => {
    fill(saved);
    for (const c of Object.values(controls)) c.error(null);
    status.replaceChildren();
    refresh();
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const invalid = Object.keys(CHECKS).filter((name) => !validate(name));
    if (invalid.length) {
      controls[invalid[0]].focus();
      status.replaceChildren(notice("error", "Some settings need a correction before they can be saved."));
      return;
    }
    const input = changes();
    if (Object.keys(input).length === 0) return;
    if (typeof input.salesOrderType === "string") input.salesOrderType = input.salesOrderType.trim().toUpperCase();
    save.disabled = true;
    discard.disabled = true;
    save.textContent = "Saving…";
    try {
      saved = (await gql(SAVE, { input })).saveSettings;
      if (signal.aborted) return;
      fill(saved);
      status.replaceChildren();
      toast("Settings saved.");
    } catch (err) {
      if (signal.aborted) return;
      const fields = err instanceof GraphQLError ? err.fieldErrors() : {};
      let shown = false;
      for (const [path, message] of Object.entries(fields)) {
        const name = path.replace(/^input\./, "");
        if (name.startsWith("paymentMethodMap.")) {
          controls.paymentMethodMap.error(message, name);
          if (!shown) controls.paymentMethodMap.focus(name);
          shown = true;
        } else if (controls[name]) {
          controls[name].error(message);
          if (!shown) controls[name].focus();
          shown = true;
        }
      }
      status.replaceChildren(notice("error", `The settings were not saved: ${describeError(err)}`));
    } finally {
      save.disabled = false;
      discard.disabled = false;
      save.textContent = "Save changes";
      refresh();
    }
  });
  refresh();
}

/** JSON with every object's keys sorted (answers do not keep the selection's key order). */
function canonical(value) {
  return JSON.stringify(value, (_, v) =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
}

function errorSlot(name) {
  return h("p", { class: "field-error", id: `${name}-error`, hidden: true });
}

function withError(control, errorEl, describedBy) {
  return (msg) => {
    errorEl.textContent = msg ?? "";
    errorEl.hidden = !msg;
    if (msg) {
      control.setAttribute("aria-invalid", "true");
      control.setAttribute("aria-describedby", `${errorEl.id} ${describedBy}`);
    } else {
      control.removeAttribute("aria-invalid");
      control.setAttribute("aria-describedby", describedBy);
    }
  };
}

function textField(name, label, hint, attrs) {
  const id = `setting-${name}`;
  const input = h("input", { id, name, type: "text", autocomplete: "off", spellcheck: "false", "aria-describedby": `${name}-hint`, ...attrs });
  const err = errorSlot(name);
  return {
    el: h("div", { class: "field" }, h("label", { for: id }, label), input, h("p", { class: "hint", id: `${name}-hint` }, hint), err),
    get: () => input.value,
    set: (v) => {
      input.value = v ?? "";
    },
    error: withError(input, err, `${name}-hint`),
    hasError: () => !err.hidden,
    focus: () => input.focus(),
  };
}

function selectField(name, label, options, hint) {
  const id = `setting-${name}`;
  const select = h(
    "select",
    { id, name, "aria-describedby": `${name}-hint` },
    options.map(([value, text]) => h("option", { value }, text)),
  );
  return {
    el: h("div", { class: "field" }, h("label", { for: id }, label), select, h("p", { class: "hint", id: `${name}-hint` }, hint)),
    get: () => select.value,
    set: (v) => {
      select.value = v;
    },
    error: () => {},
    hasError: () => false,
    focus: () => select.focus(),
  };
}

function checkbox(name, label, hint) {
  const id = `setting-${name}`;
  const input = h("input", { id, name, type: "checkbox", "aria-describedby": `${name}-hint` });
  return {
    el: h(
      "div",
      { class: "field field-check" },
      input,
      h("div", {}, h("label", { for: id }, label), h("p", { class: "hint", id: `${name}-hint` }, hint)),
    ),
    get: () => input.checked,
    set: (v) => {
      input.checked = Boolean(v);
    },
    error: () => {},
    hasError: () => false,
    focus: () => input.focus(),
  };
}

function radios(name, legend, options) {
  const inputs = options.map(([value]) => h("input", { type: "radio", name, value, id: `setting-${name}-${value}`, "aria-describedby": `${name}-${value}-hint` }));
  return {
    el: h(
      "fieldset",
      { class: "field radios" },
      h("legend", {}, legend),
      options.map(([value, text, hint], i) =>
        h(
          "div",
          { class: "radio" },
          inputs[i],
          h(
            "div",
            {},
            h("label", { for: `setting-${name}-${value}` }, text),
            h("p", { class: "hint", id: `${name}-${value}-hint` }, hint),
          ),
        ),
      ),
    ),
    get: () => inputs.find((i) => i.checked)?.value ?? "",
    set: (v) => {
      for (const i of inputs) i.checked = i.value === v;
    },
    error: () => {},
    hasError: () => false,
    focus: () => (inputs.find((i) => i.checked) ?? inputs[0]).focus(),
  };
}

/**
 * A drop-down filled from one of Acumatica's lists: "— none —" (saved as null), then each
 * option as "ID — description". A saved value missing from the list stays, marked as such.
 */
function lookupField(name, label, options, hint, unavailableReason) {
  const id = `setting-${name}`;
  const note = unavailableReason
    ? h("p", { class: "field-note", id: `${name}-unavailable` }, `Acumatica refused this list (${unavailableReason}); it stays empty until a refresh succeeds.`)
    : options.length === 0
      ? h("p", { class: "field-note", id: `${name}-unavailable` }, "Acumatica's list is empty.")
      : null;
  const describedBy = [`${name}-hint`, note ? `${name}-unavailable` : null].filter(Boolean).join(" ");
  const select = h(
    "select",
    { id, name, "aria-describedby": describedBy },
    h("option", { value: "" }, "— none —"),
    options.map((o) => h("option", { value: o.id }, o.description ? `${o.id} — ${o.description}` : o.id)),
  );
  const err = errorSlot(name);
  return {
    el: h("div", { class: "field" }, h("label", { for: id }, label), select, h("p", { class: "hint", id: `${name}-hint` }, hint), note, err),
    get: () => select.value,
    set: (v) => {
      const value = v ?? "";
      if (value && ![...select.options].some((o) => o.value === value)) {
        select.append(h("option", { value }, `${value} (not in Acumatica's list)`));
      }
      select.value = value;
    },
    error: withError(select, err, describedBy),
    hasError: () => !err.hidden,
    focus: () => select.focus(),
  };
}

/**
 * The payment method mapping: one row per store payment method (its name as the store gives
 * it, e.g. PayPal) with the Acumatica payment method and cash account it is recorded with.
 * `get()` gives the rows as saveSettings takes them; an error names a row's field
 * (`paymentMethodMap.1.cashAccount`) and marks that control.
 */
function mappingEditor() {
  let methods = [];
  let accounts = [];
  /** The rows' controls: { store, method, account }. */
  let rows = [];
  const list = h("div", { class: "mapping-rows", id: "mapping-rows" });
  const empty = h("p", { class: "hint", id: "mapping-empty" }, "No store payment method is mapped: every payment uses the payment method and cash account above.");
  const err = h("p", { class: "field-error", id: "paymentMethodMap-error", role: "alert", hidden: true });
  const add = h("button", { type: "button", class: "button", id: "mapping-add" }, "Add a mapping");
  const el = h(
    "fieldset",
    { class: "field mapping", id: "payment-method-map" },
    h("legend", {}, "Payment method mapping"),
    h("p", { class: "hint", id: "mapping-hint" }, "Orders paid with a store payment method listed here are recorded with its Acumatica payment method and cash account; the others use the defaults above."),
    empty,
    list,
    err,
    add,
  );
  const changed = () => el.dispatchEvent(new Event("input", { bubbles: true }));
  const options = (items, value, what) => {
    const out = [h("option", { value: "" }, `— choose a ${what} —`)];
    for (const o of items) out.push(h("option", { value: o.id }, o.description ? `${o.id} — ${o.description}` : o.id));
    if (value && !items.some((o) => o.id === value)) out.push(h("option", { value }, `${value} (not in Acumatica's list)`));
    return out;
  };
  const get = () => rows.map((r) => ({ storeMethod: r.store.value, paymentMethod: r.method.value, cashAccount: r.account.value }));
  const set = (values) => {
    list.replaceChildren();
    rows = (values ?? []).map((v, i) => {
      const store = h("input", { type: "text", id: `mapping-${i}-storeMethod`, name: `mapping-${i}-storeMethod`, maxlength: "100", autocomplete: "off", spellcheck: "false" });
      store.value = v.storeMethod ?? "";
      const method = h("select", { id: `mapping-${i}-paymentMethod`, name: `mapping-${i}-paymentMethod` }, options(methods, v.paymentMethod, "payment method"));
      method.value = v.paymentMethod ?? "";
      const account = h("select", { id: `mapping-${i}-cashAccount`, name: `mapping-${i}-cashAccount` }, options(accounts, v.cashAccount, "cash account"));
      account.value = v.cashAccount ?? "";
      const remove = h("button", { type: "button", class: "button", id: `mapping-${i}-remove`, "aria-label": `Remove mapping ${i + 1}` }, "Remove");
      remove.addEventListener("click", () => {
        const next = get();
        next.splice(i, 1);
        set(next);
        changed();
      });
      list.append(
        h(
          "div",
          { class: "mapping-row", id: `mapping-${i}` },
          h("div", { class: "mapping-cell" }, h("label", { for: store.id }, "Store payment method"), store),
          h("span", { class: "mapping-arrow", "aria-hidden": "true" }, "→"),
          h("div", { class: "mapping-cell" }, h("label", { for: method.id }, "Payment method"), method),
          h("div", { class: "mapping-cell" }, h("label", { for: account.id }, "Cash account"), account),
          remove,
        ),
      );
      return { store, method, account };
    });
    empty.hidden = rows.length > 0;
    error(null);
  };
  /** The control a path such as `paymentMethodMap.1.cashAccount` names. */
  const control = (path) => {
    const m = path && /^paymentMethodMap\.(\d+)\.(\w+)$/.exec(path);
    const r = m && rows[Number(m[1])];
    return r ? { storeMethod: r.store, paymentMethod: r.method, cashAccount: r.account }[m[2]] : null;
  };
  const error = (msg, path) => {
    err.textContent = msg ?? "";
    err.hidden = !msg;
    for (const r of rows) for (const c of [r.store, r.method, r.account]) c.removeAttribute("aria-invalid");
    const target = control(path);
    if (target) {
      target.setAttribute("aria-invalid", "true");
      target.setAttribute("aria-describedby", err.id);
    }
  };
  add.addEventListener("click", () => {
    set([...get(), { storeMethod: "", paymentMethod: "", cashAccount: "" }]);
    rows[rows.length - 1].store.focus();
    changed();
  });
  return {
    el,
    get,
    set,
    setLists: (m, a) => {
      const keep = get();
      methods = m ?? [];
      accounts = a ?? [];
      set(keep);
    },
    error,
    hasError: () => !err.hidden,
    focus: (path) => (control(path) ?? rows[0]?.store ?? add).focus(),
  };
}
