// fanout: LISTENERS sockets join one room; one more socket sends RATE messages per second into it for
// SECONDS (open loop: sends go out on schedule whatever the acks do). Each listener stamps the arrival of
// each message; the report gives the deliveries per second kept up with and per-delivery latency.
// The listeners are spread over WORKERS worker threads so the generator itself is not what falls behind.
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');
const { uuid, now, num, percentile, connect, join, until, report, checkpoint, main } = require('./lib');

async function listen({ count, room }) {
  const latencies = [];
  let delivered = 0, lastDelivery = 0, duplicated = 0;
  const sockets = [];
  const joining = [];
  for (let i = 0; i < count; i += 1) {
    joining.push((async () => {
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
    if (joining.length >= 25) await Promise.all(joining.splice(0));
  }
  await Promise.all(joining);
  parentPort.postMessage({ type: 'joined' });
  const progress = setInterval(() => parentPort.postMessage({ type: 'progress', delivered }), 50);
  parentPort.on('message', (msg) => {
    if (msg !== 'finish') return;
    clearInterval(progress);
    sockets.forEach((s) => s.close());
    const array = Float64Array.from(latencies);
    parentPort.postMessage({ type: 'result', delivered, duplicated, lastDelivery, latencies: array }, [array.buffer]);
  });
}

if (!isMainThread) {
  listen(workerData).catch((err) => parentPort.postMessage({ type: 'error', error: String(err && err.stack) }));
} else {
  main(async () => {
    const listeners = num('LISTENERS', 500), rate = num('RATE', 50), seconds = num('SECONDS', 10);
    const workerCount = Math.max(1, Math.min(num('WORKERS', 2), listeners));
    const drainMs = num('DRAIN_S', 15) * 1000;
    const room = uuid();
    const workers = Array.from({ length: workerCount }, (_, w) => {
      const count = Math.floor(listeners / workerCount) + (w < listeners % workerCount ? 1 : 0);
      const state = { worker: new Worker(__filename, { workerData: { count, room } }), joined: false, delivered: 0,
        result: null };
      state.worker.on('message', (msg) => {
        if (msg.type === 'joined') state.joined = true;
        else if (msg.type === 'progress') state.delivered = msg.delivered;
        else if (msg.type === 'result') state.result = msg;
        else if (msg.type === 'error') { console.error(msg.error); process.exit(1); }
      });
      state.worker.on('error', (err) => { console.error(err); process.exit(1); });
      return state;
    });
    await until(() => workers.every((w) => w.joined), 120000);
    if (!workers.every((w) => w.joined)) throw new Error('the listeners did not all join within 120 s');
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
    const delivered = () => workers.reduce((s, w) => s + w.delivered, 0);
    await until(() => delivered() >= expected && acked + failed >= total, drainMs);
    await checkpoint('done');
    workers.forEach((w) => w.worker.postMessage('finish'));
    await until(() => workers.every((w) => w.result), 30000);
    sender.close();
    const results = workers.map((w) => w.result);
    const lastDelivery = Math.max(...results.map((r) => r.lastDelivery));
    const deliveries = results.reduce((s, r) => s + r.delivered, 0);
    const span = (Math.max(lastDelivery, sendEnded) - started) / 1000;
    const latencies = results.flatMap((r) => Array.from(r.latencies)).sort((a, b) => a - b);
    report({ listeners, rate, seconds, workers: workerCount, messages: total, acked, failed,
      deliveries_offered_per_second: rate * listeners, deliveries_expected: expected, deliveries,
      deliveries_missing: expected - deliveries, deliveries_duplicated: results.reduce((s, r) => s + r.duplicated, 0),
      deliveries_per_second: Math.round(deliveries / span), delivery_ms_p50: percentile(latencies, 0.5),
      delivery_ms_p99: percentile(latencies, 0.99) });
  });
}
