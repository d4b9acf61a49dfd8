// The upper bound: a bare Node socket.io server speaking just enough of the wire contract for the
// benchmark scenarios, with no storage, no validation beyond what the scenarios need, and no agent logic.
//   join    (message type 1) -> socket.join(room), ack
//   send    (message type 2) -> messageBroadcast to the room (sender included), ack
//   DM send (metadata.isDm)  -> also a fixed reply from the agent, then messageComplete
// GET /healthz and GET /api/agents (one fixed agent) let the runner treat it like the real server.
const http = require('http');
const path = require('path');
const { Server } = require(path.join(__dirname, 'node_modules', 'socket.io'));

const port = Number(process.env.PORT);
const SERVER_ID = '00000000-0000-0000-0000-000000000000';
const AGENT_ID = 'b850bc30-45f8-0041-a00a-83df46d8555d';
const uuid = () => crypto.randomUUID();

const httpServer = http.createServer((req, res) => {
  const body = req.url === '/healthz' ? { status: 'ok' }
    : req.url === '/api/agents' ? { success: true, data: { agents: [{ id: AGENT_ID, name: 'Eliza' }] } } : null;
  res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body || { success: false, error: 'not found' }));
});
const io = new Server(httpServer, { cors: { origin: '*' }, pingInterval: 25000, pingTimeout: 20000, maxHttpBufferSize: 1e6 });

function broadcast(room, senderId, senderName, text, extra = {}) {
  const message = { id: uuid(), senderId, senderName, text, roomId: room, channelId: room, serverId: SERVER_ID,
    messageServerId: SERVER_ID, createdAt: Date.now(), source: 'socketio', attachments: [], ...extra };
  io.to(room).emit('messageBroadcast', message);
  return message;
}

io.on('connection', (socket) => {
  socket.on('message', (data, ack) => {
    const payload = (data && data.payload) || {};
    const room = payload.roomId || payload.channelId;
    const reply = typeof ack === 'function' ? ack : () => {};
    if (typeof room !== 'string') return reply({ success: false, error: 'roomId or channelId is required' });
    if (data.type === 1) {
      socket.join(room);
      return reply({ success: true, channelId: room, roomId: room });
    }
    if (data.type !== 2) return reply({ success: false, error: 'type must be 1 or 2' });
    const sent = broadcast(room, payload.senderId, payload.senderName, payload.message, { metadata: payload.metadata || {} });
    reply({ success: true, messageId: sent.id, clientMessageId: payload.messageId, channelId: room, roomId: room, status: 'sent' });
    if (payload.metadata && payload.metadata.isDm) {
      broadcast(room, AGENT_ID, 'Eliza', 'How long have you felt that way?', { inReplyTo: sent.id, source: 'agent_response' });
      io.to(room).emit('messageComplete', { channelId: room, roomId: room, serverId: SERVER_ID, messageServerId: SERVER_ID });
    }
  });
});

httpServer.listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${port}`));
process.on('SIGINT', () => { io.close(); process.exit(0); });
process.on('SIGTERM', () => { io.close(); process.exit(0); });
