// The MCP TypeScript SDK's OAuth client against descript-mcp in the OAuth mode, headless:
// discovery from a 401, registration, authorize, the connect page filled in as a person's
// browser would (its cookie kept, its forms posted), the code exchanged by the SDK (which checks
// `iss`, RFC 9207), a tool call, then revocation with the client id alone (RFC 7009).
//
// node typescript_client.mjs MCP_URL DESCRIPT_TOKEN REDIRECT_URL, with NODE_MODULES naming the
// node_modules that hold @modelcontextprotocol/client; prints one line of JSON.
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const sdk = await import(
  pathToFileURL(join(process.env.NODE_MODULES, "@modelcontextprotocol/client/dist/index.mjs")).href
);
const { Client, StreamableHTTPClientTransport, UnauthorizedError } = sdk;
const [mcpUrl, descriptToken, redirectUrl] = process.argv.slice(2);

// A browser: one cookie jar, redirects followed by hand so that the app's address is not fetched.
class Browser {
  cookies = new Map();

  async open(url, form) {
    const headers = { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ") };
    const init = { headers, redirect: "manual" };
    if (form) Object.assign(init, { method: "POST", body: new URLSearchParams(form) });
    const response = await fetch(url, init);
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const at = pair.indexOf("=");
      this.cookies.set(pair.slice(0, at), pair.slice(at + 1));
    }
    return response;
  }

  // Where the server sends the browser back to the app, after the person allowed it.
  async signIn(authorizeUrl) {
    const started = await this.open(authorizeUrl);
    if (started.status !== 302) throw new Error(`/authorize answered ${started.status}`);
    const connectUrl = new URL(started.headers.get("location"), authorizeUrl).href;
    const tokenPage = await this.expect(await this.open(connectUrl), 200);
    const confirmPage = await this.expect(
      await this.open(connectUrl, { csrf: csrf(tokenPage), action: "check", token: descriptToken }),
      200,
    );
    if (!confirmPage.includes("id=drive")) throw new Error("the token was not accepted");
    const done = await this.open(connectUrl, { csrf: csrf(confirmPage), action: "confirm" });
    if (done.status !== 303) throw new Error(`confirming answered ${done.status}`);
    return done.headers.get("location");
  }

  async expect(response, status) {
    const text = await response.text();
    if (response.status !== status) throw new Error(`${response.status}: ${text}`);
    return text;
  }
}

function csrf(page) {
  const found = /name=csrf value=([^\s>]+)/.exec(page);
  if (!found) throw new Error("no CSRF token on the page");
  return found[1];
}

class Provider {
  browser = new Browser();
  information = undefined;
  saved = undefined;
  verifier = "";
  sentBack = "";

  get redirectUrl() {
    return redirectUrl;
  }

  get clientMetadata() {
    return {
      client_name: "TypeScript SDK client",
      redirect_uris: [redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }

  clientInformation() {
    return this.information;
  }

  saveClientInformation(information) {
    this.information = information;
  }

  tokens() {
    return this.saved;
  }

  saveTokens(tokens) {
    this.saved = tokens;
  }

  saveCodeVerifier(verifier) {
    this.verifier = verifier;
  }

  codeVerifier() {
    return this.verifier;
  }

  async redirectToAuthorization(authorizationUrl) {
    this.sentBack = await this.browser.signIn(authorizationUrl.href);
  }
}

const provider = new Provider();
const transport = () => new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
const info = { name: "typescript-oauth-test", version: "1.0.0" };

let unauthorized = false;
try {
  await new Client(info).connect(transport());
} catch (error) {
  if (!(error instanceof UnauthorizedError)) throw error;
  unauthorized = true;
}
const callback = new URL(provider.sentBack);
const signedIn = transport();
await signedIn.finishAuth(callback.searchParams);
const client = new Client(info);
await client.connect(signedIn);
const listed = await client.callTool({ name: "list_projects", arguments: {} });
await client.close();

const access = provider.saved.access_token;
const revoked = await fetch(new URL("/revoke", mcpUrl), {
  method: "POST",
  body: new URLSearchParams({ token: access, client_id: provider.information.client_id }),
});
const after = await fetch(mcpUrl, {
  method: "POST",
  headers: {
    authorization: `Bearer ${access}`,
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
  },
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
});
console.log(
  JSON.stringify({
    unauthorized_first: unauthorized,
    auth_method: provider.information.token_endpoint_auth_method,
    has_secret: Boolean(provider.information.client_secret),
    iss: callback.searchParams.get("iss"),
    tool_error: Boolean(listed.isError),
    tool_result: listed.structuredContent ?? null,
    revoke_status: revoked.status,
    after_revoke_status: after.status,
  }),
);
