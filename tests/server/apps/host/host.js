// A test host for MCP Apps: the real host bridge of @modelcontextprotocol/ext-apps (AppBridge)
// and the real MCP TypeScript client over streamable HTTP, talking to descript-mcp. It calls
// one tool as a model would, renders the tool's ui:// resource in a sandboxed frame with the
// content-security policy the resource declares, and keeps what happened in window.__host
// for the test to read. Bundled for the browser by esbuild in tests/apps/test_job_view.py.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import {
  AppBridge, PostMessageTransport, RESOURCE_MIME_TYPE, getToolUiResourceUri,
} from "@modelcontextprotocol/ext-apps/app-bridge";

const params = new URLSearchParams(location.search);
const TOOL = params.get("tool");
const ARGS = JSON.parse(params.get("args") || "{}");
const THEME = params.get("theme") || "light";
const WIDTH = Number(params.get("width") || 560);
// Fields to change in the result the view is given: what a hostile answer would carry.
const PATCH = JSON.parse(params.get("patch") || "{}");
const host = (window.__host = {
  ready: false, error: null, openedLinks: [], appToolCalls: [], modelContext: [],
});

// What a host derives from the resource's _meta.ui.csp: nothing from the network but the
// declared resource origins (the view's script and style are inline).
function policy(csp = {}) {
  const origins = (csp.resourceDomains || []).join(" ");
  return [
    "default-src 'none'", "script-src 'unsafe-inline'", "style-src 'unsafe-inline'",
    `img-src data: ${origins}`, `media-src ${origins}`,
    `connect-src ${(csp.connectDomains || []).join(" ") || "'none'"}`,
  ].join("; ");
}

async function main() {
  document.body.classList.toggle("dark", THEME === "dark");
  const client = new Client({ name: "descript-mcp-test-host", version: "1" }, {
    capabilities: { extensions: { "io.modelcontextprotocol/ui": { mimeTypes: [RESOURCE_MIME_TYPE] } } },
  });
  const token = params.get("token");
  await client.connect(new StreamableHTTPClientTransport(new URL("/mcp", location.origin), {
    authProvider: { token: async () => token },
  }));
  const { tools } = await client.listTools();
  const tool = tools.find((t) => t.name === TOOL);
  const { contents: [view] } = await client.readResource({ uri: getToolUiResourceUri(tool) });
  if (view.mimeType !== RESOURCE_MIME_TYPE) throw new Error(`not an app: ${view.mimeType}`);
  host.csp = view._meta?.ui?.csp || {};
  const html = view.text.replace(/<head[^>]*>/i, (head) =>
    `${head}<meta http-equiv="Content-Security-Policy" content="${policy(host.csp)}">`);

  const frame = document.createElement("iframe");
  frame.id = "app";
  frame.setAttribute("sandbox", "allow-scripts");  // an opaque origin: the view reaches only us
  frame.style.cssText = `width:${WIDTH}px;height:120px;border:1px solid #8884;border-radius:8px`;
  document.body.appendChild(frame);

  const bridge = new AppBridge(client, { name: "descript-mcp-test-host", version: "1" },
    { openLinks: {}, serverTools: {}, logging: {}, updateModelContext: { text: {} } },
    { hostContext: { theme: THEME, displayMode: "inline", platform: "web", toolInfo: { tool } } });
  bridge.onopenlink = async ({ url }) => { host.openedLinks.push(url); return {}; };
  bridge.onupdatemodelcontext = async (context) => { host.modelContext.push(context); return {}; };
  bridge.onsizechange = ({ height }) => { if (height) frame.style.height = `${height}px`; };
  bridge.oninitialized = async () => {
    await bridge.sendToolInput({ arguments: ARGS });
    host.toolResult = await client.callTool({ name: TOOL, arguments: ARGS });  // the model's call
    Object.assign(host.toolResult.structuredContent || {}, PATCH);
    await bridge.sendToolResult(host.toolResult);
    host.ready = true;
  };
  await bridge.connect(new PostMessageTransport(frame.contentWindow, frame.contentWindow));
  const forward = bridge.oncalltool;  // installed by connect: passes the view's calls on
  bridge.oncalltool = async (call, extra) => { host.appToolCalls.push(call); return forward(call, extra); };
  frame.srcdoc = html;  // only once the bridge listens
  host.setTheme = (theme) => {
    document.body.classList.toggle("dark", theme === "dark");
    bridge.setHostContext({ theme });
  };
}

main().catch((error) => { host.error = String(error?.stack || error); });
