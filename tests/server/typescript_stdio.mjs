// The MCP TypeScript client (what most hosts embed) over stdio on protocol 2026-07-28, as a host
// runs descript-mcp: it reads server/discover (the instructions) from a short-lived sibling
// process, then imports the sample those instructions name and publishes it, with progress.
// Prints one JSON line: what it saw, and every error the client reported through onerror.
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";

const [command, ...args] = JSON.parse(process.argv[2]);
const errors = [];
const progress = [];
const client = new Client(
  { name: "descript-mcp-test", version: "1" },
  { versionNegotiation: { mode: { pin: "2026-07-28" } } },
);
client.onerror = (error) => errors.push(String(error?.message ?? error));
await client.connect(new StdioClientTransport({ command, args, stderr: "inherit" }));
const instructions = client.getInstructions() ?? "";
const sample = (instructions.match(/sandbox:\S+?\.wav/) ?? [])[0];
const onprogress = (update) => progress.push(update);
const imported = await client.callTool(
  {
    name: "import_media",
    arguments: { project_name: "From TypeScript", add_media: { "sample.wav": { url: sample } } },
  },
  { onprogress },
);
const published = imported.isError
  ? null
  : await client.callTool(
      { name: "publish", arguments: { project_id: imported.structuredContent.project_id } },
      { onprogress },
    );
// A last call: every message sent before its answer has been handled by then.
await client.callTool({ name: "get_drive_status", arguments: {} });
console.log(
  JSON.stringify({
    protocol: client.getNegotiatedProtocolVersion(),
    sample,
    imported,
    published,
    progress,
    errors,
  }),
);
await client.close();
