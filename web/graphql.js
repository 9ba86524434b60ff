// The console's only way to the bridge: GraphQL over HTTP (queries, mutations) and over
// WebSocket with the graphql-transport-ws protocol (subscriptions). The admin token lives in
// sessionStorage: it is gone when the browser session ends.

const TOKEN_KEY = "acumatica-bridge.token";

/** A GraphQL answer with errors; `errors` keeps each error's message and extensions. */
export class GraphQLError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join("; "));
    this.name = "GraphQLError";
    this.errors = errors;
  }

  /** The first error's extensions.code (BAD_INPUT, NOT_FOUND, …). */
  get code() {
    return this.errors[0]?.extensions?.code;
  }

  /** Messages of BAD_INPUT errors by their field path, e.g. {"input.salesOrderType": "…"}. */
  fieldErrors() {
    const out = {};
    for (const e of this.errors) {
      const field = e.extensions?.field;
      if (e.extensions?.code === "BAD_INPUT" && field) out[field] = e.message;
    }
    return out;
  }
}

/** The bridge refused the token (HTTP 401 or WebSocket close 4403). */
export class UnauthorizedError extends Error {
  constructor() {
    super("The admin token was refused.");
    this.name = "UnauthorizedError";
  }
}

let unauthorizedHandler = () => {};

/** Called once whenever the bridge refuses the stored token. */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  live.close();
}

/** POSTs one operation with `tok` (the stored token by default); returns `data`. */
export async function request(query, variables = {}, tok = token()) {
  let res;
  try {
    res = await fetch("/graphql", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        Authorization: `Bearer ${tok ?? ""}`,
      },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new Error("The bridge cannot be reached. Is the service running?");
  }
  if (res.status === 401) {
    throw new UnauthorizedError();
  }
  let body;
  try {
    body = await res.json();
  } catch {
    throw new Error(`The bridge answered HTTP ${res.status} without a GraphQL response.`);
  }
  if (body.errors?.length) throw new GraphQLError(body.errors);
  if (!res.ok) throw new Error(`The bridge answered HTTP ${res.status}.`);
  return body.data;
}

/** Like `request` with the stored token; a refused token signs the console out. */
export async function gql(query, variables = {}) {
  try {
    return await request(query, variables);
  } catch (e) {
    if (e instanceof UnauthorizedError) unauthorizedHandler();
    throw e;
  }
}

/**
 * One graphql-transport-ws connection shared by every subscription of the page. It opens once
 * signed in (or on the first subscription), reconnects with a growing delay, resubscribes after a reconnect (telling each subscriber, which may have
 * missed events, through `onResync`), and reports its state to `onState` listeners:
 * "connecting", "live", "offline".
 */
class LiveConnection {
  constructor() {
    this.socket = null;
    this.acked = false;
    this.subs = new Map();
    this.nextId = 1;
    this.retryDelay = 1000;
    this.retryTimer = null;
    this.state = "offline";
    this.listeners = new Set();
    this.closedOnPurpose = false;
  }

  onState(listener) {
    this.listeners.add(listener);
    listener(this.state);
    return () => this.listeners.delete(listener);
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    for (const l of this.listeners) l(state);
  }

  open() {
    if (this.socket || !token()) return;
    this.closedOnPurpose = false;
    this.acked = false;
    this.setState("connecting");
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/graphql/ws`, "graphql-transport-ws");
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.send({ type: "connection_init", payload: { Authorization: `Bearer ${token()}` } });
    });
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", (event) => this.closed(socket, event.code));
  }

  send(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  receive(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    switch (msg.type) {
      case "connection_ack": {
        const resumed = this.hadConnection;
        this.acked = true;
        this.hadConnection = true;
        this.retryDelay = 1000;
        this.setState("live");
        for (const [id, sub] of this.subs) {
          this.send({ id, type: "subscribe", payload: { query: sub.query, variables: sub.variables } });
          if (resumed) sub.onResync?.();
        }
        break;
      }
      case "ping":
        this.send({ type: "pong" });
        break;
      case "next": {
        const sub = this.subs.get(msg.id);
        if (!sub) break;
        if (msg.payload?.errors?.length) {
          // A subscriber that fell behind gets one error saying how many events it missed.
          sub.onResync?.();
        } else if (msg.payload?.data) {
          sub.onData(msg.payload.data);
        }
        break;
      }
      case "error": {
        const sub = this.subs.get(msg.id);
        this.subs.delete(msg.id);
        sub?.onError?.(new GraphQLError(Array.isArray(msg.payload) ? msg.payload : []));
        break;
      }
      case "complete":
        this.subs.delete(msg.id);
        break;
      default:
        break;
    }
  }

  closed(socket, code) {
    if (socket !== this.socket) return;
    this.socket = null;
    this.acked = false;
    this.setState("offline");
    if (code === 4403) {
      this.subs.clear();
      unauthorizedHandler();
      return;
    }
    if (!this.closedOnPurpose && token()) {
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.open(), this.retryDelay);
      this.retryDelay = Math.min(this.retryDelay * 2, 15000);
    }
  }

  subscribe(query, variables, handlers) {
    const id = String(this.nextId++);
    this.subs.set(id, { query, variables, ...handlers });
    if (!this.socket) this.open();
    else if (this.acked) this.send({ id, type: "subscribe", payload: { query, variables } });
    return () => {
      if (this.subs.delete(id) && this.acked) this.send({ id, type: "complete" });
    };
  }

  close() {
    this.closedOnPurpose = true;
    clearTimeout(this.retryTimer);
    this.subs.clear();
    this.hadConnection = false;
    const socket = this.socket;
    this.socket = null;
    this.acked = false;
    this.setState("offline");
    if (socket) socket.close(1000, "signed out");
  }
}

export const live = new LiveConnection();

/**
 * Subscribes to `query`; `onData(data)` gets each event, `onResync()` is called when events may
 * have been missed (a reconnect, or the server saying the subscriber fell behind).
 * Returns the function that ends the subscription.
 */
export function subscribe(query, variables, { onData, onResync, onError }) {
  return live.subscribe(query, variables, { onData, onResync, onError });
}
