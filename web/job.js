// One job: its status, progress, what it waits for, every attempt, and Retry / Cancel, kept
// current through jobUpdates(id).

import { GraphQLError, gql, subscribe } from "./graphql.js";
import { lastJobsHash } from "./jobs.js";
import {
  JOB_KIND,
  LIVE_JOB_STATUSES,
  confirmDialog,
  describeError,
  h,
  jobBadge,
  jobProgress,
  notice,
  timeSeconds,
  toast,
} from "./ui.js";

const FIELDS = `id kind status attempts maxAttempts lastError orderNumber createdAt updatedAt nextRunAt waitingFor
  cancelRequested progress { done total message } history { number startedAt finishedAt error }`;
const JOB = `query Job($id: ID!) { job(id: $id) { ${FIELDS} } }`;
const UPDATES = `subscription JobUpdates($id: ID) { jobUpdates(id: $id) { ${FIELDS} } }`;
const RETRY = `mutation RetryJob($id: ID!) { retryJob(id: $id) { ${FIELDS} } }`;
const CANCEL = `mutation CancelJob($id: ID!) { cancelJob(id: $id) { ${FIELDS} } }`;

const RETRYABLE = ["FAILED", "CANCELED"];
const CANCELABLE = ["QUEUED", "RETRY_SCHEDULED", "RUNNING"];

const EXPLAINED = {
  QUEUED: "Waiting for its turn to run.",
  RUNNING: "Running now.",
  RETRY_SCHEDULED: "The last attempt failed; the job runs again at the time below.",
  SUCCEEDED: "Done.",
  FAILED: "Failed for good: it stays failed until retried.",
  CANCELED: "Canceled: it does not run again unless retried.",
};

export async function render({ main, params, onCleanup, signal }) {
  const [id] = params;
  document.title = `Job #${id} · acumatica-bridge`;
  const back = h("a", { class: "back-link", href: lastJobsHash }, "← All jobs");
  const messages = h("div", { class: "page-messages", id: "job-messages" });
  const body = h("div", { id: "job" });
  main.append(back, messages, body);
  let shown = null;

  const show = (j) => {
    if (!j) {
      body.replaceChildren(h("h1", {}, `Job #${id}`), notice("error", `There is no job #${id} in the bridge.`));
      return;
    }
    // Updates may arrive out of order with a query's answer: keep the newest.
    if (shown && Date.parse(shown.updatedAt) > Date.parse(j.updatedAt)) return;
    shown = j;
    const hadFocus = document.activeElement?.id;
    body.replaceChildren(...view(j, { onRetry, onCancel }));
    if (hadFocus && !document.getElementById(hadFocus) && body.querySelector(".job-actions button:not([disabled])")) {
      body.querySelector(".job-actions button:not([disabled])").focus();
    } else if (hadFocus) {
      document.getElementById(hadFocus)?.focus();
    }
  };

  const reload = async () => {
    try {
      const data = await gql(JOB, { id });
      if (!signal.aborted) show(data.job);
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof GraphQLError && e.code === "BAD_INPUT") show(null);
      else body.replaceChildren(h("h1", {}, `Job #${id}`), notice("error", `The job could not be loaded: ${describeError(e)}`));
    }
  };

  async function act(mutation, key, done, button) {
    button.disabled = true;
    messages.replaceChildren();
    try {
      const data = await gql(mutation, { id });
      if (signal.aborted) return;
      show(data[key]);
      toast(done);
    } catch (e) {
      if (signal.aborted) return;
      messages.replaceChildren(notice("error", describeError(e)));
      button.disabled = false;
    }
  }

  function onRetry(e) {
    act(RETRY, "retryJob", `Job #${id} will run again.`, e.currentTarget);
  }

  async function onCancel(e) {
    const button = e.currentTarget;
    const running = shown?.status === "RUNNING";
    const yes = await confirmDialog({
      title: `Cancel job #${id}?`,
      message: running
        ? "The job stops at its next safe point and does not run again unless retried."
        : "The job does not run again unless retried.",
      confirmLabel: "Cancel job",
      danger: true,
    });
    if (yes && !signal.aborted) act(CANCEL, "cancelJob", running ? `Job #${id} stops at its next safe point.` : `Job #${id} canceled.`, button);
  }

  onCleanup(
    subscribe(UPDATES, { id }, {
      onData: (data) => {
        if (!signal.aborted) show(data.jobUpdates);
      },
      onResync: reload,
    }),
  );
  await reload();
}

function view(j, { onRetry, onCancel }) {
  const fact = (label, value, attrs = {}) => h("div", attrs, h("dt", {}, label), h("dd", {}, value));
  const actions = h(
    "div",
    { class: "job-actions" },
    RETRYABLE.includes(j.status)
      ? h("button", { type: "button", class: "button button-primary", id: "job-retry", onclick: onRetry }, "Retry")
      : null,
    CANCELABLE.includes(j.status)
      ? h(
          "button",
          { type: "button", class: "button button-danger-quiet", id: "job-cancel", onclick: onCancel, disabled: j.cancelRequested },
          j.cancelRequested ? "Cancel requested" : "Cancel",
        )
      : null,
  );
  const history = [...j.history].reverse();
  return [
    h(
      "div",
      { class: "page-head" },
      h("h1", {}, `${JOB_KIND[j.kind] ?? j.kind} · job #${j.id}`),
      actions,
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "job-status-title", id: "job-status" },
      h("h2", { id: "job-status-title", class: "visually-hidden" }, "Status"),
      h("p", { class: "job-status-line" }, jobBadge(j.status), " ", h("span", { class: "muted" }, j.waitingFor ? "Waiting until the condition below holds; then it runs." : EXPLAINED[j.status] ?? "")),
      // Progress tells something only while the job may still move.
      j.progress && LIVE_JOB_STATUSES.includes(j.status) ? jobProgress(j.progress, "job-progress") : null,
      j.lastError && j.status !== "SUCCEEDED"
        ? h("div", { class: "notice notice-error", id: "job-last-error" }, h("strong", {}, "Last error: "), j.lastError)
        : null,
      h(
        "dl",
        { class: "facts facts-grid" },
        fact("Kind", JOB_KIND[j.kind] ?? j.kind),
        fact("Attempts", `${j.attempts} of ${j.maxAttempts}`, { id: "job-attempts" }),
        j.orderNumber
          ? fact("Order", h("a", { href: `#/orders/${encodeURIComponent(j.orderNumber)}` }, `#${j.orderNumber}`))
          : null,
        fact("Created", timeSeconds(j.createdAt)),
        fact("Updated", timeSeconds(j.updatedAt)),
        j.nextRunAt ? fact("Next run", timeSeconds(j.nextRunAt), { id: "job-next-run" }) : null,
        j.waitingFor ? fact("Waiting for", j.waitingFor, { id: "job-waiting-for" }) : null,
        j.cancelRequested ? fact("Cancel", "Requested: the job stops at its next safe point.") : null,
      ),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "job-history-title" },
      h("h2", { id: "job-history-title" }, "Attempts"),
      history.length === 0
        ? h("p", { class: "muted", id: "job-history-empty" }, "No attempt yet.")
        : h(
            "div",
            { class: "table-wrap" },
            h(
              "table",
              { class: "table table-cards", id: "job-history" },
              h(
                "thead",
                {},
                h("tr", {}, ["Attempt", "Started", "Finished", "Result"].map((c) => h("th", { scope: "col" }, c))),
              ),
              h(
                "tbody",
                {},
                history.map((a) =>
                  h(
                    "tr",
                    { "data-attempt": String(a.number) },
                    h("th", { scope: "row", "data-label": "Attempt" }, String(a.number)),
                    h("td", { "data-label": "Started" }, timeSeconds(a.startedAt)),
                    h("td", { "data-label": "Finished" }, a.finishedAt ? timeSeconds(a.finishedAt) : h("span", { class: "muted" }, "running")),
                    h(
                      "td",
                      { "data-label": "Result", class: "job-error" },
                      a.error ? h("span", { class: "attempt-error" }, a.error) : a.finishedAt ? h("span", { class: "attempt-ok" }, "OK") : "",
                    ),
                  ),
                ),
              ),
            ),
          ),
    ),
  ];
}
