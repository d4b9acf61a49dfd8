// The Socket.IO connection, eliza17 dialect: handshake `auth: {entityId}`, `channelId` + `messageServerId`.
// It reconnects by itself (socket.io-client's manager) and reports each state so the page can show it.

import { io, type Socket } from 'socket.io-client';
import {
  MessageType,
  type Attachment,
  type AckResult,
  type BroadcastPayload,
  type ControlPayload,
  type PresencePayload,
  type SocketMessage,
  type StreamChunkPayload,
  type StreamErrorPayload,
  type TypingPayload,
  type ChannelEvent,
} from './wire';

export interface ServerEvents {
  messageBroadcast: (payload: BroadcastPayload) => void;
  messageStreamChunk: (payload: StreamChunkPayload) => void;
  messageStreamError: (payload: StreamErrorPayload) => void;
  messageComplete: (payload: ChannelEvent) => void;
  controlMessage: (payload: ControlPayload) => void;
  userJoined: (payload: PresencePayload) => void;
  userLeft: (payload: PresencePayload) => void;
  userTyping: (payload: TypingPayload) => void;
  message: (payload: SocketMessage) => void;
  messageError: (payload: ChannelEvent & { error: string; clientMessageId?: string }) => void;
  messageDeleted: (payload: ChannelEvent & { messageId: string; reason?: string }) => void;
  channelCleared: (payload: ChannelEvent) => void;
}

interface ClientEvents {
  message: (data: SocketMessage | { type: number; payload: object }, ack: (result: AckResult) => void) => void;
  typing: (data: { channelId: string; userId: string; isTyping: boolean }) => void;
}

export type ConnectionState = 'connecting' | 'online' | 'reconnecting' | 'failed';

export interface SendRequest {
  channelId: string;
  serverId: string;
  senderId: string;
  senderName: string;
  text: string;
  clientMessageId: string;
  metadata: Record<string, unknown>;
  attachments: Attachment[];
  targetUserId?: string;
}

const ACK_TIMEOUT_MS = 10_000;

export class Connection {
  readonly socket: Socket<ServerEvents, ClientEvents>;
  state: ConnectionState = 'connecting';

  constructor(
    entityId: string,
    apiKey: string | null,
    private readonly onState: (state: ConnectionState, detail: string) => void,
  ) {
    this.socket = io({
      auth: apiKey ? { entityId, apiKey } : { entityId },
      reconnectionDelay: 500,
      reconnectionDelayMax: 3000,
    });
    this.socket.on('connect', () => this.set('online', 'Connected'));
    this.socket.on('disconnect', (reason) => {
      this.set('reconnecting', 'Connection lost. Reconnecting…');
      // The server closing the socket on purpose (e.g. shutting down for a restart) stops
      // socket.io-client's own retries; this page should come back once the server does.
      if (reason === 'io server disconnect') setTimeout(() => this.socket.connect(), 500);
    });
    this.socket.on('connect_error', (error) => {
      if (this.socket.active) this.set(this.state === 'online' ? 'reconnecting' : this.state, this.detail());
      else this.set('failed', `The server refused the connection: ${error.message}`);
    });
    this.socket.io.on('reconnect_attempt', (attempt) => this.set('reconnecting', `Reconnecting… (attempt ${attempt})`));
    this.socket.io.on('reconnect_failed', () => this.set('failed', 'Could not reconnect. Reload the page to retry.'));
    // Back on the network (laptop woken, Wi-Fi back): try now rather than at the next backoff step.
    window.addEventListener('online', () => {
      if (!this.socket.connected) this.socket.disconnect().connect();
    });
  }

  get online(): boolean {
    return this.state === 'online';
  }

  private detail(): string {
    return this.state === 'connecting' ? 'Connecting…' : 'Reconnecting…';
  }

  private set(state: ConnectionState, detail: string): void {
    this.state = state;
    this.onState(state, detail);
  }

  private call(payload: SocketMessage | { type: number; payload: object }): Promise<AckResult> {
    return new Promise((resolve) => {
      this.socket.timeout(ACK_TIMEOUT_MS).emit('message', payload, (err: Error | null, result?: AckResult) => {
        if (err) resolve({ success: false, error: 'The server did not answer in time.' });
        else resolve(result ?? { success: false, error: 'The server sent an empty answer.' });
      });
    });
  }

  /** Join; with `lastSeq` (a rejoin) the server first sends what the channel got after that offset. */
  join(
    channelId: string,
    serverId: string,
    entityId: string,
    metadata: Record<string, unknown>,
    lastSeq?: number,
  ): Promise<AckResult> {
    const payload: Record<string, unknown> = { channelId, messageServerId: serverId, entityId, metadata };
    if (lastSeq !== undefined) payload.lastSeq = lastSeq;
    return this.call({ type: MessageType.ROOM_JOINING, payload });
  }

  send(request: SendRequest): Promise<AckResult> {
    const payload: Record<string, unknown> = {
      channelId: request.channelId,
      messageServerId: request.serverId,
      senderId: request.senderId,
      senderName: request.senderName,
      message: request.text,
      messageId: request.clientMessageId,
      source: 'web_chat',
      attachments: request.attachments,
      metadata: request.metadata,
    };
    if (request.targetUserId) payload.targetUserId = request.targetUserId;
    return this.call({ type: MessageType.SEND_MESSAGE, payload });
  }

  typing(channelId: string, userId: string, isTyping: boolean): void {
    if (this.socket.connected) this.socket.emit('typing', { channelId, userId, isTyping });
  }
}
