'use strict';
// Scenarios sio-node-v4-default / sio-node-v4-msgpack: socket.io 4 server + socket.io-client 4 (node),
// Engine.IO 4 / Socket.IO protocol 5, polling then websocket upgrade, namespaces /, /chat, /admin and a
// refused /private (CONNECT_ERROR), events and acks both ways, binary attachments both ways.
// Usage: node sio_v4.js --host 127.0.0.1 --port N --out record.json --parser default|msgpack
//        [--cert cert.pem --key key.pem]   (https and wss: captures/tls/make_tls_captures.py runs it
//        as `node --tls-keylog=KEYS sio_v4.js ...`, the client trusting that certificate)

const fs = require('fs');
const http = require('http');
const https = require('https');
const { Server } = require('socket.io');
const { Manager, Socket: ClientSocket } = require('socket.io-client');
const ServerSocket = require('socket.io').Socket;
const R = require('./record');

const args = R.parseArgs(process.argv);
const useMsgpack = args.parser === 'msgpack';
const parser = useMsgpack ? require('socket.io-msgpack-parser') : undefined;
const log = R.newLog();
const state = {};

R.hookSocket(ServerSocket.prototype, '_onpacket', log, 'c2s');
R.hookSocket(ClientSocket.prototype, 'onpacket', log, 's2c');

const tls = args.cert ? { cert: fs.readFileSync(args.cert), key: fs.readFileSync(args.key) } : null;

function startServer() {
  const httpServer = tls ? https.createServer(tls) : http.createServer();
  const io = new Server(httpServer, {
    ...(parser ? { parser } : {}),
    pingInterval: 1000, // Engine.IO heartbeats inside the capture
    pingTimeout: 5000,
    serveClient: false,
  });

  io.of('/admin').use((socket, next) => {
    if (socket.handshake.auth && socket.handshake.auth.role === 'admin') next();
    else next(new Error('admins only'));
  });
  const call = (s, ...emitArgs) => s.timeout(5000).emitWithAck(...emitArgs);
  R.serveNamespaces(io, log, state, call, (socket) => ({ auth: R.jsonable(socket.handshake.auth) }));

  // CONNECT_ERROR with a message and data
  io.of('/private').use((socket, next) => {
    const err = new Error('not authorized');
    err.data = { reason: 'bad token', token: socket.handshake.auth.token };
    next(err);
  });

  R.delayUpgrades(httpServer, 400); // the first events travel over polling
  return new Promise((resolve) => httpServer.listen(args.port, args.host, () => resolve(io)));
}

async function runClient() {
  const host = args.host.includes(':') ? `[${args.host}]` : args.host;
  const url = `${tls ? 'https' : 'http'}://${host}:${args.port}`; // the certificate names 127.0.0.1 too
  const manager = new Manager(url, {
    ...(parser ? { parser } : {}),
    ...(tls ? { ca: tls.cert } : {}),
    transports: ['polling', 'websocket'],
    reconnection: false,
    timeout: 5000,
  });
  const root = manager.socket('/', { auth: { token: 'secret-token' } });
  const chat = manager.socket('/chat');
  const admin = manager.socket('/admin', { auth: { role: 'admin' } });
  const priv = manager.socket('/private', { auth: { token: 'wrong' } });
  for (const s of [root, chat, admin]) {
    s.on('disconnect', (reason) => log.disconnects.push({ side: 'client', nsp: s.nsp, reason }));
  }
  root.on('news', () => {});
  root.on('question', (text, cb) => cb(42));
  root.on('server_blob', (data, cb) => cb(Buffer.concat([Buffer.from('cafe', 'hex'), Buffer.from(data.blob)])));
  chat.on('msg', () => {});
  admin.on('admin_notice', () => {});

  const privError = R.once(priv, 'connect_error', 5000).then(([err]) => {
    log.connect_errors.push({ direction: 's2c', nsp: '/private', message: err.message, data: R.jsonable(err.data) });
  });
  await Promise.all([R.once(root, 'connect', 5000), R.once(chat, 'connect', 5000), R.once(admin, 'connect', 5000)]);
  await privError;
  state.transportAtFirstEmit = manager.engine.transport.name;
  await root.timeout(5000).emitWithAck('chat', 'hello server', { lang: 'en', n: 3 });
  await root.timeout(5000).emitWithAck('upload', 'photo.bin', Buffer.from([...Array(16).keys()]));
  state.transportAfterUpload = manager.engine.transport.name;
  if (manager.engine.transport.name !== 'websocket') await R.once(manager.engine, 'upgrade', 5000);
  root.emit('note', 'fire and forget ✓');
  root.emit('nested', { a: [1, Buffer.from([1, 2]), { b: Buffer.from([3]) }], s: 'x' }); // two attachments
  await root.timeout(10000).emitWithAck('ready');
  await chat.timeout(5000).emitWithAck('msg', 'hi chat room');
  await admin.timeout(5000).emitWithAck('admin_cmd', 'restart');
  await R.sleep(2300); // Engine.IO ping/pong rounds (pingInterval 1 s)
  root.emit('bye');
  await R.sleep(200);
  const record = {
    eioSid: manager.engine.id,
    transport: manager.engine.transport.name,
    namespaces: { '/': root.id, '/chat': chat.id, '/admin': admin.id },
  };
  chat.disconnect();
  admin.disconnect();
  root.disconnect(); // the last socket: the manager closes the Engine.IO session
  await R.sleep(300);
  return record;
}

async function main() {
  const timer = R.deadline(30000);
  const io = await startServer();
  const client = await runClient();
  await new Promise((resolve) => io.close(() => resolve()));
  if (client.eioSid !== state.serverEioSid) throw new Error(`sid mismatch ${client.eioSid} ${state.serverEioSid}`);
  const libs = { node: process.version, 'socket.io': R.packageVersion('socket.io'), 'socket.io-client': R.packageVersion('socket.io-client') };
  libs['engine.io'] = R.packageVersion('engine.io', 'socket.io');
  libs['engine.io-client'] = R.packageVersion('engine.io-client', 'socket.io-client');
  if (useMsgpack) libs['socket.io-msgpack-parser'] = R.packageVersion('socket.io-msgpack-parser');
  else libs['socket.io-parser'] = R.packageVersion('socket.io-parser', 'socket.io');
  R.writeRecord(args.out, {
    websocket: null,
    socketio: {
      eio: 4,
      sid: client.eioSid,
      transport_path: client.transport === 'websocket' ? ['polling', 'websocket'] : ['polling'],
      parser: useMsgpack ? 'msgpack' : 'default',
      namespaces: client.namespaces,
      ping_interval_ms: 1000,
      ping_timeout_ms: 5000,
      ...log,
    },
    libraries: libs,
    notes:
      'node socket.io 4 server and socket.io-client 4 Manager in one process (the client multiplexes /, /chat, ' +
      '/admin and /private over one Engine.IO session). events/acks: recorded from the decoded packet by the ' +
      'receiving side (server Socket._onpacket = c2s, client Socket.onpacket = s2c). /private is refused by ' +
      'middleware: CONNECT_ERROR {message, data} recorded in connect_errors. The first chat emit happened while ' +
      `the transport was ${state.transportAtFirstEmit} and it was still ${state.transportAfterUpload} after the ` +
      'upload ack (the server delays its handling of the WebSocket upgrade request by 400 ms so that chat and ' +
      'upload and their acks travel over polling); the other events after the upgrade. ' +
      (useMsgpack
        ? 'msgpack parser: every Socket.IO packet is one binary Engine.IO message (base64 "b" packets on polling), ' +
          'no attachments; binary is msgpack bin. '
        : '') +
      `server emitWithAck results: ${JSON.stringify(state.serverCallResults)}.`,
  });
  clearTimeout(timer);
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + '\n');
  process.exit(1);
});
