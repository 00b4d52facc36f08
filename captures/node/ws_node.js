'use strict';
// Scenario ws-node-ws: node `ws` server and client (perMessageDeflate on both sides, context takeover; some
// messages sent with compress: false), text and binary, fragmented messages (uncompressed and compressed),
// an 80 000-byte binary message, pings both ways, and a Close 4001 with a reason sent by the server.
// Lock-step: the client waits for each answer, so the handlers' record is in wire order.
// Usage: node ws_node.js --host ::1 --port N --out record.json

const crypto = require('crypto');
const { WebSocket, WebSocketServer } = require('ws');
const R = require('./record');

const args = R.parseArgs(process.argv);
const INLINE_LIMIT = 4096;
const messages = [];
const pings = [];
const close = {};
const handshake = {};

// deterministic pseudo-random bytes (xorshift32), incompressible for deflate
function pseudoRandom(n, seed) {
  const out = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

const BIG_BINARY = pseudoRandom(80000, 4001);
const LONG_TEXT = 'compressible text; '.repeat(120); // 2280 bytes: over the threshold, compressed

function entry(direction, data, isBinary) {
  const raw = Buffer.isBuffer(data) ? data : Buffer.concat(data);
  const e = {
    direction,
    opcode: isBinary ? 'binary' : 'text',
    length: raw.length,
    sha256: crypto.createHash('sha256').update(raw).digest('hex'),
  };
  if (raw.length <= INLINE_LIMIT) {
    if (isBinary) e.hex = raw.toString('hex');
    else e.text = raw.toString('utf8');
  }
  return e;
}

function sendFragments(ws, parts, binary, compress) {
  // RFC 6455 §5.4: one message in len(parts) frames
  parts.forEach((p, i) => ws.send(p, { binary, compress, fin: i === parts.length - 1 }));
}

function startServer() {
  const wss = new WebSocketServer({
    host: args.host,
    port: args.port,
    perMessageDeflate: { threshold: 1024 },
    handleProtocols: (protocols) => (protocols.has('chat.v2') ? 'chat.v2' : false),
  });
  wss.on('connection', (ws, req) => {
    handshake.path = req.url;
    handshake.request_extensions = req.headers['sec-websocket-extensions'] || null;
    ws.on('message', (data, isBinary) => {
      messages.push(entry('c2s', data, isBinary));
      const text = isBinary ? null : data.toString('utf8');
      if (isBinary && data.length > INLINE_LIMIT) {
        ws.send(`received ${data.length} bytes, sha256=${crypto.createHash('sha256').update(data).digest('hex')}`);
      } else if (isBinary) {
        ws.send(Buffer.from(data).reverse());
      } else if (text === 'please send fragments') {
        sendFragments(ws, [Buffer.alloc(100, 0xa1), Buffer.alloc(100, 0xb2), Buffer.alloc(100, 0xc3)], true, false);
      } else if (text === 'please send compressed fragments') {
        sendFragments(ws, ['A'.repeat(1500), 'B'.repeat(1500), 'C'.repeat(1500)], false, true);
      } else if (text === 'please ping me') {
        ws.once('pong', (payload) => {
          pings.push({ direction: 's2c', payload_hex: payload.toString('hex'), pong_received: true });
          ws.send('pong received');
        });
        ws.ping(Buffer.from('server-ping-1'));
      } else if (text === 'please close') {
        ws.close(4001, 'session expired ✓'); // an application close code (RFC 6455 §7.4.2)
      } else {
        ws.send('echo: ' + text);
      }
    });
    ws.on('close', (code, reason) => {
      close.c2s = { code, reason: reason.toString('utf8') };
    });
  });
  return new Promise((resolve) => wss.on('listening', () => resolve(wss)));
}

async function runClient() {
  const host = args.host.includes(':') ? `[${args.host}]` : args.host;
  const ws = new WebSocket(`ws://${host}:${args.port}/feed?client=node`, ['chat.v2'], {
    perMessageDeflate: true,
    handshakeTimeout: 5000,
  });
  const replies = [];
  let waiter = null;
  ws.on('message', (data, isBinary) => {
    const e = entry('s2c', data, isBinary);
    messages.push(e);
    if (waiter) {
      const w = waiter;
      waiter = null;
      w(e);
    } else {
      replies.push(e);
    }
  });
  const closed = new Promise((resolve) =>
    ws.on('close', (code, reason) => {
      close.s2c = { code, reason: reason.toString('utf8') };
      resolve();
    }),
  );
  ws.on('upgrade', (res) => {
    handshake.extensions = res.headers['sec-websocket-extensions'] || null;
  });
  await R.once(ws, 'open', 5000);
  handshake.subprotocol = ws.protocol;
  const next = () => R.withTimeout(new Promise((resolve) => (waiter = resolve)), 5000, 'reply');
  const exchange = async (send) => {
    const p = next();
    send();
    return p;
  };
  await exchange(() => ws.send('hello from the ws client ✓'));
  await exchange(() => ws.send(Buffer.from([...Array(256).keys()])));
  await exchange(() => ws.send(LONG_TEXT));
  await exchange(() => ws.send('sent with compress: false', { compress: false })); // RSV1 clear
  await exchange(() => sendFragments(ws, ['part one, ', 'part two, ', 'part three'], false, false));
  await exchange(() => sendFragments(ws, ['x'.repeat(1200), 'y'.repeat(1200)], false, true));
  const pong = R.once(ws, 'pong', 5000);
  ws.ping(Buffer.from('client-ping-1'));
  const [payload] = await pong;
  pings.push({ direction: 'c2s', payload_hex: payload.toString('hex'), pong_received: true });
  await exchange(() => ws.send('please send fragments'));
  await exchange(() => ws.send('please send compressed fragments'));
  await exchange(() => ws.send('please ping me'));
  await exchange(() => ws.send(BIG_BINARY));
  ws.send('please close');
  await R.withTimeout(closed, 5000, 'close');
}

async function main() {
  const timer = R.deadline(30000);
  const wss = await startServer();
  await runClient();
  await R.sleep(200);
  await new Promise((resolve) => wss.close(() => resolve()));
  R.writeRecord(args.out, {
    websocket: {
      connections: 1,
      handshake,
      messages,
      pings,
      close: { c2s: close.c2s || null, s2c: close.s2c || null },
    },
    socketio: null,
    libraries: { node: process.version, ws: R.packageVersion('ws') },
    notes:
      'Lock-step conversation, so the messages are listed in wire order. c2s entries were recorded by the ' +
      "server's message handler, s2c by the client's. Messages over 4096 bytes give length and sha256 only " +
      "(length after inflating). Fragmented: c2s 'part one, part two, part three' (3 uncompressed text frames), " +
      "c2s 'x'*1200+'y'*1200 (2 frames, compressed: RSV1 on the first only), s2c binary 0xa1*100+0xb2*100+" +
      "0xc3*100 (3 frames, uncompressed), s2c text 'A'*1500+'B'*1500+'C'*1500 (3 frames, compressed). With " +
      "context takeover ws compresses every message (its 1024-byte threshold only applies with " +
      "no_context_takeover) except those sent with compress: false: 'sent with compress: false', the 'part' " +
      'frames and the s2c binary fragments have RSV1 clear although permessage-deflate is negotiated. The ' +
      'server closes with 4001; the client echoes code and reason. close.c2s is what the server received, ' +
      'close.s2c what the client received.',
  });
  clearTimeout(timer);
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + '\n');
  process.exit(1);
});
