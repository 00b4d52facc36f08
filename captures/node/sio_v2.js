'use strict';
// Scenario sio-node-v2-eio3: socket.io 2 server + socket.io-client 2 (node), Engine.IO protocol 3 and
// Socket.IO protocol 4: length-prefixed polling payloads (binary ones too), upgrade with probe, client-side
// pings, namespaces / /chat /admin, a refused /private (ERROR packet), binary attachments and acks both ways.
// Usage: node sio_v2.js --host 127.0.0.1 --port N --out record.json

const http = require('http');
const sio2 = require('sio2');
const ServerSocket = require('sio2/lib/socket');
const ioc = require('sioc2');
const R = require('./record');

const args = R.parseArgs(process.argv);
const log = R.newLog();
const state = {};

R.hookSocket(ServerSocket.prototype, 'onpacket', log, 'c2s');
R.hookSocket(ioc.Socket.prototype, 'onpacket', log, 's2c');

// emit with an ack callback, as a promise with a timeout
function call(socket, ...emitArgs) {
  return R.withTimeout(
    new Promise((resolve) => socket.emit(...emitArgs, (...ackArgs) => resolve(ackArgs))),
    5000,
    `ack of ${emitArgs[0]}`,
  );
}

function startServer() {
  const httpServer = http.createServer();
  const io = sio2(httpServer, { pingInterval: 1000, pingTimeout: 5000, serveClient: false });
  R.serveNamespaces(io, log, state, call, (socket) => ({ query: R.jsonable(socket.handshake.query) }));

  // Socket.IO protocol 4: a refused namespace gets an ERROR packet (type 4) with the message
  io.of('/private').use((socket, next) => next(new Error('not authorized')));

  R.delayUpgrades(httpServer, 400); // the first events travel over polling
  return new Promise((resolve) => httpServer.listen(args.port, args.host, () => resolve({ io, httpServer })));
}

async function runClient() {
  const host = args.host.includes(':') ? `[${args.host}]` : args.host;
  const manager = new ioc.Manager(`http://${host}:${args.port}`, {
    transports: ['polling', 'websocket'],
    reconnection: false,
    timeout: 5000,
    query: { token: 'secret-token' },
  });
  const root = manager.socket('/');
  const chat = manager.socket('/chat');
  const admin = manager.socket('/admin', { query: { role: 'admin' } });
  const priv = manager.socket('/private');
  for (const s of [root, chat, admin]) {
    s.on('disconnect', (reason) => log.disconnects.push({ side: 'client', nsp: s.nsp, reason }));
  }
  root.on('news', () => {});
  root.on('question', (text, cb) => cb(42));
  root.on('server_blob', (data, cb) => cb(Buffer.concat([Buffer.from('cafe', 'hex'), Buffer.from(data.blob)])));
  chat.on('msg', () => {});
  admin.on('admin_notice', () => {});

  const privError = R.once(priv, 'error', 5000).then(([err]) => {
    log.connect_errors.push({ direction: 's2c', nsp: '/private', message: R.jsonable(err), data: null });
  });
  await Promise.all([R.once(root, 'connect', 5000), R.once(chat, 'connect', 5000), R.once(admin, 'connect', 5000)]);
  await privError;
  state.transportAtFirstEmit = manager.engine.transport.name;
  await call(root, 'chat', 'hello server', { lang: 'en', n: 3 });
  await call(root, 'upload', 'photo.bin', Buffer.from([...Array(16).keys()]));
  state.transportAfterUpload = manager.engine.transport.name;
  if (manager.engine.transport.name !== 'websocket') await R.once(manager.engine, 'upgrade', 5000);
  root.emit('note', 'fire and forget ✓');
  root.emit('nested', { a: [1, Buffer.from([1, 2]), { b: Buffer.from([3]) }], s: 'x' });
  await R.withTimeout(new Promise((resolve) => root.emit('ready', resolve)), 10000, 'ready ack');
  await call(chat, 'msg', 'hi chat room');
  await call(admin, 'admin_cmd', 'restart');
  await R.sleep(2300); // EIO3: the client pings every pingInterval (1 s), the server answers pong
  root.emit('bye');
  await R.sleep(200);
  const record = {
    eioSid: manager.engine.id,
    transport: manager.engine.transport.name,
    namespaces: { '/': root.id, '/chat': chat.id, '/admin': admin.id },
  };
  chat.disconnect();
  admin.disconnect();
  root.disconnect();
  await R.sleep(200);
  manager.close();
  await R.sleep(300);
  return record;
}

async function main() {
  const timer = R.deadline(30000);
  const { io, httpServer } = await startServer();
  const client = await runClient();
  io.close();
  httpServer.close();
  if (client.eioSid !== state.serverEioSid) throw new Error(`sid mismatch ${client.eioSid} ${state.serverEioSid}`);
  R.writeRecord(args.out, {
    websocket: null,
    socketio: {
      eio: 3,
      sid: client.eioSid,
      transport_path: client.transport === 'websocket' ? ['polling', 'websocket'] : ['polling'],
      parser: 'default',
      namespaces: client.namespaces,
      ping_interval_ms: 1000,
      ping_timeout_ms: 5000,
      ...log,
    },
    libraries: {
      node: process.version,
      'socket.io (sio2)': R.packageVersion('sio2'),
      'socket.io-client (sioc2)': R.packageVersion('sioc2'),
      'engine.io': R.packageVersion('engine.io', 'sio2'),
      'engine.io-client': R.packageVersion('engine.io-client', 'sioc2'),
      'socket.io-parser': R.packageVersion('socket.io-parser', 'sio2'),
    },
    notes:
      'node socket.io 2 server and socket.io-client 2 Manager in one process (npm aliases sio2 / sioc2). ' +
      'Engine.IO 3: no maxPayload in the open packet, the client sends ping and the server pong. Socket.IO ' +
      'protocol 4: the root namespace is connected by the server without a client CONNECT; the client query ' +
      '(token) travels in the URL, /admin\'s query in its CONNECT packet ("0/admin?role=admin,"). /private is ' +
      'refused by middleware with an ERROR packet (type 4, data "not authorized"), recorded in connect_errors. ' +
      'events/acks: recorded from the decoded packet by the receiving side (server Socket.onpacket = c2s, ' +
      `client Socket.onpacket = s2c). Transport at the first emit: ${state.transportAtFirstEmit}, after the ` +
      `upload ack: ${state.transportAfterUpload} (the server delays its handling of the WebSocket upgrade ` +
      'request by 400 ms so that chat and upload travel over polling). server ack results: ' +
      `${JSON.stringify(state.serverCallResults)}.`,
  });
  clearTimeout(timer);
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + '\n');
  process.exit(1);
});
