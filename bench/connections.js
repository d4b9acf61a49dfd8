// connections: COUNT sockets connect and join (one room per 10 sockets), at most CONCURRENCY handshakes in
// flight. Checkpoint 'ready' before the first connect, 'done' once all are joined (the runner reads the
// server's memory while they sit idle), then it closes them and reports.
const { uuid, now, num, connect, join, report, checkpoint, main } = require('./lib');

main(async () => {
  const count = num('COUNT', 2000), concurrency = num('CONCURRENCY', 50);
  const rooms = Array.from({ length: Math.ceil(count / 10) }, uuid);
  const sockets = [];
  let next = 0;
  await checkpoint('ready');
  const started = now();
  const worker = async () => {
    while (next < count) {
      const i = next;
      next += 1;
      const socket = await connect();
      await join(socket, rooms[Math.floor(i / 10)], uuid());
      sockets.push(socket);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  const seconds = (now() - started) / 1000;
  await checkpoint('done');
  const open = sockets.filter((s) => s.connected).length;
  sockets.forEach((s) => s.close());
  report({ connections: sockets.length, seconds: Number(seconds.toFixed(3)),
    joins_per_second: Math.round(sockets.length / seconds), dropped_while_idle: sockets.length - open });
});
