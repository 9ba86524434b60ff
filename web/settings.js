// Settings: the "Data Sync Options" section, saved through saveSettings from a sticky panel
// that shows only while something is unsaved. (The "Acumatica Configuration" drop-downs join
// this page when the API offers the lookups that fill them.)

import { GraphQLError, gql } from "./graphql.js";
import { describeError, h, notice, toast } from "./ui.js";

const FIELDS = `orderSyncMode createNewProducts customerIdSource stockItemIdSource salesOrderType orderNumberPrefix`;
const SETTINGS = `query Settings { settings { ${FIELDS} } }`;
const SAVE = `mutation SaveSettings($input: SyncSettingsInput!) { saveSettings(input: $input) { ${FIELDS} } }`;

/** Client-side checks, the same rules the API applies (the API has the last word). */
const CHECKS = {
  salesOrderType: (v) =>
    /^[A-Za-z0-9]{2}$/.test(v.trim()) ? null : "Two letters or digits, such as SO.",
  orderNumberPrefix: (v) =>
    v === "" || (v.length <= 10 && !/\s/.test(v)) ? null : "Up to 10 characters without spaces, such as XC-.",
};

export async function render({ main, onCleanup, signal }) {
  document.title = "Settings · acumatica-bridge";
  const status = h("div", { class: "page-messages", id: "settings-messages" });
  const body = h("div", { id: "settings-body" });
  main.append(h("div", { class: "page-head" }, h("h1", {}, "Settings")), status, body);

  let saved;
  try {
    saved = (await gql(SETTINGS)).settings;
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
    customerIdSource: selectField("customerIdSource", "Customer ID", [
      ["EMAIL", "Email"],
      ["PHONE", "Phone"],
      ["PROFILE_ID", "Profile ID"],
    ], "How the bridge finds the order's customer in Acumatica. Email falls back to the profile ID; phone to email, then the profile ID."),
    stockItemIdSource: selectField("stockItemIdSource", "Stock Item ID", [["SKU", "SKU"]], "Order lines match Acumatica Stock Items whose Inventory ID is the line's SKU."),
    salesOrderType: textField("salesOrderType", "Sales order type", "The Acumatica order type of the Sales Orders the bridge creates, such as SO.", { maxlength: "2", required: true, class: "input-short" }),
    orderNumberPrefix: textField("orderNumberPrefix", "Order number prefix", "Put before the store's order number in the Sales Order's customer order and external reference, such as XC-. Leave empty for none.", { maxlength: "10", class: "input-short" }),
  };

  const section = h(
    "section",
    { class: "card settings-section", "aria-labelledby": "sync-options-title", id: "data-sync-options" },
    h("h2", { id: "sync-options-title" }, "Data Sync Options"),
    Object.values(controls).map((c) => c.el),
  );
  const form = h("form", { id: "settings-form", novalidate: true }, section);

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
    const now = current();
    const out = {};
    for (const [name, value] of Object.entries(now)) {
      const before = saved[name] ?? "";
      if (value !== before) out[name] = name === "orderNumberPrefix" && value === "" ? null : value;
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
    savebar.hidden = Object.keys(changes()).length === 0;
    document.body.classList.toggle("has-savebar", !savebar.hidden);
  };
  onCleanup(() => document.body.classList.remove("has-savebar"));

  fill(saved);
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
        if (controls[name]) {
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
