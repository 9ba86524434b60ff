// The alerts page: the alert rules with their channels (a signed webhook, an SMTP e-mail;
// secrets are sent, never shown back: the API only says hasSecret / hasPassword), a form that
// creates a rule with a webhook and optionally an e-mail channel (the API's BAD_INPUT errors
// shown at their field), "Send test alert" per channel (a SEND_ALERT job, its status shown as
// it goes), and the incidents newest first with their notifications per channel. Reloads every
// two seconds while open.

import { field, fieldMessage } from "./form.js";
import { GraphQLError, gql } from "./graphql.js";
import { describeError, h, jobBadge, notice, time, toast } from "./ui.js";

const CHANNEL = `id kind url hasSecret host port tls username hasPassword from to lastTest { jobId status lastError at }`;
const LOAD = `query Alerts {
  alertRules { id name condition minutes remindAfterSeconds enabled channels { ${CHANNEL} } }
  alertIncidents(first: 50) { id ruleId subject summary state openedAt closedAt reminders suppressed
    notifications { event seq channelId delivery attempts error sentAt } }
}`;
const SAVE = `mutation SaveAlertRule($input: AlertRuleInput!) { saveAlertRule(input: $input) { id name } }`;
const TEST = `mutation SendTestAlert($ruleId: ID!, $channelId: Int!) { sendTestAlert(ruleId: $ruleId, channelId: $channelId) { id status } }`;

const CONDITIONS = {
  ORDER_SYNC: "An order's sync failed (one incident per order)",
  CONNECTION_LOST: "The Acumatica or store connection is lost",
  JOB_WAITING: "The oldest runnable job is older than N minutes",
  IMPORT_LAGGING: "The X-Cart import lags more than N minutes",
};

export async function render({ main, signal, onCleanup }) {
  const messages = h("div", { id: "alerts-messages" });
  const rulesBox = h("div", { id: "alert-rules" });
  const incidentsBox = h("div", { id: "alert-incidents" });
  main.replaceChildren(
    h("h1", { id: "alerts-title" }, "Alerts"),
    messages,
    h("section", { "aria-labelledby": "rules-title" }, h("h2", { id: "rules-title" }, "Rules"), rulesBox),
    h("section", { "aria-labelledby": "new-rule-title" }, h("h2", { id: "new-rule-title" }, "New rule"), ruleForm(messages, load)),
    h("section", { "aria-labelledby": "incidents-title" }, h("h2", { id: "incidents-title" }, "Incidents"), incidentsBox),
  );

  const shown = { rules: null, incidents: null };
  async function load() {
    try {
      const data = await gql(LOAD);
      if (signal.aborted) return;
      // Re-drawn only when something changed, so a button is not replaced under the pointer.
      const rulesText = JSON.stringify(data.alertRules);
      if (rulesText !== shown.rules) {
        shown.rules = rulesText;
        rulesBox.replaceChildren(rulesView(data.alertRules, messages, load));
      }
      const incidentsText = JSON.stringify(data.alertIncidents);
      if (incidentsText !== shown.incidents) {
        shown.incidents = incidentsText;
        incidentsBox.replaceChildren(incidentsView(data.alertIncidents, data.alertRules));
      }
    } catch (e) {
      if (!signal.aborted) messages.replaceChildren(notice("error", describeError(e)));
    }
  }
  await load();
  const timer = setInterval(load, 2000);
  onCleanup(() => clearInterval(timer));
}

function rulesView(rules, messages, reload) {
  if (!rules.length) return h("p", { class: "empty" }, "No alert rules yet.");
  return h(
    "ul",
    { class: "alert-rules" },
    rules.map((r) =>
      h(
        "li",
        { class: "alert-rule", "data-rule": r.id },
        h("h3", {}, r.name, r.enabled ? null : " (disabled)"),
        h("p", {}, CONDITIONS[r.condition] ?? r.condition, r.minutes ? ` — ${r.minutes} min` : "",
          r.remindAfterSeconds ? ` · reminds every ${r.remindAfterSeconds} s` : ""),
        h(
          "ul",
          { class: "alert-channels" },
          r.channels.map((c) =>
            h(
              "li",
              { "data-channel": c.id },
              c.kind === "WEBHOOK"
                ? `Webhook ${c.url}${c.hasSecret ? " (signed)" : ""}`
                : `E-mail to ${c.to.join(", ")} via ${c.host}:${c.port} (${c.tls})`,
              " ",
              h(
                "button",
                {
                  type: "button",
                  class: "button button-quiet",
                  "data-test-channel": c.id,
                  onclick: async (e) => {
                    e.target.disabled = true;
                    try {
                      await gql(TEST, { ruleId: r.id, channelId: c.id });
                      toast("Test alert queued.");
                      await reload();
                    } catch (err) {
                      messages.replaceChildren(notice("error", describeError(err)));
                    } finally {
                      e.target.disabled = false;
                    }
                  },
                },
                "Send test alert",
              ),
              c.lastTest
                ? h("span", { class: "alert-test" }, " Last test ", time(c.lastTest.at), " ", jobBadge(c.lastTest.status ?? "SUCCEEDED"),
                    c.lastTest.lastError ? ` ${c.lastTest.lastError}` : "")
                : null,
            ),
          ),
        ),
      ),
    ),
  );
}

function incidentsView(incidents, rules) {
  if (!incidents.length) return h("p", { class: "empty" }, "No incidents.");
  const names = Object.fromEntries(rules.map((r) => [r.id, r.name]));
  return h(
    "table",
    { class: "table" },
    h("thead", {}, h("tr", {}, ["State", "Rule", "Subject", "Opened", "Closed", "Notifications"].map((t) => h("th", { scope: "col" }, t)))),
    h(
      "tbody",
      {},
      incidents.map((i) =>
        h(
          "tr",
          { "data-incident": i.id },
          h("td", {}, h("span", { class: `badge badge-${i.state === "OPEN" ? "red" : "green"}` }, i.state === "OPEN" ? "Open" : "Closed")),
          h("td", {}, names[i.ruleId] ?? `rule ${i.ruleId}`),
          h("td", {}, i.summary),
          h("td", {}, time(i.openedAt)),
          h("td", {}, i.closedAt ? time(i.closedAt) : "—"),
          h("td", {}, i.suppressed ? "suppressed (too many a minute)" : h("ul", {}, i.notifications.map((n) =>
            h("li", {}, `${n.event} → channel ${n.channelId}: ${n.delivery}`, n.attempts > 1 ? ` after ${n.attempts} attempts` : "", n.error && n.delivery !== "SENT" ? ` (${n.error})` : "")))),
        ),
      ),
    ),
  );
}

function ruleForm(messages, reload) {
  const name = field({ inputId: "rule-name", name: "name", label: "Name", hint: "What the notifications are titled." });
  const condition = h("select", { id: "rule-condition", name: "condition" },
    Object.entries(CONDITIONS).map(([v, label]) => h("option", { value: v }, label)));
  const minutes = field({ inputId: "rule-minutes", name: "minutes", label: "Minutes", attrs: { inputmode: "numeric" }, hint: "For job age and import lag: the threshold." });
  const remind = field({ inputId: "rule-remindAfterSeconds", name: "remindAfterSeconds", label: "Remind every (seconds)", attrs: { inputmode: "numeric" }, hint: "Leave empty for no reminders." });
  const url = field({ inputId: "rule-webhook-url", name: "url", label: "Webhook URL", hint: "POSTed JSON, signed in X-Bridge-Signature." });
  const secret = field({ inputId: "rule-webhook-secret", name: "secret", label: "Webhook secret", attrs: { type: "password", autocomplete: "off" }, hint: "16 characters or more; never shown again." });
  const mailTo = field({ inputId: "rule-email-to", name: "to", label: "E-mail to", hint: "Optional: comma-separated addresses." });
  const mailFrom = field({ inputId: "rule-email-from", name: "from", label: "E-mail from", hint: "The sender address." });
  const host = field({ inputId: "rule-email-host", name: "host", label: "SMTP host", hint: "" });
  const port = field({ inputId: "rule-email-port", name: "port", label: "SMTP port", attrs: { inputmode: "numeric", value: "587" }, hint: "" });
  const tls = h("select", { id: "rule-email-tls", name: "tls" }, ["STARTTLS", "TLS", "NONE"].map((v) => h("option", { value: v }, v)));
  const user = field({ inputId: "rule-email-username", name: "username", label: "SMTP user", hint: "Optional." });
  const password = field({ inputId: "rule-email-password", name: "password", label: "SMTP password", attrs: { type: "password", autocomplete: "off" }, hint: "Never shown again." });
  const fields = {
    "input.name": name, "input.minutes": minutes, "input.remindAfterSeconds": remind,
    "input.webhooks.0.url": url, "input.webhooks.0.secret": secret,
    "input.emails.0.host": host, "input.emails.0.port": port, "input.emails.0.from": mailFrom,
    "input.emails.0.to": mailTo, "input.emails.0.username": user, "input.emails.0.password": password,
  };
  const form = h(
    "form",
    {
      id: "rule-form",
      novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        for (const f of Object.values(fields)) f.setError(null);
        const v = (f) => f.input.value.trim();
        const input = {
          name: v(name),
          condition: condition.value,
          minutes: v(minutes) ? Number(v(minutes)) : null,
          remindAfterSeconds: v(remind) ? Number(v(remind)) : null,
          webhooks: v(url) ? [{ url: v(url), secret: secret.input.value }] : [],
          emails: v(mailTo)
            ? [{ host: v(host), port: Number(v(port)), tls: tls.value, username: v(user) || null,
                 password: password.input.value || null, from: v(mailFrom), to: v(mailTo).split(",").map((s) => s.trim()) }]
            : [],
        };
        try {
          await gql(SAVE, { input });
          form.reset();
          messages.replaceChildren(notice("success", `Rule "${input.name}" saved.`));
          await reload();
        } catch (err) {
          const [fieldName, message] = err instanceof GraphQLError ? (Object.entries(err.fieldErrors())[0] ?? []) : [];
          const key = fieldName && Object.keys(fields).find((k) => fieldName === k || fieldName.startsWith(`${k}.`));
          if (key) {
            fields[key].setError(fieldMessage(message.replace(/^input\.[\w.]+:\s*/, "")));
            fields[key].input.focus();
          } else {
            messages.replaceChildren(notice("error", describeError(err)));
          }
        }
      },
    },
    name.el,
    h("div", { class: "field" }, h("label", { for: "rule-condition" }, "Condition"), condition),
    minutes.el,
    remind.el,
    url.el,
    secret.el,
    mailTo.el,
    mailFrom.el,
    host.el,
    port.el,
    h("div", { class: "field" }, h("label", { for: "rule-email-tls" }, "SMTP TLS"), tls),
    user.el,
    password.el,
    h("button", { type: "submit", class: "button", id: "rule-save" }, "Save rule"),
  );
  return form;
}
