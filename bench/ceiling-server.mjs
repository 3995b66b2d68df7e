// The ceiling for bench/ingest.mjs: the least a Node HTTP server can do for an ingest request.
// It reads the body, JSON.parses it and answers 202 {"accepted":N,"duplicates":0} — no routing, no
// auth, no validation, no storage. Whatever the real server does on top of this is what it costs.
//
// Usage: node bench/ceiling-server.mjs <port> [host]   (prints "listening <port>" when ready)

import http from 'node:http';

const port = Number(process.argv[2] ?? 0);
const host = process.argv[3] ?? '127.0.0.1';
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`usage: node bench/ceiling-server.mjs <port> [host] (got port ${process.argv[2]})`);
  process.exit(2);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    let status = 202;
    let body;
    try {
      const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      body = JSON.stringify({ accepted: parsed.events.length, duplicates: 0 });
    } catch {
      status = 400;
      body = JSON.stringify({ error: 'bad_request' });
    }
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});

server.listen(port, host, () => {
  console.log(`listening ${server.address().port}`);
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
