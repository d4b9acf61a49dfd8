// The seed's "Modern Implementation (Socket.IO v4.x)": the ElizaSocketClient class as the guide gives it,
// with SOCKET_URL from the environment and the usage lines at the bottom. Output goes to stdout as
// JSON lines ({kind, ...}) for the Python test to read.
const { io } = require('socket.io-client');

const SOCKET_URL = process.env.SOCKET_URL || 'http://localhost:3000';
const log = (kind, data) => process.stdout.write(JSON.stringify({ kind, data }) + '\n');

class ElizaSocketClient {
  constructor(entityId, roomId) {
    this.entityId = entityId;
    this.roomId = roomId;
    this.socket = null;
  }

  connect() {
    this.socket = io(SOCKET_URL, {
      transports: ['polling', 'websocket'],
      reconnection: true,
      reconnectionAttempts: 5,
      reconnectionDelay: 1000,
    });

    this.socket.on('connect', () => {
      log('connected', this.socket.id);
      this.joinRoom();
    });

    this.socket.on('messageBroadcast', (data) => {
      if (data.roomId === this.roomId || data.channelId === this.roomId) {
        this.onMessageReceived(data);
      }
    });

    // Debug: Log all events
    this.socket.onAny((eventName, ...args) => {
      log('event', { eventName, args });
    });
  }

  joinRoom() {
    this.socket.emit('message', {
      type: 1, // ROOM_JOINING
      payload: {
        roomId: this.roomId,
        entityId: this.entityId,
      }
    });
  }

  sendMessage(text) {
    this.socket.emit('message', {
      type: 2, // SEND_MESSAGE
      payload: {
        senderId: this.entityId,
        senderName: 'Extension User',
        message: text,
        roomId: this.roomId,
        messageId: this.generateUUID(),
        source: 'extension',
        attachments: [],
        metadata: {}
      }
    });
  }

  onMessageReceived(data) {
    log('received', data);
  }

  generateUUID() {
    return crypto.randomUUID ? crypto.randomUUID() :
      'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, (c) => {
        const r = Math.random() * 16 | 0;
        const v = c === 'x' ? r : (r & 0x3 | 0x8);
        return v.toString(16);
      });
  }

  disconnect() {
    if (this.socket) {
      this.socket.disconnect();
    }
  }
}

// Usage
const client = new ElizaSocketClient(process.env.ENTITY_ID, process.env.ROOM_ID);
client.connect();

// Send a message (once joined: the guide's usage sends right away; the join is emitted first on connect)
client.socket.on('connect', () => client.sendMessage(process.env.TEXT || 'Hello from extension!'));

setTimeout(() => { client.disconnect(); process.exit(0); }, Number(process.env.EXIT_AFTER_MS || 4000));
