// agent: CLIENTS sockets, each in its own DM with the agent AGENT_ID, send one message at a time for
// SECONDS, each time waiting for the agent's messageComplete. Reports replies per second and the latency
// from the send to the agent's reply (its final messageBroadcast).
const { uuid, now, num, percentile, connect, join, until, report, checkpoint, main } = require('./lib');

async function converse(client, agentId, stopped) {
  const { socket, me, room } = client;
  while (!stopped()) {
    const t0 = now();
    let replied = false, finished = false;
    const onBroadcast = (m) => {
      if (m.senderId === agentId && !replied) { replied = true; client.latencies.push(now() - t0); }
    };
    const onComplete = () => { finished = true; };
    socket.on('messageBroadcast', onBroadcast);
    socket.on('messageComplete', onComplete);
    client.sent += 1;
    socket.emit('message', { type: 2, payload: { senderId: me, senderName: 'bench', roomId: room,
      message: `I feel tired because of my work ${client.sent}`, messageId: uuid(), metadata: { isDm: true } } });
    await until(() => finished, 30000);
    socket.off('messageBroadcast', onBroadcast);
    socket.off('messageComplete', onComplete);
    if (!finished) throw new Error('no messageComplete from the agent within 30 s');
    if (replied) client.replies += 1; else client.unanswered += 1;
  }
}

main(async () => {
  const agentId = process.env.AGENT_ID;
  const count = num('CLIENTS', 10), seconds = num('SECONDS', 10);
  const clients = [];
  for (let i = 0; i < count; i += 1) {
    const socket = await connect();
    const client = { socket, me: uuid(), room: uuid(), latencies: [], replies: 0, sent: 0, unanswered: 0 };
    await join(socket, client.room, client.me, { metadata: { isDm: true, targetUserId: agentId } });
    clients.push(client);
  }
  await checkpoint('ready');
  let stop = false;
  const started = now();
  const running = Promise.all(clients.map((c) => converse(c, agentId, () => stop)));
  await until(() => false, seconds * 1000);
  stop = true;
  await running;
  const elapsed = (now() - started) / 1000;
  await checkpoint('done');
  clients.forEach((c) => c.socket.close());
  const all = clients.flatMap((c) => c.latencies).sort((a, b) => a - b);
  const replies = clients.reduce((s, c) => s + c.replies, 0);
  report({ clients: count, seconds: Number(elapsed.toFixed(2)), sent: clients.reduce((s, c) => s + c.sent, 0), replies,
    unanswered: clients.reduce((s, c) => s + c.unanswered, 0), replies_per_second: Math.round(replies / elapsed),
    reply_ms_p50: percentile(all, 0.5), reply_ms_p99: percentile(all, 0.99) });
});
