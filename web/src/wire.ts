// The parts of the wire contract (shared/SPEC.md) this page uses, eliza17 dialect.

export const DEFAULT_SERVER_ID = '00000000-0000-0000-0000-000000000000';

export const MessageType = { ROOM_JOINING: 1, SEND_MESSAGE: 2, THINKING: 5 } as const;

/** A file a message carries (ElizaOS's Media shape): uploaded here, served from `url`. */
export interface Attachment {
  id?: string;
  url: string;
  title?: string;
  source?: string;
  /** ElizaOS's category: image, video, audio, document. */
  contentType?: string;
  mimeType?: string;
  size?: number;
}

/** A chat message as the page keeps it, from a `messageBroadcast` or a REST history row. */
export interface ChatMessage {
  id: string;
  senderId: string;
  senderName: string;
  text: string;
  createdAt: number;
  source: string;
  clientMessageId?: string;
  inReplyTo?: string;
  /** The message's offset in its channel (1, 2, 3, …): a rejoin resumes after the last one seen. */
  seq?: number;
  attachments: Attachment[];
}

export interface Agent {
  id: string;
  name: string;
  status: string;
}

export interface ChannelInfo {
  id: string;
  name: string;
  type: string;
}

export interface ChannelEvent {
  channelId?: string;
  roomId?: string;
}

export interface BroadcastPayload extends ChannelEvent {
  id?: string;
  messageId?: string;
  senderId?: string;
  senderName?: string;
  text?: string;
  createdAt?: number;
  source?: string;
  clientMessageId?: string;
  inReplyTo?: string;
  attachments?: unknown;
}

export interface StreamChunkPayload extends ChannelEvent {
  messageId: string;
  chunk: string;
  index: number;
  agentId: string;
}

export interface StreamErrorPayload extends ChannelEvent {
  messageId: string;
  agentId: string;
  error: string;
  partialText?: string;
}

export interface ControlPayload extends ChannelEvent {
  action: 'disable_input' | 'enable_input' | string;
  target?: string;
}

export interface PresencePayload extends ChannelEvent {
  userId: string | null;
}

export interface TypingPayload extends ChannelEvent {
  userId: string;
  isTyping: boolean;
}

export interface SocketMessage {
  type: number;
  payload?: ChannelEvent & { agentId?: string; messageId?: string };
}

export interface AckResult {
  success: boolean;
  messageId?: string;
  createdAt?: number;
  error?: string;
  /** A rejoin with `lastSeq`: how many messages were missed, how many the server sent again. */
  missed?: number;
  replayed?: number;
  truncated?: boolean;
}

export function channelOf(event: ChannelEvent | null | undefined): string | undefined {
  return event?.channelId ?? event?.roomId;
}

type Json = Record<string, unknown>;

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** One message from either shape (broadcast or REST row); null when it lacks an id. */
export function toChatMessage(raw: Json): ChatMessage | null {
  const id = str(raw.id) ?? str(raw.messageId);
  if (!id) return null;
  const message: ChatMessage = {
    id,
    senderId: str(raw.senderId) ?? str(raw.authorId) ?? '',
    senderName: str(raw.senderName) ?? str(raw.authorDisplayName) ?? 'Unknown',
    text: str(raw.text) ?? str(raw.content) ?? '',
    createdAt: typeof raw.createdAt === 'number' ? raw.createdAt : Date.now(),
    source: str(raw.source) ?? str(raw.sourceType) ?? '',
    attachments: toAttachments(raw.attachments ?? (raw.metadata as Json | undefined)?.attachments),
  };
  const clientMessageId = str(raw.clientMessageId);
  if (clientMessageId) message.clientMessageId = clientMessageId;
  const inReplyTo = str(raw.inReplyTo) ?? str(raw.inReplyToRootMessageId);
  if (inReplyTo) message.inReplyTo = inReplyTo;
  if (typeof raw.seq === 'number' && Number.isSafeInteger(raw.seq)) message.seq = raw.seq;
  return message;
}

/** The attachments of a message, whatever else the array holds (entries without a `url` are left out). */
export function toAttachments(raw: unknown): Attachment[] {
  if (!Array.isArray(raw)) return [];
  const found: Attachment[] = [];
  for (const item of raw as unknown[]) {
    if (!item || typeof item !== 'object') continue;
    const entry = item as Json;
    const url = str(entry.url);
    if (!url) continue;
    const attachment: Attachment = { url };
    const id = str(entry.id);
    const title = str(entry.title) ?? str(entry.filename) ?? str(entry.name);
    const contentType = str(entry.contentType);
    const mimeType = str(entry.mimeType) ?? str(entry.type);
    if (id) attachment.id = id;
    if (title) attachment.title = title;
    if (contentType) attachment.contentType = contentType;
    if (mimeType) attachment.mimeType = mimeType;
    if (typeof entry.size === 'number') attachment.size = entry.size;
    found.push(attachment);
  }
  return found;
}

/** ElizaOS's category of a MIME type. */
export function categoryOf(mimeType: string): string {
  const [major] = mimeType.split('/');
  return major === 'image' || major === 'video' || major === 'audio' ? major : 'document';
}
