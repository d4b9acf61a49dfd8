// fanout: LISTENERS sockets join one room; one more socket sends RATE messages per second into it for
// SECONDS (open loop: sends go out on schedule whatever the acks do). Each listener stamps the arrival of
// each message; the report gives the deliveries per second kept up with and per-delivery latency.
const { uuid, now, num, percentile, connect, join, until, report, checkpoint, main } = require('./lib');

main(async () => {
  const listeners = num('LISTENERS', 500), rate = num('RATE', 50), seconds = num('SECONDS', 10);
  const drainMs = num('DRAIN_S', 15) * 1000;
  const room = uuid();
  const latencies = [];
  let delivered = 0, lastDelivery = 0, duplicated = 0;
  const sockets = [];
  const connecting = [];
  for (let i = 0; i < listeners; i += 1) {
    connecting.push((async () => {
      const socket = await connect();
      const seen = new Set();
      socket.on('messageBroadcast', (m) => {
        const t = now();
        const [, n, stamp] = m.text.split(' ');
        if (seen.has(n)) { duplicated += 1; return; }
        seen.add(n);
        delivered += 1;
        lastDelivery = t;
        latencies.push(t - Number(stamp));
      });
      await join(socket, room, uuid());
      sockets.push(socket);
    })());
    if (connecting.length >= 50) await Promise.all(connecting.splice(0));
  }
  await Promise.all(connecting);
  const sender = await connect();
  const me = uuid();
  await join(sender, room, me);
  await checkpoint('ready');
  const total = Math.round(rate * seconds);
  let acked = 0, failed = 0;
  const started = now();
  await new Promise((resolve) => {
    let n = 0;
    const tick = () => {
      const due = Math.min(total, Math.floor(((now() - started) / 1000) * rate) + 1);
      while (n < due) {
        n += 1;
        sender.timeout(60000).emit('message', { type: 2, payload: { senderId: me, senderName: 'bench', roomId: room,
          message: `fan ${n} ${now()}`, messageId: uuid(), source: 'bench' } }, (err, ack) => {
          if (err || !ack || !ack.success) failed += 1; else acked += 1;
        });
      }
      if (n >= total) resolve(); else setTimeout(tick, 2);
    };
    tick();
  });
  const sendEnded = now();
  const expected = total * listeners;
  await until(() => delivered >= expected && acked + failed >= total, drainMs);
  await checkpoint('done');
  const span = (Math.max(lastDelivery, sendEnded) - started) / 1000;
  sockets.forEach((s) => s.close());
  sender.close();
  latencies.sort((a, b) => a - b);
  report({ listeners, rate, seconds, messages: total, acked, failed, deliveries_offered_per_second: rate * listeners,
    deliveries_expected: expected, deliveries: delivered, deliveries_missing: expected - delivered,
    deliveries_duplicated: duplicated, deliveries_per_second: Math.round(delivered / span),
    delivery_ms_p50: percentile(latencies, 0.5), delivery_ms_p99: percentile(latencies, 0.99) });
});
