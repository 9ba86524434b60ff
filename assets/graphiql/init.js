// GraphiQL for acumatica-bridge, served from the binary: no request leaves this host.
// The admin token is asked for in the bar on top and kept in sessionStorage only, under the
// console's key (signing in to either signs in to both; it is gone when the browser session
// ends). Every request to POST /graphql carries it as `Authorization: Bearer …`, and the
// subscriptions over /graphql/ws send it in connection_init. GraphiQL keeps its own state (tabs,
// queries) in localStorage, never the token: the headers editor is not persisted.
(function () {
  "use strict";

  const TOKEN_KEY = "acumatica-bridge.token";
  const DEFAULT_QUERY = `# acumatica-bridge. Docs (top left): every query,
# mutation and subscription. Ctrl-Enter: run.
{
  connection { status }
  orders(first: 5) {
    totalCount
    edges { node { number placedAt total currency sync { status salesOrderNbr } } }
  }
}
`;

  const form = document.getElementById("token-form");
  const input = document.getElementById("token");
  const forget = document.getElementById("forget-token");
  const status = document.getElementById("token-status");
  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql/ws`;

  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("error", !!isError);
  }

  /** Is `token` accepted by the bridge? (A wrong one gets 401.) */
  async function accepted(token) {
    const r = await fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: "{ __typename }" }),
    });
    return r.status !== 401;
  }

  function render() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    forget.hidden = !token;
    if (!token) {
      root.render(null);
      say("Enter the admin token to use GraphiQL.");
      input.focus();
      return;
    }
    say("Signed in for this browser session.");
    const auth = { Authorization: `Bearer ${token}` };
    const fetcher = GraphiQL.createFetcher({
      url: "/graphql",
      subscriptionUrl: wsUrl,
      headers: auth,
      wsConnectionParams: auth,
    });
    root.render(
      React.createElement(GraphiQL, {
        key: token,
        fetcher,
        defaultQuery: DEFAULT_QUERY,
        shouldPersistHeaders: false,
      }),
    );
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) {
      say("The admin token is required.", true);
      return;
    }
    try {
      if (!(await accepted(token))) {
        say("The admin token was refused.", true);
        return;
      }
    } catch (e) {
      say(`The bridge cannot be reached: ${e.message}`, true);
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    input.value = "";
    render();
  });

  forget.addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    render();
  });

  render();
})();
