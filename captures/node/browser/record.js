// Shared by the browser pages of the sio-chromium-* scenarios: the page's own record of what its
// Socket.IO layer received (s2c), taken from the decoded packet (io.Socket.prototype.onpacket) and
// kept in window.__record for selenium to read once document.title is "done".
'use strict';
window.__record = { events: [], acks: [], connects: [], connect_errors: [], disconnects: [], errors: [] };

function recNow() {
  return performance.timeOrigin + performance.now();
}

function recHex(v) {
  const bytes = v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// bytes become {"$hex": ...} at their place; undefined becomes null
function recJsonable(v) {
  if (v === undefined) return null;
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return { $hex: recHex(v) };
  if (typeof Blob !== 'undefined' && v instanceof Blob) return { $blob: v.size };
  if (Array.isArray(v)) return v.map(recJsonable);
  const o = {};
  for (const k of Object.keys(v)) o[k] = recJsonable(v[k]);
  return o;
}

// Socket.IO packet types: EVENT 2, ACK 3, BINARY_EVENT 5, BINARY_ACK 6 (protocols 4 and 5)
function recHook(proto) {
  const rec = window.__record;
  const original = proto.onpacket;
  proto.onpacket = function (packet) {
    if (packet.nsp === this.nsp) {
      const data = recJsonable(packet.data || []);
      const ackId = packet.id === undefined || packet.id === null ? null : packet.id;
      if (packet.type === 2 || packet.type === 5) {
        rec.events.push({ ts: recNow(), direction: 's2c', nsp: packet.nsp, event: data[0], args: data.slice(1), ack_id: ackId });
      } else if (packet.type === 3 || packet.type === 6) {
        rec.acks.push({ ts: recNow(), direction: 's2c', nsp: packet.nsp, ack_id: ackId, args: data });
      }
    }
    return original.call(this, packet);
  };
}

function recOnce(emitter, event, ms) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout waiting for ' + event)), ms);
    emitter.once(event, (...a) => {
      clearTimeout(t);
      resolve(a);
    });
  });
}

function recRun(fn) {
  fn().then(
    () => {
      document.title = 'done';
    },
    (err) => {
      window.__record.errors.push(String(err && err.stack ? err.stack : err));
      document.title = 'failed';
    },
  );
}

// The page's steps, the same for socket.io-client 4 (index.html) and 2 (index_v2.html): handlers on
// / and /chat, events with acks both ways (a binary one each way), fire-and-forget events, a wait
// for the upgrade, Engine.IO heartbeats, and window.__finish for selenium. `call(socket, ms, ...args)`
// emits with an ack callback and resolves with the ack's arguments (rejects after ms).
async function recSioScenario(manager, root, call) {
  const rec = window.__record;
  const chat = manager.socket('/chat');
  root.on('news', () => {});
  root.on('question', (text, cb) => cb(42));
  root.on('server_blob', (data, cb) => {
    const blob = new Uint8Array(data.blob);
    const out = new Uint8Array(2 + blob.length);
    out.set([0xca, 0xfe]);
    out.set(blob, 2);
    cb(out.buffer); // binary ack c2s
  });
  chat.on('msg', () => {});
  for (const s of [root, chat]) {
    s.on('disconnect', (reason) => rec.disconnects.push({ side: 'client', nsp: s.nsp, reason }));
  }
  await Promise.all([recOnce(root, 'connect', 5000), recOnce(chat, 'connect', 5000)]);
  rec.transport_at_first_emit = manager.engine.transport.name;
  await call(root, 5000, 'chat', 'hello from chromium', { lang: 'en', n: 3 });
  await call(root, 5000, 'upload', 'photo.bin', new Uint8Array([...Array(16).keys()]).buffer);
  rec.transport_after_upload = manager.engine.transport.name;
  if (manager.engine.transport.name !== 'websocket') await recOnce(manager.engine, 'upgrade', 5000);
  root.emit('note', 'fire and forget ✓');
  root.emit('nested', { a: [1, new Uint8Array([1, 2]), { b: new Uint8Array([3]).buffer }], s: 'x' });
  await call(root, 10000, 'ready');
  await call(chat, 5000, 'msg', 'hi chat room');
  await new Promise((r) => setTimeout(r, 1500)); // Engine.IO heartbeats (pingInterval 1 s; EIO3: the client pings)
  rec.eio_sid = manager.engine.id;
  rec.transport = manager.engine.transport.name;
  rec.namespaces = { '/': root.id, '/chat': chat.id };
  rec.user_agent = navigator.userAgent;
  window.__finish = () => {
    root.emit('bye');
    setTimeout(() => {
      chat.disconnect();
      root.disconnect();
      document.title = 'closed';
    }, 200);
  };
}
