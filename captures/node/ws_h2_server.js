'use strict';
// The server side of scenario ws-chromium-h2-rfc8441 (captures/h2/make_h2_captures.py): node's http2 server
// with SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3), serving a page whose script opens
// `new WebSocket('wss://localhost:PORT/echo')`. Chromium, holding an h2 connection to the origin that
// enables the setting, sends an extended CONNECT (:protocol websocket) on it; the stream is handed to the
// `ws` package (a WebSocket on any Duplex, permessage-deflate negotiated as its WebSocketServer does),
// which echoes what it receives. The server records what its WebSocket received (c2s) and the close.
// Usage: node ws_h2_server.js --host 127.0.0.1 --port N --out server-record.json --cert PEM --key PEM
// Prints "listening" on stdout once it accepts connections.

const fs = require('fs');
const http2 = require('http2');
const crypto = require('crypto');
const WebSocket = require('ws');
const PerMessageDeflate = require(require('path').join(__dirname, 'node_modules/ws/lib/permessage-deflate.js'))  // not exported: required by path;
const extension = require(require('path').join(__dirname, 'node_modules/ws/lib/extension.js'));
const R = require('./record');

const args = R.parseArgs(process.argv);
const received = [];
let closeInfo = null;

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>running</title></head><body><script>
'use strict';
const rec = { messages: [], close: null };
window.__record = rec;
const hex = (u8) => Array.from(u8, (b) => b.toString(16).padStart(2, '0')).join('');
const ws = new WebSocket('wss://' + location.host + '/echo?room=h2');
ws.binaryType = 'arraybuffer';
const sends = ['hello over RFC 8441 from chromium', new Uint8Array([0, 1, 2, 253, 254, 255]), 'x'.repeat(3000)];
let i = 0;
function next() {
  if (i < sends.length) {
    const m = sends[i++];
    rec.messages.push(typeof m === 'string' ? { direction: 'c2s', opcode: 'text', text: m, length: new TextEncoder().encode(m).length } : { direction: 'c2s', opcode: 'binary', hex: hex(m), length: m.length });
    ws.send(m);
  } else {
    ws.close(1000, 'bye from chromium');
  }
}
ws.onopen = () => { rec.protocol = ws.protocol; rec.extensions = ws.extensions; next(); };
ws.onmessage = (ev) => {
  if (typeof ev.data === 'string') rec.messages.push({ direction: 's2c', opcode: 'text', text: ev.data, length: new TextEncoder().encode(ev.data).length });
  else rec.messages.push({ direction: 's2c', opcode: 'binary', hex: hex(new Uint8Array(ev.data)), length: ev.data.byteLength });
  next();
};
ws.onclose = (ev) => { rec.close = { code: ev.code, reason: ev.reason, wasClean: ev.wasClean }; document.title = 'done'; };
ws.onerror = () => { rec.error = true; };
window.__finish = () => { document.title = 'closed'; };
</script></body></html>`;

const server = http2.createSecureServer({
  cert: fs.readFileSync(args.cert),
  key: fs.readFileSync(args.key),
  settings: { enableConnectProtocol: true },
});

server.on('stream', (stream, headers) => {
  if (headers[':method'] === 'CONNECT' && headers[':protocol'] === 'websocket') {
    upgrade(stream, headers);
    return;
  }
  if (headers[':path'] === '/') {
    stream.respond({ ':status': 200, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    stream.end(PAGE);
  } else {
    stream.respond({ ':status': 404 });
    stream.end();
  }
});

function upgrade(stream, headers) {
  // RFC 8441 §5: the answer is a 2xx with the negotiated extensions; no key, no accept
  const ws = new WebSocket(null, undefined, {});
  const response = { ':status': 200 };
  const offer = headers['sec-websocket-extensions'];
  if (offer) {
    const pmd = new PerMessageDeflate({ isServer: true, maxPayload: 100 * 1024 * 1024, threshold: 0 });
    const offers = extension.parse(offer);
    if (offers[PerMessageDeflate.extensionName]) {
      pmd.accept(offers[PerMessageDeflate.extensionName]);
      response['sec-websocket-extensions'] = extension.format({ [PerMessageDeflate.extensionName]: [pmd.params] });
      ws._extensions[PerMessageDeflate.extensionName] = pmd;
    }
  }
  stream.respond(response);
  ws.setSocket(stream, Buffer.alloc(0), { maxPayload: 100 * 1024 * 1024, skipUTF8Validation: false });
  ws.on('message', (data, isBinary) => {
    const raw = Buffer.from(data);
    received.push({
      direction: 'c2s',
      opcode: isBinary ? 'binary' : 'text',
      length: raw.length,
      sha256: crypto.createHash('sha256').update(raw).digest('hex'),
    });
    ws.send(data, { binary: isBinary });
  });
  ws.on('close', (code, reason) => {
    closeInfo = { code, reason: reason.toString() };
    setTimeout(finish, 500);
  });
}

function finish() {
  R.writeRecord(args.out, {
    received,
    close: closeInfo,
    libraries: { node: process.version, ws: R.packageVersion('ws') },
  });
  server.close();
  process.exit(0);
}

R.deadline(60000);
server.listen(args.port, args.host, () => process.stdout.write('listening\n'));
