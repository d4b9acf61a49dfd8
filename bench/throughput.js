// throughput: ROOMS rooms x PER_ROOM clients, every client a sender with WINDOW sends in flight, for
// SECONDS. Afterwards every broadcast is checked (each member hears each message of its room exactly
// once), and with ACKED_FILE set the acknowledged client message ids per room are written there, so the
// runner can look each up in the room's REST history.
const fs = require('fs');
const { uuid, now, num, percentile, connect, join, until, report, checkpoint, main } = require('./lib');

main(async () => {
  const rooms = num('ROOMS', 20), perRoom = num('PER_ROOM', 5), windowSize = num('WINDOW', 10);
  const seconds = num('SECONDS', 10);
  const roomIds = Array.from({ length: rooms }, uuid);
  const clients = [];
  for (let r = 0; r < rooms; r += 1) {
    for (let k = 0; k < perRoom; k += 1) {
      const socket = await connect();
      const client = { socket, me: uuid(), room: roomIds[r], heard: new Map(), acked: [], latencies: [], failed: 0,
        sent: 0, inFlight: 0 };
      socket.on('messageBroadcast', (m) => { client.heard.set(m.text, (client.heard.get(m.text) || 0) + 1); });
      await join(socket, client.room, client.me);
      clients.push(client);
    }
  }
  await checkpoint('ready');
  let stop = false;
  const started = now();
  const pump = (c) => {
    while (!stop && c.inFlight < windowSize) {
      c.inFlight += 1;
      c.sent += 1;
      const messageId = uuid();
      const text = `tp ${messageId}`;
      const t0 = now();
      c.socket.timeout(30000).emit('message', { type: 2, payload: { senderId: c.me, senderName: 'bench', roomId: c.room,
        message: text, messageId, source: 'bench' } }, (err, ack) => {
        c.inFlight -= 1;
        if (err || !ack || !ack.success) c.failed += 1;
        else { c.acked.push({ messageId, text }); c.latencies.push(now() - t0); }
        pump(c);
      });
    }
  };
  clients.forEach(pump);
  await until(() => false, seconds * 1000);
  stop = true;
  await until(() => clients.every((c) => c.inFlight === 0), 30000);
  const elapsed = (now() - started) / 1000;
  // Broadcasts: every member of a room must hear every acknowledged message of that room exactly once.
  const ackedByRoom = new Map(roomIds.map((r) => [r, []]));
  for (const c of clients) ackedByRoom.get(c.room).push(...c.acked);
  const expected = clients.reduce((s, c) => s + ackedByRoom.get(c.room).length, 0);
  const heardAll = () => clients.every((c) => ackedByRoom.get(c.room).every((a) => c.heard.has(a.text)));
  await until(heardAll, 10000);
  let missing = 0, duplicated = 0;
  for (const c of clients) {
    for (const a of ackedByRoom.get(c.room)) if (!c.heard.has(a.text)) missing += 1;
    for (const count of c.heard.values()) if (count > 1) duplicated += count - 1;
  }
  await checkpoint('done');
  clients.forEach((c) => c.socket.close());
  const latencies = clients.flatMap((c) => c.latencies).sort((a, b) => a - b);
  const acked = latencies.length;
  const figures = { rooms, per_room: perRoom, window: windowSize, seconds: Number(elapsed.toFixed(2)),
    sent: clients.reduce((s, c) => s + c.sent, 0), acked, failed: clients.reduce((s, c) => s + c.failed, 0),
    acks_per_second: Math.round(acked / elapsed), ack_ms_p50: percentile(latencies, 0.5),
    ack_ms_p99: percentile(latencies, 0.99), broadcasts_expected: expected, broadcasts_missing: missing,
    broadcasts_duplicated: duplicated };
  if (process.env.ACKED_FILE) {
    const byRoom = Object.fromEntries([...ackedByRoom].map(([room, acked]) => [room, acked.map((a) => a.messageId)]));
    fs.writeFileSync(process.env.ACKED_FILE, JSON.stringify(byRoom));
  }
  report(figures);
});
