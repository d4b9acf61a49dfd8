// Agent load: CLIENTS sockets, each in its own DM with the agent AGENT_ID, sends MESSAGES messages one after
// another, each time waiting for the agent's messageComplete. Prints replies per second and the latency
// from send to the agent's final messageBroadcast.
const path = require('path');
const { io } = require(path.join(__dirname, '..', 'tests', 'js', 'node_modules', 'socket.io-client'));

const url = process.env.URL;
const agentId = process.env.AGENT_ID;
const clients = Number(process.env.CLIENTS || 10);
const messages = Number(process.env.MESSAGES || 20);
const uuid = () => crypto.randomUUID();
const percentile = (s, p) => s[Math.min(s.length - 1, Math.floor(s.length * p))];

async function runClient() {
  const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false });
  const me = uuid(), room = uuid();
  await new Promise((resolve, reject) => { socket.on('connect', resolve); socket.on('connect_error', reject); });
  await new Promise((resolve) => socket.emit('message', { type: 1, payload: { roomId: room, entityId: me,
    metadata: { isDm: true, targetUserId: agentId } } }, resolve));
  const latencies = [];
  let replies = 0;
  for (let i = 0; i < messages; i += 1) {
    const started = performance.now();
    const done = new Promise((resolve) => {
      const onBroadcast = (m) => { if (m.senderId === agentId) { replies += 1; latencies.push(performance.now() - started); } };
      const onComplete = () => { socket.off('messageBroadcast', onBroadcast); socket.off('messageComplete', onComplete); resolve(); };
      socket.on('messageBroadcast', onBroadcast);
      socket.on('messageComplete', onComplete);
    });
    socket.emit('message', { type: 2, payload: { senderId: me, senderName: 'bench', roomId: room,
      message: `I feel tired because of my work ${i}`, messageId: uuid(), metadata: { isDm: true } } });
    await done;
  }
  socket.close();
  return { latencies, replies };
}

(async () => {
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: clients }, runClient));
  const seconds = (performance.now() - started) / 1000;
  const all = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const replies = results.reduce((s, r) => s + r.replies, 0);
  console.log(JSON.stringify({ clients, messages_per_client: messages, replies, seconds: Number(seconds.toFixed(2)),
    replies_per_second: Math.round(replies / seconds), reply_ms_p50: Number(percentile(all, 0.5).toFixed(1)),
    reply_ms_p99: Number(percentile(all, 0.99).toFixed(1)) }));
  process.exit(0);
})().catch((err) => { console.error(err); process.exit(1); });
