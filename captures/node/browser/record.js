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
