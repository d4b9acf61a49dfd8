// The open channel: its messages in order (deduplicated by id), the agent replies streaming into
// bubbles, presence notes and who is typing. It owns the message list and typing line of the page.

import { h, timeOf } from './dom';
import type { Agent, Attachment, ChatMessage, StreamChunkPayload, StreamErrorPayload } from './wire';

export interface RoomTarget {
  id: string;
  name: string;
  /** Set when the channel is a DM with this agent. */
  dm?: Agent;
}

type EntryState = 'pending' | 'failed' | 'sent' | 'streaming' | 'error';

interface Entry {
  id?: string;
  clientId?: string;
  senderId: string;
  senderName: string;
  text: string;
  /** Server time; absent while pending or streaming. */
  createdAt?: number;
  /** Offset in the channel; absent while pending or streaming. */
  seq?: number;
  /** Where an entry without a server time sorts: a reply just after what was there when it began; else last. */
  provisional?: number;
  state: EntryState;
  attachments: Attachment[];
  chunks: string[];
  error?: string;
  el: HTMLElement;
  textEl: HTMLElement;
  filesEl: HTMLElement;
  /** The attachments drawn in `filesEl` (so a re-render does not reload images). */
  shownFiles?: string;
  metaEl: HTMLElement;
  timeEl: HTMLTimeElement;
}

const GROUP_WINDOW_MS = 5 * 60_000;
const TYPING_TTL_MS = 6_000;

/** Who is who: names learnt from messages and the agent list. */
export class Names {
  private readonly known = new Map<string, string>();
  readonly agents = new Set<string>();

  learn(id: string, name: string): void {
    if (id && name) this.known.set(id, name);
  }

  addAgent(agent: Agent): void {
    this.agents.add(agent.id);
    this.learn(agent.id, agent.name);
  }

  of(id: string): string {
    return this.known.get(id) ?? `Guest ${id.slice(0, 4)}`;
  }
}

export class Room {
  private readonly entries: Entry[] = [];
  private readonly byId = new Map<string, Entry>();
  private readonly byClientId = new Map<string, Entry>();
  private readonly typists = new Map<string, number>();
  private readonly thinking = new Set<string>();
  private typingTimer: number | undefined;
  /** The top of the list: a button to load older messages, or the start of the conversation. */
  private readonly edge: HTMLElement;
  /** Whether the server may hold messages older than those shown (the last page read was full). */
  hasOlder = false;
  loadingOlder = false;

  constructor(
    readonly target: RoomTarget,
    private readonly me: string,
    private readonly names: Names,
    private readonly list: HTMLElement,
    private readonly typingLine: HTMLElement,
    /** Called with a failed message's client id when the user asks to send it again. */
    private readonly onRetry: (clientId: string, text: string, attachments: Attachment[]) => void,
  ) {
    this.edge = h('div.history-edge', { 'data-testid': 'history-edge' });
    list.replaceChildren(this.edge);
    this.renderTyping();
    this.setHasOlder(false);
  }

  /** The lowest channel offset shown: where "load older" continues. */
  oldestSeq(): number | undefined {
    let oldest: number | undefined;
    for (const entry of this.entries) {
      if (entry.seq !== undefined && (oldest === undefined || entry.seq < oldest)) oldest = entry.seq;
    }
    return oldest;
  }

  setHasOlder(more: boolean): void {
    this.hasOlder = more;
    this.edge.dataset.more = String(more);
    if (more) {
      const button = h('button.load-older', { type: 'button' }, 'Load older messages');
      button.addEventListener('click', () => this.list.dispatchEvent(new Event('load-older')));
      this.edge.replaceChildren(button);
    } else {
      this.edge.replaceChildren(this.entries.length ? 'The beginning of this conversation' : '');
    }
  }

  /** Run `change` (adding older messages above) without moving what the reader looks at. */
  keepScroll(change: () => void): void {
    const fromBottom = this.list.scrollHeight - this.list.scrollTop;
    change();
    this.list.scrollTop = this.list.scrollHeight - fromBottom;
  }

  fitsWithoutScrolling(): boolean {
    return this.hasOlder && this.list.scrollHeight <= this.list.clientHeight;
  }

  /** The highest channel offset this page has seen: where a rejoin resumes (never a clock). */
  lastSeq(): number | undefined {
    let newest: number | undefined;
    for (const entry of this.entries) {
      if (entry.seq !== undefined && (newest === undefined || entry.seq > newest)) newest = entry.seq;
    }
    return newest;
  }

  /** The newest server time shown: where a reply that has none yet is placed. */
  private lastSeen(): number | undefined {
    let newest: number | undefined;
    for (const entry of this.entries) {
      if (entry.createdAt !== undefined && (newest === undefined || entry.createdAt > newest)) newest = entry.createdAt;
    }
    return newest;
  }

  // messages -----------------------------------------------------------------------------

  /** A stored message (live broadcast, history or catch-up): added once, whatever the route. */
  addMessage(message: ChatMessage): void {
    this.names.learn(message.senderId, message.senderName);
    this.typists.delete(message.senderId);
    this.thinking.delete(message.senderId);
    this.renderTyping();

    const entry =
      this.byId.get(message.id) ?? (message.clientMessageId ? this.byClientId.get(message.clientMessageId) : undefined);
    if (entry) {
      // Our own message coming back, or the final text of a streamed reply: the server's copy wins.
      entry.id = message.id;
      entry.text = message.text;
      entry.senderName = message.senderName;
      entry.createdAt = message.createdAt;
      entry.attachments = message.attachments;
      if (message.seq !== undefined) entry.seq = message.seq;
      entry.state = 'sent';
      delete entry.error;
      this.byId.set(message.id, entry);
      this.render(entry);
      this.place(entry);
      return;
    }
    const created = this.create({
      id: message.id,
      senderId: message.senderId,
      senderName: message.senderName,
      text: message.text,
      createdAt: message.createdAt,
      state: 'sent',
      attachments: message.attachments,
    });
    if (message.clientMessageId) created.clientId = message.clientMessageId;
    if (message.seq !== undefined) created.seq = message.seq;
    this.place(created);
  }

  /** Our message before the server has it: shown at once, confirmed by its broadcast or ack. */
  addPending(clientId: string, text: string, senderName: string, attachments: Attachment[] = []): void {
    const entry = this.create({ clientId, senderId: this.me, senderName, text, state: 'pending', attachments });
    this.byClientId.set(clientId, entry);
    this.place(entry);
  }

  confirm(clientId: string, messageId: string | undefined, createdAt: number | undefined): void {
    const entry = this.byClientId.get(clientId);
    if (!entry || (entry.state !== 'pending' && entry.state !== 'failed')) return;
    entry.state = 'sent';
    if (messageId) {
      entry.id = messageId;
      this.byId.set(messageId, entry);
    }
    if (createdAt !== undefined) entry.createdAt = createdAt;
    this.render(entry);
    this.place(entry);
  }

  fail(clientId: string, error: string): void {
    const entry = this.byClientId.get(clientId);
    if (!entry || entry.state !== 'pending') return;
    entry.state = 'failed';
    entry.error = error;
    this.render(entry);
  }

  retrying(clientId: string): void {
    const entry = this.byClientId.get(clientId);
    if (!entry) return;
    entry.state = 'pending';
    delete entry.error;
    this.render(entry);
  }

  // agent replies ------------------------------------------------------------------------

  chunk(payload: StreamChunkPayload): void {
    this.thinking.delete(payload.agentId);
    this.renderTyping();
    const entry = this.byId.get(payload.messageId) ?? this.startStream(payload.messageId, payload.agentId);
    if (entry.state !== 'streaming') return; // the final text is already here
    const stick = this.nearBottom();
    entry.chunks[payload.index] = payload.chunk;
    entry.text = entry.chunks.join('');
    this.render(entry);
    if (stick) this.scrollToBottom();
  }

  streamError(payload: StreamErrorPayload): void {
    this.thinking.delete(payload.agentId);
    this.renderTyping();
    const entry = this.byId.get(payload.messageId) ?? this.startStream(payload.messageId, payload.agentId);
    if (entry.state === 'sent') return;
    entry.state = 'error';
    entry.text = payload.partialText ?? entry.text;
    entry.error = payload.error;
    this.render(entry);
  }

  private startStream(messageId: string, agentId: string): Entry {
    const entry = this.create({
      id: messageId,
      senderId: agentId,
      senderName: this.names.of(agentId),
      text: '',
      state: 'streaming',
      provisional: (this.lastSeen() ?? 0) + 0.5,
      attachments: [],
    });
    this.place(entry);
    return entry;
  }

  // deletions ----------------------------------------------------------------------------

  /** A message deleted on the server (messageDeleted) leaves the list. */
  remove(messageId: string): void {
    const entry = this.byId.get(messageId);
    if (!entry) return;
    this.byId.delete(messageId);
    if (entry.clientId) this.byClientId.delete(entry.clientId);
    const at = this.entries.indexOf(entry);
    if (at >= 0) this.entries.splice(at, 1);
    entry.el.remove();
    for (const i of [at - 1, at]) this.group(i);
  }

  /** The channel was cleared (channelCleared): every message leaves the list. */
  clearAll(): void {
    for (const entry of this.entries) entry.el.remove();
    this.entries.length = 0;
    this.byId.clear();
    this.byClientId.clear();
    this.setHasOlder(false);
  }

  // presence and typing ------------------------------------------------------------------

  note(text: string, kind: string): void {
    const stick = this.nearBottom();
    this.list.append(h('div.note', { 'data-kind': kind, role: 'status' }, text));
    if (stick) this.scrollToBottom();
  }

  typing(userId: string, isTyping: boolean): void {
    if (isTyping) this.typists.set(userId, Date.now() + TYPING_TTL_MS);
    else this.typists.delete(userId);
    this.renderTyping();
  }

  setThinking(agentId: string, on: boolean): void {
    if (on) this.thinking.add(agentId);
    else this.thinking.delete(agentId);
    this.renderTyping();
  }

  clearActivity(): void {
    this.thinking.clear();
    this.typists.clear();
    this.renderTyping();
  }

  private renderTyping(): void {
    const now = Date.now();
    for (const [id, until] of this.typists) if (until < now) this.typists.delete(id);
    const thinkers = [...this.thinking].map((id) => this.names.of(id));
    const typists = [...this.typists.keys()].filter((id) => !this.thinking.has(id)).map((id) => this.names.of(id));
    const parts: string[] = [];
    if (thinkers.length) parts.push(`${list(thinkers)} ${thinkers.length === 1 ? 'is' : 'are'} thinking`);
    if (typists.length > 3) parts.push('Several people are typing');
    else if (typists.length) parts.push(`${list(typists)} ${typists.length === 1 ? 'is' : 'are'} typing`);
    this.typingLine.replaceChildren(
      ...(parts.length
        ? [h('span.dots', { 'aria-hidden': true }, h('i'), h('i'), h('i')), `${parts.join(' · ')}…`]
        : []),
    );
    this.typingLine.dataset.active = String(parts.length > 0);
    clearTimeout(this.typingTimer);
    if (this.typists.size) this.typingTimer = window.setTimeout(() => this.renderTyping(), 1000);
  }

  // rendering ----------------------------------------------------------------------------

  private create(fields: Omit<Entry, 'el' | 'textEl' | 'filesEl' | 'metaEl' | 'timeEl' | 'chunks'>): Entry {
    const mine = fields.senderId === this.me;
    const agent = this.names.agents.has(fields.senderId) || (!mine && this.target.dm?.id === fields.senderId);
    const textEl = h('div.text');
    const filesEl = h('div.files');
    const metaEl = h('div.meta');
    const timeEl = h('time');
    const el = h(
      `article.msg.${mine ? 'mine' : 'theirs'}`,
      { 'data-sender': fields.senderId },
      h('div.avatar', { 'aria-hidden': true }, initial(fields.senderName)),
      h('div.bubble', {}, h('header', {}, h('span.name', {}, fields.senderName), timeEl), textEl, filesEl, metaEl),
    );
    if (agent) el.classList.add('agent');
    const entry: Entry = { ...fields, chunks: [], el, textEl, filesEl, metaEl, timeEl };
    if (entry.id) this.byId.set(entry.id, entry);
    metaEl.addEventListener('click', () => {
      if (entry.state === 'failed' && entry.clientId) this.onRetry(entry.clientId, entry.text, entry.attachments);
    });
    this.render(entry);
    return entry;
  }

  private render(entry: Entry): void {
    const { el } = entry;
    el.dataset.state = entry.state;
    if (entry.id) el.dataset.id = entry.id;
    if (entry.clientId) el.dataset.clientId = entry.clientId;
    entry.textEl.textContent = entry.text;
    entry.textEl.hidden = !entry.text && entry.attachments.length > 0;
    const files = JSON.stringify(entry.attachments);
    if (files !== entry.shownFiles) {
      entry.shownFiles = files;
      entry.filesEl.replaceChildren(...entry.attachments.map(attachmentView));
    }
    const name = el.querySelector('.name');
    if (name) name.textContent = entry.senderName;
    entry.timeEl.textContent = entry.createdAt ? timeOf(entry.createdAt) : '';
    if (entry.createdAt) entry.timeEl.dateTime = new Date(entry.createdAt).toISOString();
    const meta: Record<EntryState, string> = {
      pending: 'Sending…',
      failed: `Not sent: ${entry.error ?? 'unknown error'} Click to retry.`,
      sent: '',
      streaming: '',
      error: `The reply failed: ${entry.error ?? 'unknown error'}`,
    };
    entry.metaEl.textContent = meta[entry.state];
    entry.metaEl.setAttribute('role', entry.state === 'failed' ? 'button' : 'none');
  }

  /** Put the entry where its time says (our unconfirmed ones stay last), then regroup around it. */
  private place(entry: Entry): void {
    const stick = this.nearBottom() || entry.senderId === this.me;
    const at = this.entries.indexOf(entry);
    if (at >= 0) this.entries.splice(at, 1);
    const key = sortKey(entry);
    let index = this.entries.length;
    while (index > 0) {
      const before = this.entries[index - 1];
      if (!before || sortKey(before) <= key) break;
      index--;
    }
    this.entries.splice(index, 0, entry);
    const next = this.entries[index + 1];
    if (next) this.list.insertBefore(entry.el, next.el);
    else this.list.append(entry.el);
    for (const i of [index, index + 1]) this.group(i);
    if (stick) this.scrollToBottom();
  }

  /** Consecutive messages of one sender within a few minutes share one header. */
  private group(index: number): void {
    const entry = this.entries[index];
    if (!entry) return;
    const prev = this.entries[index - 1];
    const close =
      prev !== undefined &&
      prev.senderId === entry.senderId &&
      prev.el.nextElementSibling === entry.el &&
      Math.abs((entry.createdAt ?? Date.now()) - (prev.createdAt ?? Date.now())) < GROUP_WINDOW_MS;
    entry.el.classList.toggle('cont', close);
  }

  private nearBottom(): boolean {
    const { scrollTop, scrollHeight, clientHeight } = this.list;
    return scrollHeight - scrollTop - clientHeight < 80;
  }

  scrollToBottom(): void {
    this.list.scrollTop = this.list.scrollHeight;
  }
}

function sortKey(entry: Entry): number {
  return entry.createdAt ?? entry.provisional ?? Number.POSITIVE_INFINITY;
}

function initial(name: string): string {
  return (name.trim()[0] ?? '?').toUpperCase();
}

function list(names: string[]): string {
  if (names.length <= 1) return names[0] ?? '';
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/** An address this page may show or link: its own origin (uploads), or http(s) for a link only. */
function resolved(url: string): URL | null {
  try {
    const parsed = new URL(url, location.href);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed : null;
  } catch {
    return null;
  }
}

/** An image from this server inline (others in the channel see the same); anything else as a link. */
function attachmentView(attachment: Attachment): HTMLElement {
  const url = resolved(attachment.url);
  const title = attachment.title ?? 'attachment';
  if (!url) return h('span.file', { title: attachment.url }, title);
  const image = (attachment.contentType ?? attachment.mimeType ?? '').startsWith('image');
  if (image && url.origin === location.origin) {
    return h(
      'a.file-image',
      { href: url.href, target: '_blank', rel: 'noopener', title },
      h('img', { src: url.href, alt: title, loading: 'lazy' }),
    );
  }
  const size = attachment.size !== undefined ? ` · ${sizeText(attachment.size)}` : '';
  return h(
    'a.file',
    { href: url.href, target: '_blank', rel: 'noopener noreferrer', download: title },
    `${title}${size}`,
  );
}

function sizeText(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
