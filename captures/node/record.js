'use strict';
// Shared helpers for the node scenario scripts: arguments, the applications' own record,
// and hooks on the Socket.IO libraries' decoded packets (so each side records exactly
// what its Socket.IO layer received: namespace, ack id, arguments with binary in place).

const fs = require('fs');
const path = require('path');

function parseArgs(argv) {
  const out = { host: '127.0.0.1' };
  for (let i = 2; i < argv.length; i += 2) {
    out[argv[i].replace(/^--/, '')] = argv[i + 1];
  }
  if (!out.port || !out.out) {
    throw new Error('usage: node SCRIPT --host H --port N --out FILE [--parser default|msgpack]');
  }
  out.port = Number(out.port);
  return out;
}

function isBinary(v) {
  return (typeof Buffer !== 'undefined' && Buffer.isBuffer(v)) || v instanceof ArrayBuffer || ArrayBuffer.isView(v);
}

function toHex(v) {
  if (v instanceof ArrayBuffer) return Buffer.from(v).toString('hex');
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
}

// bytes become {"$hex": ...} at their place; undefined becomes null (as in the analysis JSON)
function jsonable(v) {
  if (v === undefined) return null;
  if (v === null || typeof v !== 'object') return v;
  if (isBinary(v)) return { $hex: toHex(v) };
  if (Array.isArray(v)) return v.map(jsonable);
  const o = {};
  for (const k of Object.keys(v)) o[k] = jsonable(v[k]);
  return o;
}

// version of `name` as resolved from package `from` (nested copy first, as npm lays them out)
function packageVersion(name, from) {
  const candidates = [];
  if (from) candidates.push(path.join(__dirname, 'node_modules', from, 'node_modules', name, 'package.json'));
  candidates.push(path.join(__dirname, 'node_modules', name, 'package.json'));
  for (const file of candidates) {
    if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')).version;
  }
  return 'unknown';
}

// Socket.IO packet types are the same numbers in protocol 4 and 5 (socket.io-parser)
const EVENT_TYPES = new Set([2, 5]);
const ACK_TYPES = new Set([3, 6]);

// Record one decoded packet; must run before the library's handler (which mutates packet.data).
function recordPacket(log, direction, packet) {
  const data = jsonable(packet.data || []);
  const ackId = packet.id === undefined || packet.id === null ? null : packet.id;
  if (EVENT_TYPES.has(packet.type)) {
    log.events.push({ direction, nsp: packet.nsp, event: data[0], args: data.slice(1), ack_id: ackId });
  } else if (ACK_TYPES.has(packet.type)) {
    log.acks.push({ direction, nsp: packet.nsp, ack_id: ackId, args: data });
  }
}

// Wrap proto[method] so that each packet a socket handles for its own namespace is recorded.
function hookSocket(proto, method, log, direction) {
  const original = proto[method];
  proto[method] = function hooked(packet) {
    // a server socket's nsp is a Namespace object, a client socket's nsp a string
    const nsp = typeof this.nsp === 'string' ? this.nsp : this.nsp && this.nsp.name;
    if (packet && packet.nsp === nsp) recordPacket(log, direction, packet);
    return original.call(this, packet);
  };
}

function newLog() {
  return { events: [], acks: [], connects: [], connect_errors: [], disconnects: [] };
}

function writeRecord(file, record) {
  fs.writeFileSync(file, JSON.stringify(jsonable(record), null, 2) + '\n');
}

// Fail (exit 2) if the scenario is not over in time.
function deadline(ms) {
  const timer = setTimeout(() => {
    process.stderr.write(`scenario timed out after ${ms} ms\n`);
    process.exit(2);
  }, ms);
  return timer;
}

function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout waiting for ${what}`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

function once(emitter, event, ms) {
  return withTimeout(new Promise((resolve) => emitter.once(event, (...a) => resolve(a))), ms, event);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Delay the server's handling of WebSocket upgrade requests by `ms`, so that the first
// events of a polling-then-upgrade session deterministically travel over polling.
function delayUpgrades(httpServer, ms) {
  const listeners = httpServer.listeners('upgrade');
  httpServer.removeAllListeners('upgrade');
  httpServer.on('upgrade', (req, socket, head) => {
    setTimeout(() => {
      for (const l of listeners) l.call(httpServer, req, socket, head);
    }, ms);
  });
}

// The root namespace's handlers of the socket.io scenarios (sio_v2.js, sio_v4.js, sio_browser_server.js):
// acks with values and with binary, fire-and-forget events, and on 'ready' a server event and two
// server calls (one with binary attachments) before its ack. `call(socket, ...args)` emits with an
// ack callback and resolves with the ack's arguments; `onResults(answer, blob)` gets both answers.
function serveRootEvents(socket, call, onResults = () => {}) {
  socket.on('chat', (text, meta, cb) => cb('ack:' + text, { n: meta.n + 1 }));
  socket.on('upload', (name, data, cb) => cb({ name, size: data.length, head: data.subarray(0, 4) }));
  socket.on('note', () => {});
  socket.on('nested', () => {});
  socket.on('bye', () => {});
  socket.on('ready', async (cb) => {
    socket.emit('news', { headline: 'server says hi', items: [1, 2.5, null, true] });
    const answer = await call(socket, 'question', 'what is 6*7?');
    const blob = await call(socket, 'server_blob', {
      blob: Buffer.from('deadbeef', 'hex'),
      parts: [Buffer.from([0]), Buffer.from([1, 2])],
    });
    onResults(answer, blob);
    cb('ready-ok');
  });
}

// The namespaces of the node scenarios' server (sio_v2.js, sio_v4.js): '/' (serveRootEvents),
// '/chat' (a room broadcast) and '/admin', each connect and server-side disconnect logged;
// `handshake(socket)` is what a connect entry records of the handshake ({ query } for socket.io 2,
// { auth } for 4). state.serverEioSid and state.serverCallResults are filled in.
function serveNamespaces(io, log, state, call, handshake) {
  const onDisconnect = (socket) => (reason) =>
    log.disconnects.push({ side: 'server', nsp: socket.nsp.name, reason });

  io.on('connection', (socket) => {
    state.serverEioSid = socket.conn.id;
    log.connects.push({ direction: 'c2s', nsp: '/', ...handshake(socket) });
    socket.on('disconnect', onDisconnect(socket));
    serveRootEvents(socket, call, (answer, blob) => {
      state.serverCallResults = jsonable([answer, blob]);
    });
  });

  io.of('/chat').on('connection', (socket) => {
    log.connects.push({ direction: 'c2s', nsp: '/chat', ...handshake(socket) });
    socket.on('disconnect', onDisconnect(socket));
    socket.join('lobby');
    socket.on('msg', (text, cb) => {
      io.of('/chat').to('lobby').emit('msg', { from: 'server', text }); // room broadcast
      cb({ delivered: true });
    });
  });

  io.of('/admin').on('connection', (socket) => {
    log.connects.push({ direction: 'c2s', nsp: '/admin', ...handshake(socket) });
    socket.on('disconnect', onDisconnect(socket));
    socket.on('admin_cmd', (cmd, cb) => {
      socket.emit('admin_notice', { cmd, by: 'server' });
      cb({ ok: true, cmd });
    });
  });
}

module.exports = {
  parseArgs,
  jsonable,
  packageVersion,
  recordPacket,
  hookSocket,
  newLog,
  writeRecord,
  deadline,
  withTimeout,
  once,
  sleep,
  delayUpgrades,
  serveNamespaces,
  serveRootEvents,
};
