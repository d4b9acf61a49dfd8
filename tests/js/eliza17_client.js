// An ElizaOS 1.7-style client, as the official web client talks: handshake auth {entityId}, websocket
// transport, channelId + messageServerId, a DM join with metadata, a send with an ack callback.
// Output: JSON lines ({kind, data}) on stdout.
const { io } = require('socket.io-client');

const url = process.env.SOCKET_URL;
const entityId = process.env.ENTITY_ID;
const channelId = process.env.CHANNEL_ID;
const messageServerId = process.env.SERVER_ID || '00000000-0000-0000-0000-000000000000';
const log = (kind, data) => process.stdout.write(JSON.stringify({ kind, data }) + '\n');

const socket = io(url, { auth: { entityId }, transports: ['websocket'], autoConnect: true, reconnection: false });
socket.onAny((event, ...args) => log('event', { event, args }));
socket.on('connect', () => {
  socket.emit('message', {
    type: 1,
    payload: { channelId, messageServerId, entityId, metadata: { isDm: process.env.IS_DM === '1' } },
  }, (ack) => log('join_ack', ack));
});
socket.on('channel_joined', () => {
  socket.emit('message', {
    type: 2,
    payload: {
      senderId: entityId,
      senderName: 'Web User',
      message: process.env.TEXT || 'hello from 1.7',
      channelId,
      messageServerId,
      messageId: crypto.randomUUID(),
      source: 'client_chat',
      attachments: [],
      metadata: { channelType: process.env.IS_DM === '1' ? 'DM' : 'GROUP' },
    },
  }, (ack) => log('send_ack', ack));
});
setTimeout(() => { socket.close(); process.exit(0); }, Number(process.env.EXIT_AFTER_MS || 3000));
