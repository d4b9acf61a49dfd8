// Load generator: CLIENTS real socket.io-client 4.x sockets, each joins ROOMS rooms round-robin and sends
// MESSAGES messages with ack callbacks, at most WINDOW unacknowledged per client. Prints one JSON line:
// acks per second, ack latency percentiles, and how many broadcasts the room members received.
// FLOOD > 0: one more socket emits that many sends into a room of its own, as fast as it can, while
// the others run (the others' latency should stay within a few times its value without the flood).
const path = require('path');
const { io } = require(path.join(__dirname, '..', 'tests', 'js', 'node_modules', 'socket.io-client'));

const url = process.env.URL;
const clients = Number(process.env.CLIENTS || 20);
const messages = Number(process.env.MESSAGES || 200);
const rooms = Number(process.env.ROOMS || 10);
const windowSize = Number(process.env.WINDOW || 10);
const transport = process.env.TRANSPORT || 'websocket';
const floodCount = Number(process.env.FLOOD || 0);
const uuid = () => crypto.randomUUID();
const roomIds = Array.from({ length: rooms }, uuid);

function percentile(sorted, p) { return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]; }

async function runClient(i) {
  const socket = io(url, { transports: [transport], forceNew: true, reconnection: false });
  const entityId = uuid();
  const roomId = roomIds[i % rooms];
  let received = 0;
  socket.on('messageBroadcast', () => { received += 1; });
  await new Promise((resolve, reject) => { socket.on('connect', resolve); socket.on('connect_error', reject); });
  await new Promise((resolve) => socket.emit('message', { type: 1, payload: { roomId, entityId } }, resolve));
  const latencies = [];
  let sent = 0, acked = 0, failed = 0;
  await new Promise((resolve) => {
    const pump = () => {
      while (sent < messages && sent - acked < windowSize) {
        const started = performance.now();
        sent += 1;
        socket.emit('message', { type: 2, payload: { senderId: entityId, senderName: 'bench', roomId,
          message: `bench message ${sent}`, messageId: uuid(), source: 'bench' } }, (ack) => {
          acked += 1;
          if (!ack || !ack.success) failed += 1;
          latencies.push(performance.now() - started);
          if (acked === messages) resolve(); else pump();
        });
      }
    };
    pump();
  });
  return { socket, latencies, failed, received: () => received };
}

async function startFlood() {
  const flood = { sent: 0, errors: 0, disconnected: null };
  if (!floodCount) return flood;
  const socket = io(url, { transports: [transport], forceNew: true, reconnection: false });
  socket.on('messageError', () => { flood.errors += 1; });
  socket.on('disconnect', (reason) => { flood.disconnected = reason; });
  await new Promise((resolve, reject) => { socket.on('connect', resolve); socket.on('connect_error', reject); });
  const senderId = uuid();
  const roomId = uuid();
  const step = () => {
    for (let i = 0; i < 500 && flood.sent < floodCount && socket.connected; i += 1) {
      flood.sent += 1;
      socket.emit('message', { type: 2, payload: { senderId, senderName: 'flood', roomId, message: `flood ${flood.sent}`,
        messageId: uuid(), source: 'bench' } });
    }
    if (flood.sent < floodCount && socket.connected) setImmediate(step);
  };
  step();
  return flood;
}

(async () => {
  const flood = await startFlood();
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: clients }, (_, i) => runClient(i)));
  const elapsed = (performance.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 500));
  const all = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const total = clients * messages;
  const expectedBroadcasts = roomIds.reduce((sum, _, r) => {
    const members = Array.from({ length: clients }, (_, i) => i % rooms === r).filter(Boolean).length;
    return sum + members * members * messages;  // every member hears every member's messages
  }, 0);
  const received = results.reduce((sum, r) => sum + r.received(), 0);
  console.log(JSON.stringify({
    clients, messages_per_client: messages, rooms, window: windowSize, transport,
    acked: all.length, failed: results.reduce((s, r) => s + r.failed, 0),
    seconds: Number(elapsed.toFixed(2)), acks_per_second: Math.round(total / elapsed),
    ack_ms_p50: Number(percentile(all, 0.5).toFixed(1)), ack_ms_p99: Number(percentile(all, 0.99).toFixed(1)),
    broadcasts_received: received, broadcasts_expected: expectedBroadcasts,
    ...(floodCount ? { flood_sent: flood.sent, flood_errors_heard: flood.errors, flood_disconnected: flood.disconnected } : {}),
  }));
  results.forEach((r) => r.socket.close());
  process.exit(0);
})().catch((err) => { console.error(err); process.exit(1); });
