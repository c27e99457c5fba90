// gigmarket playground bootstrap: GraphiQL (served by this server, no CDN) wired to the
// HTTP endpoint for queries and mutations and to graphql-ws for subscriptions. The
// Authorization header typed into GraphiQL's headers editor goes with HTTP requests and into
// the WebSocket's connection_init payload.
(function () {
  "use strict";
  var endpoint = window.location.pathname;
  var wsUrl = (window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host + endpoint + "/ws";

  var authorization = null;
  var wsClient = graphqlWs.createClient({
    url: wsUrl,
    lazy: true,
    connectionParams: function () {
      return authorization ? { authorization: authorization } : {};
    },
  });

  function authorizationOf(headers) {
    if (!headers) return null;
    for (var name in headers) {
      if (name.toLowerCase() === "authorization" && typeof headers[name] === "string") return headers[name];
    }
    return null;
  }

  var inner = GraphiQL.createFetcher({
    url: endpoint,
    wsClient: wsClient,
    headers: { Accept: "application/graphql-response+json, application/json" },
  });

  function fetcher(params, options) {
    var next = authorizationOf(options && options.headers);
    if (next !== authorization) {
      // New credentials: the socket reconnects with them on the next subscription.
      authorization = next;
      wsClient.terminate();
    }
    return inner(params, options);
  }

  var initialQuery = [
    "# Welcome to the gigmarket playground.",
    "# Put {\"Authorization\": \"Bearer <accessToken>\"} in the Headers tab to act as a user;",
    "# subscriptions run over WebSocket with the same header.",
    "query Templates {",
    "  taskTemplates {",
    "    key",
    "    name",
    "  }",
    "}",
    "",
  ].join("\n");

  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: initialQuery,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
    })
  );
})();
