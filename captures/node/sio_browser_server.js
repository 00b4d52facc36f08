'use strict';
// The server side of scenarios sio-chromium-browser (--version 4) and sio-chromium-v2-eio3 (--version 2):
// a socket.io server that also serves the page (browser/index.html or browser/index_v2.html) at /,
// browser/record.js at /record.js, and the socket.io-client browser bundle (socket.io 4: serveClient at
// /socket.io/socket.io.min.js; socket.io 2: /socket.io-client-2.js, see below). It records what its
// Socket.IO layer received (c2s), with timestamps, and writes the record when the root socket disconnects.
// With --cert and --key it is the server side of scenario sio-chromium-h2 (captures/h2/make_h2_captures.py):
// socket.io 4 (the same events, acks and binary attachments, the same page) on
// http2.createSecureServer({allowHTTP1: true}) instead of http.createServer, so that Chromium's
// Engine.IO polling runs over HTTP/2. RFC 8441 is not enabled: engine.io serves WebSocket upgrades of
// HTTP/1.1 only, so Chromium opens its WebSocket over an HTTP/1.1 TLS connection.
// Usage: node sio_browser_server.js --host 127.0.0.1 --port N --out server-record.json --version 4|2
//        node sio_browser_server.js --host 127.0.0.1 --port N --out server-record.json --cert PEM --key PEM
// Prints "listening" on stdout once it accepts connections.

const fs = require('fs');
const path = require('path');
const http = require('http');
const http2 = require('http2');
const R = require('./record');

const args = R.parseArgs(process.argv);
const v2 = args.version === '2';
if (v2 && args.cert) throw new Error('--cert (HTTP/2) goes with socket.io 4 only');
const log = R.newLog();
const state = {};
const page = fs.readFileSync(path.join(__dirname, 'browser', v2 ? 'index_v2.html' : 'index.html'));
const recordJs = fs.readFileSync(path.join(__dirname, 'browser', 'record.js'));
const V2_BUNDLE = path.join(__dirname, 'node_modules', 'sio2', 'node_modules', 'socket.io-client', 'dist', 'socket.io.js');

// the browser's record has timestamps; give the server's the same clock (ms since the epoch)
function hookServerSocket(proto, method) {
  const original = proto[method];
  proto[method] = function hooked(packet) {
    if (packet && packet.nsp === this.nsp.name) {
      const before = { events: log.events.length, acks: log.acks.length };
      R.recordPacket(log, 'c2s', packet);
      const t = performance.timeOrigin + performance.now();
      if (log.events.length > before.events) log.events[log.events.length - 1].ts = t;
      if (log.acks.length > before.acks) log.acks[log.acks.length - 1].ts = t;
    }
    return original.call(this, packet);
  };
}

function serve(req, res) {
  if (req.url === '/' || req.url.startsWith('/?')) {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(page);
  } else if (v2 && req.url === '/socket.io-client-2.js') {
    // served here: socket.io 2's serveClient resolves the bundle next to itself, and with the npm
    // alias layout that finds socket.io-client 4 at the top of node_modules
    res.writeHead(200, { 'Content-Type': 'application/javascript; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(fs.readFileSync(V2_BUNDLE));
  } else if (req.url === '/record.js') {
    res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(recordJs);
  } else {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found');
  }
}

// with a certificate: HTTP/2 over TLS with HTTP/1.1 beside it (ALPN h2 or http/1.1): the page and
// Engine.IO polling ride h2; the WebSocket upgrade is an HTTP/1.1 request on its own TLS connection
const httpServer = args.cert
  ? http2.createSecureServer(
      { allowHTTP1: true, cert: fs.readFileSync(args.cert), key: fs.readFileSync(args.key) },
      serve,
    )
  : http.createServer(serve);

// emit with an ack callback, as a promise with a timeout (socket.io 2 has no emitWithAck)
function call(socket, ...emitArgs) {
  if (!v2) return socket.timeout(5000).emitWithAck(...emitArgs);
  return R.withTimeout(
    new Promise((resolve) => socket.emit(...emitArgs, (...a) => resolve(a))),
    5000,
    `ack of ${emitArgs[0]}`,
  );
}

let io;
if (v2) {
  hookServerSocket(require('sio2/lib/socket').prototype, 'onpacket');
  io = require('sio2')(httpServer, { pingInterval: 1000, pingTimeout: 5000, serveClient: false });
} else {
  const { Server, Socket } = require('socket.io');
  hookServerSocket(Socket.prototype, '_onpacket');
  io = new Server(httpServer, {
    pingInterval: 1000,
    pingTimeout: 5000,
    perMessageDeflate: { threshold: 0 }, // let the browser negotiate permessage-deflate
  });
}

// the bundle served at /socket.io/ is the server package's own copy: read its banner
function bundleVersion() {
  const file = v2
    ? V2_BUNDLE
    : path.join(path.dirname(require.resolve('socket.io')), '..', 'client-dist', 'socket.io.min.js');
  if (!fs.existsSync(file)) return 'unknown';
  const m = /Socket\.IO v([0-9][0-9.]*)/.exec(fs.readFileSync(file, 'utf8').slice(0, 200));
  return m ? m[1] : 'unknown';
}

function finish() {
  io.close();
  const libraries = v2
    ? {
        node: process.version,
        'socket.io (sio2)': R.packageVersion('sio2'),
        'engine.io': R.packageVersion('engine.io', 'sio2'),
        'socket.io-parser': R.packageVersion('socket.io-parser', 'sio2'),
        'socket.io-client (browser bundle)': bundleVersion(),
      }
    : {
        node: process.version,
        'socket.io': R.packageVersion('socket.io'),
        'engine.io': R.packageVersion('engine.io', 'socket.io'),
        'socket.io-parser': R.packageVersion('socket.io-parser', 'socket.io'),
        'socket.io-client (browser bundle)': bundleVersion(),
      };
  R.writeRecord(args.out, { ...log, eio_sid: state.eioSid, libraries });
  process.exit(0);
}

io.on('connection', (socket) => {
  state.eioSid = socket.conn.id;
  log.connects.push({
    direction: 'c2s',
    nsp: '/',
    ...(v2 ? { query: R.jsonable(socket.handshake.query) } : { auth: R.jsonable(socket.handshake.auth) }),
  });
  socket.on('disconnect', (reason) => {
    log.disconnects.push({ side: 'server', nsp: '/', reason });
    setTimeout(finish, 300);
  });
  R.serveRootEvents(socket, call);
});
io.of('/chat').on('connection', (socket) => {
  log.connects.push({ direction: 'c2s', nsp: '/chat' });
  socket.on('disconnect', (reason) => log.disconnects.push({ side: 'server', nsp: '/chat', reason }));
  socket.on('msg', (text, cb) => {
    socket.emit('msg', { from: 'server', text });
    cb({ delivered: true });
  });
});

R.delayUpgrades(httpServer, 400); // chat and upload travel over polling
R.deadline(60000);
httpServer.listen(args.port, args.host, () => process.stdout.write('listening\n'));
