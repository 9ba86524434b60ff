// The console's shell: sign-in gate, header with navigation, hash routing, page lifecycle.
//
// Each page is a module exporting `render(ctx)`. The route table below lists only pages whose
// API exists; a page joins it (and the navigation) when its queries, mutations and
// subscriptions land in the API.

import { clearToken, live, onUnauthorized, token } from "./graphql.js";
import { h } from "./ui.js";
import * as signin from "./signin.js";
import * as orders from "./orders.js";
import * as order from "./order.js";
import * as settings from "./settings.js";
import * as connection from "./connection.js";
import * as jobs from "./jobs.js";
import * as job from "./job.js";
import * as alerts from "./alerts.js";
import * as audit from "./audit.js";

/** Routes: a pattern on the path after "#", the page, and the navigation entry it lights up. */
const ROUTES = [
  { pattern: /^\/orders$/, page: orders, nav: "orders" },
  { pattern: /^\/orders\/(.+)$/, page: order, nav: "orders" },
  { pattern: /^\/jobs$/, page: jobs, nav: "jobs" },
  { pattern: /^\/jobs\/(\d+)$/, page: job, nav: "jobs" },
  { pattern: /^\/connection$/, page: connection, nav: "connection" },
  { pattern: /^\/settings$/, page: settings, nav: "settings" },
  { pattern: /^\/alerts$/, page: alerts, nav: "alerts" },
  { pattern: /^\/audit$/, page: audit, nav: "audit" },
];

const NAV = [
  { id: "orders", label: "Orders", href: "#/orders" },
  { id: "jobs", label: "Jobs", href: "#/jobs" },
  { id: "connection", label: "Connection", href: "#/connection" },
  { id: "settings", label: "Settings", href: "#/settings" },
  { id: "alerts", label: "Alerts", href: "#/alerts" },
  { id: "audit", label: "Audit log", href: "#/audit" },
];

const DEFAULT_ROUTE = "#/orders";

const root = document.getElementById("app");
let current = null; // { cleanups: [], controller }
let signedOutMessage = null;

onUnauthorized(() => {
  clearToken();
  signedOutMessage = "The bridge refused the admin token. Sign in again.";
  route();
});

window.addEventListener("hashchange", route);
route();

function parseHash() {
  const raw = location.hash.startsWith("#") ? location.hash.slice(1) : "";
  const [path, query = ""] = raw.split("?");
  return { path: path || "/", query: new URLSearchParams(query) };
}

function leavePage() {
  if (!current) return;
  current.controller.abort();
  // A question asked by the page left behind goes with it (answered "no").
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  for (const fn of current.cleanups.splice(0)) {
    try {
      fn();
    } catch (e) {
      console.warn("cleanup failed", e);
    }
  }
  current = null;
}

function route() {
  leavePage();
  const { path, query } = parseHash();
  if (!token()) {
    renderSignIn();
    return;
  }
  const match = ROUTES.map((r) => ({ r, m: r.pattern.exec(path) })).find((x) => x.m);
  if (!match) {
    if (path === "/" || path === "/signin") {
      location.replace(DEFAULT_ROUTE);
      return;
    }
    renderShell(null, (main) => {
      document.title = "Not found · acumatica-bridge";
      main.append(
        h("h1", {}, "Page not found"),
        h("p", {}, "There is no such page in the console. ", h("a", { href: DEFAULT_ROUTE }, "Go to the orders"), "."),
      );
    });
    return;
  }
  const { r, m } = match;
  renderShell(r.nav, (main, ctx) =>
    r.page.render({
      ...ctx,
      main,
      params: m.slice(1).map((p) => decodeURIComponent(p)),
      query,
    }),
  );
}

function renderSignIn() {
  const cleanups = [];
  const controller = new AbortController();
  current = { cleanups, controller };
  root.replaceChildren();
  const main = h("main", { id: "main", class: "signin-main", tabindex: "-1" });
  root.append(main);
  const message = signedOutMessage;
  signedOutMessage = null;
  signin.render({
    main,
    message,
    signal: controller.signal,
    onCleanup: (fn) => cleanups.push(fn),
    onSignedIn: () => {
      const target = location.hash.startsWith("#/") && location.hash !== "#/signin" ? location.hash : DEFAULT_ROUTE;
      if (location.hash === target) route();
      else location.hash = target;
    },
  });
}

function renderShell(activeNav, renderPage) {
  const cleanups = [];
  const controller = new AbortController();
  current = { cleanups, controller };

  live.open();
  const liveDot = h("span", { class: "live-dot", "aria-hidden": "true" });
  const liveText = h("span", { class: "live-text" });
  const liveStatus = h("span", { class: "live", role: "status", title: "Live updates" }, liveDot, liveText);
  cleanups.push(
    live.onState((state) => {
      liveStatus.dataset.state = state;
      liveText.textContent = { live: "Live", connecting: "Connecting…", offline: "Offline" }[state];
    }),
  );

  const skip = h(
    "a",
    {
      class: "skip-link",
      href: "#main",
      onclick: (e) => {
        e.preventDefault();
        main.focus();
      },
    },
    "Skip to content",
  );
  const header = h(
    "header",
    { class: "topbar" },
    h(
      "div",
      { class: "topbar-inner" },
      h("a", { class: "brand", href: DEFAULT_ROUTE }, h("span", { class: "brand-mark", "aria-hidden": "true" }, "AB"), "Acumatica Bridge"),
      h(
        "nav",
        { class: "mainnav", "aria-label": "Main" },
        h(
          "ul",
          {},
          NAV.map((n) =>
            h("li", {}, h("a", { href: n.href, "aria-current": n.id === activeNav ? "page" : null }, n.label)),
          ),
        ),
      ),
      h(
        "div",
        { class: "topbar-end" },
        liveStatus,
        h(
          "button",
          {
            type: "button",
            class: "button button-quiet",
            id: "sign-out",
            onclick: () => {
              clearToken();
              signedOutMessage = "You are signed out.";
              location.hash = "#/signin";
            },
          },
          "Sign out",
        ),
      ),
    ),
  );
  const main = h("main", { id: "main", class: "page", tabindex: "-1" });
  root.replaceChildren(skip, header, main);
  const ctx = {
    signal: controller.signal,
    onCleanup: (fn) => cleanups.push(fn),
  };
  Promise.resolve(renderPage(main, ctx)).catch((e) => {
    if (controller.signal.aborted) return;
    console.warn("page failed", e);
  });
}
