// rtt: one socket sends one message at a time to its room and waits for the ack before the next.
// Reports the emit -> ack round trip (the ack comes once the message is stored and broadcast).
const { uuid, now, num, percentile, connect, join, send, report, checkpoint, main } = require('./lib');

main(async () => {
  const seconds = num('SECONDS', 5);
  const warmup = num('WARMUP', 20);
  const socket = await connect();
  const me = uuid(), room = uuid();
  await join(socket, room, me);
  await checkpoint('ready');
  const latencies = [];
  let failed = 0, sent = 0;
  const started = now();
  while (now() - started < seconds * 1000 || sent < warmup + 1) {
    const t0 = now();
    const ack = await send(socket, { senderId: me, senderName: 'bench', roomId: room, message: `rtt ${sent}`,
      messageId: uuid(), source: 'bench' });
    if (!ack || !ack.success) failed += 1;
    if (sent >= warmup) latencies.push(now() - t0);
    sent += 1;
  }
  await checkpoint('done');
  socket.close();
  latencies.sort((a, b) => a - b);
  report({ messages: sent, measured: latencies.length, failed, rtt_ms_p50: percentile(latencies, 0.5),
    rtt_ms_p99: percentile(latencies, 0.99) });
});
