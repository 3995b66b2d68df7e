import { useState } from 'react';
import { useView } from '../view.js';

/** No data yet: how to send some, with this project's real write key. */
export function EmptyProject() {
  const { project } = useView();
  const origin = location.origin;
  const tracker = `<script defer src="${origin}/tracker.js"\n  data-write-key="${project.writeKey}"\n  data-endpoint="${origin}"></script>`;
  const mcp = `import { createMcpSessions, remoteSink } from '@sessiontrack/mcp';

const mcp = createMcpSessions({
  sink: remoteSink({ url: '${origin}', writeKey: '${project.writeKey}' }),
  createServer: () => buildMyMcpServer(), // your McpServer, tools unchanged
});
app.all('/mcp', (c) => mcp.handleRequest(c.req.raw)); // or mcp.handle(req, res) on node:http`;
  return (
    <div className="view empty" data-testid="empty">
      <h1>No sessions in “{project.name}” yet</h1>
      <p>Add the tracker to your web app, or track your MCP server. Sessions show up here within seconds.</p>
      <Snippet title="Web app: one script tag" code={tracker} testId="snippet-tracker" />
      <Snippet title="MCP server (@sessiontrack/mcp)" code={mcp} testId="snippet-mcp" />
      <p className="muted">
        Just looking? Fill this project with demo traffic: <code>npx sessiontrack demo --project {project.id}</code>
      </p>
    </div>
  );
}

function Snippet(props: { title: string; code: string; testId: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <section className="panel" aria-label={props.title}>
      <header className="panel-head">
        <h2>{props.title}</h2>
        <button
          type="button"
          onClick={() =>
            navigator.clipboard?.writeText(props.code).then(
              () => setCopied(true),
              () => setCopied(false),
            )
          }
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
      </header>
      <pre data-testid={props.testId}>
        <code>{props.code}</code>
      </pre>
    </section>
  );
}
