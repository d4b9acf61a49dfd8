'use strict';
// The seed guide's minimal client, run on an old socket.io-client (the seeds' extension uses 1.3.0):
//   CLIENT=sio1|sio2 SOCKET_URL=... ROOM_ID=... ENTITY_ID=... TRANSPORTS=polling,websocket node seed_legacy_client.js
// Same options, events and payloads as the guide; every event received is printed as
// `[RECEIVE] <json array>` through the guide's own `socket.onevent` hook. Exits after EXIT_AFTER_MS.
const io = require(process.env.CLIENT || 'sio1');

const SOCKET_URL = process.env.SOCKET_URL;
const socket = io(SOCKET_URL + (process.env.QUERY || ''), {
  'force new connection': true,
  'reconnection': true,
  'reconnectionDelay': 1000,
  'reconnectionAttempts': 5,
  'timeout': 20000,
  'transports': (process.env.TRANSPORTS || 'polling,websocket').split(',')
});

const entityId = process.env.ENTITY_ID;
const roomId = process.env.ROOM_ID;

socket.on('connect', function() {
  console.log('[SUCCESS] Connected');
  socket.emit('message', { type: 1, payload: { roomId: roomId, entityId: entityId } });
  setTimeout(function() {
    socket.emit('message', {
      type: 2,
      payload: {
        senderId: entityId, senderName: 'Extension User', message: process.env.TEXT || 'Hello from extension!',
        roomId: roomId, messageId: process.env.MESSAGE_ID, source: 'extension', attachments: [], metadata: {}
      }
    }, function(ack) { console.log('[ACK] ' + JSON.stringify(ack)); });
  }, Number(process.env.SEND_AFTER_MS || 300));
});

const onevent = socket.onevent;
socket.onevent = function(packet) {
  console.log('[RECEIVE] ' + JSON.stringify(packet.data));
  onevent.call(socket, packet);
};
socket.on('connect_error', function(error) { console.log('[ERROR] ' + (error && error.message || error)); });
socket.on('error', function(error) { console.log('[ERROR] ' + JSON.stringify(error)); });

setTimeout(function() { socket.disconnect(); process.exit(0); }, Number(process.env.EXIT_AFTER_MS || 3000));
