// The web chat: wires the sidebar, the open room and the composer to the connection and the REST API.

import './style.css';
import { Api } from './api';
import { Connection, type ConnectionState } from './connection';
import { byId, h } from './dom';
import { dmChannelId, isUuid, uuid4 } from './ids';
import { Names, Room, type RoomTarget } from './room';
import * as storage from './storage';
import {
  DEFAULT_SERVER_ID,
  MessageType,
  channelOf,
  toChatMessage,
  type Agent,
  type Attachment,
  type ChannelInfo,
} from './wire';

const HISTORY_PAGE = 50;
const CATCH_UP_PAGE = 100;
const TYPING_REFRESH_MS = 2_500;
const TYPING_IDLE_MS = 3_000;

const ui = {
  menu: byId<HTMLButtonElement>('menu-toggle'),
  backdrop: byId('backdrop'),
  myName: byId<HTMLInputElement>('me-name'),
  agents: byId<HTMLUListElement>('agents'),
  agentsEmpty: byId('agents-empty'),
  channels: byId<HTMLUListElement>('channels'),
  channelsEmpty: byId('channels-empty'),
  newChannel: byId<HTMLFormElement>('new-channel'),
  newChannelName: byId<HTMLInputElement>('new-channel-name'),
  joinChannel: byId<HTMLFormElement>('join-channel'),
  joinChannelId: byId<HTMLInputElement>('join-channel-id'),
  joinChannelError: byId('join-channel-error'),
  roomAgents: byId('room-agents'),
  roomAgentList: byId<HTMLUListElement>('room-agent-list'),
  title: byId('room-title'),
  subtitle: byId('room-subtitle'),
  status: byId('conn-status'),
  banner: byId('banner'),
  empty: byId('empty'),
  messages: byId('messages'),
  typing: byId('typing'),
  composer: byId<HTMLFormElement>('composer'),
  input: byId<HTMLTextAreaElement>('composer-input'),
  attach: byId<HTMLButtonElement>('attach'),
  fileInput: byId<HTMLInputElement>('file-input'),
  files: byId<HTMLUListElement>('composer-files'),
  dropHint: byId('drop-hint'),
  main: document.querySelector<HTMLElement>('main.main') ?? document.body,
  send: byId<HTMLButtonElement>('send'),
};

const me = { id: storage.entityId(), name: '' };
me.name = storage.displayName(me.id);
const apiKey = storage.apiKey();
const api = new Api(apiKey, () => {
  ui.banner.hidden = false;
  ui.banner.dataset.state = 'failed';
  ui.banner.textContent =
    'This server needs an API key: open this page as /?apiKey=<your key> (it is then remembered).';
});
const names = new Names();
names.learn(me.id, me.name);

let serverId = DEFAULT_SERVER_ID;
let agents: Agent[] = [];
let serverChannels: ChannelInfo[] | null = null;
let room: Room | null = null;
/** The agents taking part in the open group channel (null: not known yet, or a DM). */
let roomAgents: Set<string> | null = null;
/** An agent is working on a message in the open room (controlMessage disable_input). */
let agentBusy = false;

/** A file picked or dropped for the next message: uploading, then ready to be sent with it. */
interface StagedFile {
  key: string;
  name: string;
  attachment?: Attachment;
}
const MAX_STAGED_FILES = 10;
let staged: StagedFile[] = [];

const connection = new Connection(me.id, apiKey, showConnection);

// connection state ----------------------------------------------------------------------------

function showConnection(state: ConnectionState, detail: string): void {
  ui.status.dataset.state = state;
  ui.status.textContent = {
    connecting: 'Connecting…',
    online: 'Online',
    reconnecting: 'Reconnecting…',
    failed: 'Offline',
  }[state];
  ui.status.title = detail;
  ui.banner.hidden = state === 'online' || state === 'connecting';
  ui.banner.dataset.state = state;
  ui.banner.textContent = detail;
  if (state === 'online') {
    agentBusy = false; // an enable_input sent while we were away is lost: do not stay locked
    void refreshDirectory();
    if (room) void sync(room);
  } else if (room) {
    room.clearActivity();
  }
  updateComposer();
}

// the open room -------------------------------------------------------------------------------

function roomMetadata(target: RoomTarget): Record<string, unknown> {
  return target.dm ? { isDm: true, channelType: 'DM', targetUserId: target.dm.id } : { channelName: target.name };
}

function open(target: RoomTarget): void {
  if (room?.target.id === target.id) return closeNav();
  stopTyping();
  room = new Room(target, me.id, names, ui.messages, ui.typing, (clientId, text, attachments) => {
    if (room) void deliver(room, clientId, text, attachments);
  });
  staged = [];
  renderStaged();
  agentBusy = false;
  roomAgents = null;
  renderRoomAgents();
  ui.empty.hidden = true;
  ui.messages.hidden = false;
  ui.composer.hidden = false;
  ui.subtitle.textContent = target.dm ? `Direct message with ${target.name}` : target.id;
  ui.messages.dataset.channelId = target.id;
  const hash = target.dm ? `#/dm/${target.dm.id}` : `#/channel/${target.id}`;
  if (location.hash !== hash) history.replaceState(null, '', hash);
  showTitle(target);
  updateComposer();
  closeNav();
  ui.input.focus();
  void sync(room);
}

function showTitle(target: RoomTarget): void {
  ui.title.textContent = target.dm ? target.name : `# ${target.name}`;
  document.title = `${target.dm ? target.name : `#${target.name}`} · Eliza Chat`;
  if (!target.dm) storage.rememberChannel({ id: target.id, name: target.name });
  renderDirectory();
}

/** A channel opened by id shows its real name once the server tells it (asked once joined: it exists then). */
async function learnName(current: Room): Promise<void> {
  const info = await api.channel(current.target.id);
  if (current !== room || !info || info.name === current.target.name) return;
  current.target.name = info.name;
  showTitle(current.target);
}

/**
 * Join (again) and load what is missing: history on first open; after a reconnect, what came after
 * the last offset seen. The rejoin carries that offset (`lastSeq`) and the server sends the missed
 * messages on the socket first; only when it sent fewer than were missed (`truncated`) is the rest
 * read over REST, by offset too.
 */
async function sync(current: Room): Promise<void> {
  const lastSeq = current.lastSeq();
  if (connection.online) {
    const ack = await connection.join(current.target.id, serverId, me.id, roomMetadata(current.target), lastSeq);
    if (current !== room) return;
    if (!ack.success) current.note(`Could not join: ${ack.error ?? 'unknown error'}`, 'error');
    else afterJoin(current);
    if (ack.success && lastSeq !== undefined && ack.missed !== undefined && !ack.truncated) return;
  }
  await catchUp(current, lastSeq);
}

/** Joined, so the channel exists on the server: its name, its agents, and its place in the sidebar. */
function afterJoin(current: Room): void {
  if (current.target.dm) return;
  void learnName(current);
  void loadRoomAgents(current);
  void refreshChannels();
}

async function catchUp(current: Room, lastSeq: number | undefined): Promise<void> {
  const channelId = current.target.id;
  if (lastSeq === undefined) {
    const page = await api.messages(channelId, { limit: HISTORY_PAGE });
    if (current !== room || !page) return;
    for (const message of [...page].reverse()) current.addMessage(message);
    current.setHasOlder(page.length >= HISTORY_PAGE);
    current.scrollToBottom();
    if (current.fitsWithoutScrolling()) void loadOlder(current);
    return;
  }
  // Everything after that offset, page by page (newest first, each page below the last); the room
  // drops the ones it has.
  let beforeSeq: number | undefined;
  for (;;) {
    const options: { limit: number; afterSeq: number; beforeSeq?: number } = {
      limit: CATCH_UP_PAGE,
      afterSeq: lastSeq,
    };
    if (beforeSeq !== undefined) options.beforeSeq = beforeSeq;
    const page = await api.messages(channelId, options);
    if (current !== room || !page) return;
    for (const message of [...page].reverse()) current.addMessage(message);
    const oldest = page[page.length - 1]?.seq;
    if (page.length < CATCH_UP_PAGE || oldest === undefined || oldest <= lastSeq + 1) return;
    if (beforeSeq !== undefined && oldest >= beforeSeq) return; // the bound was not applied: stop

    beforeSeq = oldest;
  }
}

/** The page before the oldest message shown, by offset, keeping what the reader looks at in place. */
async function loadOlder(current: Room): Promise<void> {
  const oldest = current.oldestSeq();
  if (!current.hasOlder || current.loadingOlder || oldest === undefined) return;
  if (oldest <= 1) return current.setHasOlder(false);
  current.loadingOlder = true;
  const page = await api.messages(current.target.id, { limit: HISTORY_PAGE, beforeSeq: oldest });
  current.loadingOlder = false;
  if (current !== room) return;
  if (!page) return current.setHasOlder(true); // failed: the button stays to try again
  current.keepScroll(() => {
    for (const message of page) current.addMessage(message);
  });
  current.setHasOlder(page.length >= HISTORY_PAGE);
  if (current.fitsWithoutScrolling()) void loadOlder(current);
}

// agents in a group channel -------------------------------------------------------------------

async function loadRoomAgents(current: Room): Promise<void> {
  const found = await api.channelAgents(current.target.id);
  if (current !== room) return;
  roomAgents = found ? new Set(found) : null;
  renderRoomAgents();
}

function renderRoomAgents(): void {
  const shown = room !== null && !room.target.dm && roomAgents !== null && agents.length > 0;
  ui.roomAgents.hidden = !shown;
  if (!shown || !roomAgents) return ui.roomAgentList.replaceChildren();
  const present = roomAgents;
  ui.roomAgentList.replaceChildren(
    ...agents.map((agent) => {
      const inside = present.has(agent.id);
      const button = h(
        'button.chip',
        {
          type: 'button',
          'aria-pressed': String(inside),
          title: inside ? `Take ${agent.name} out of this channel` : `Bring ${agent.name} into this channel`,
        },
        h('span.chip-mark', { 'aria-hidden': true }, inside ? '✓' : '+'),
        agent.name,
      );
      button.addEventListener('click', () => void toggleAgent(agent, !inside));
      return h('li', { 'data-agent-id': agent.id }, button);
    }),
  );
}

async function toggleAgent(agent: Agent, present: boolean): Promise<void> {
  const current = room;
  if (!current || current.target.dm) return;
  const answer = await api.setAgent(current.target.id, agent.id, present);
  if (current !== room) return;
  if (!answer.ok) {
    current.note(`Could not ${present ? 'add' : 'remove'} ${agent.name}: ${answer.error}`, 'error');
    return;
  }
  current.note(`${agent.name} ${present ? 'was added to' : 'was taken out of'} this channel`, 'agents');
  await loadRoomAgents(current);
}

// sending and typing --------------------------------------------------------------------------

async function deliver(target: Room, clientId: string, text: string, attachments: Attachment[]): Promise<void> {
  target.retrying(clientId);
  const dm = target.target.dm;
  const request = {
    channelId: target.target.id,
    serverId,
    senderId: me.id,
    senderName: me.name,
    text,
    clientMessageId: clientId,
    metadata: roomMetadata(target.target),
    attachments,
    ...(dm ? { targetUserId: dm.id } : {}),
  };
  const ack = await connection.send(request);
  if (ack.success) target.confirm(clientId, ack.messageId, ack.createdAt);
  else target.fail(clientId, ack.error ?? 'unknown error.');
}

function submit(): void {
  const text = ui.input.value.trim();
  const attachments = staged.flatMap((file) => (file.attachment ? [file.attachment] : []));
  if (!room || (!text && !attachments.length) || uploading() || !connection.online || agentBusy) return;
  const clientId = uuid4();
  room.addPending(clientId, text, me.name, attachments);
  ui.input.value = '';
  staged = [];
  renderStaged();
  autosize();
  stopTyping();
  updateComposer();
  void deliver(room, clientId, text, attachments);
}

// attachments ---------------------------------------------------------------------------------

function uploading(): boolean {
  return staged.some((file) => !file.attachment);
}

/** Upload each file into the open channel now; it is sent with the next message. */
function attachFiles(files: Iterable<File>): void {
  const current = room;
  if (!current) return;
  for (const file of files) {
    if (staged.length >= MAX_STAGED_FILES) {
      current.note(`At most ${MAX_STAGED_FILES} files go with one message: send these first.`, 'error');
      break;
    }
    const entry: StagedFile = { key: uuid4(), name: file.name };
    staged.push(entry);
    void api.upload(current.target.id, file).then((answer) => {
      if (current !== room || !staged.includes(entry)) return;
      if (answer.ok) entry.attachment = answer.attachment;
      else {
        staged = staged.filter((other) => other !== entry);
        current.note(`Could not upload ${file.name}: ${answer.error}`, 'error');
      }
      renderStaged();
      updateComposer();
    });
  }
  renderStaged();
  updateComposer();
}

function renderStaged(): void {
  ui.files.hidden = staged.length === 0;
  ui.files.replaceChildren(
    ...staged.map((file) => {
      const remove = h('button.unstage', { type: 'button', 'aria-label': `Remove ${file.name}` }, '×');
      remove.addEventListener('click', () => {
        staged = staged.filter((other) => other !== file);
        renderStaged();
        updateComposer();
      });
      return h(
        'li.staged',
        { 'data-state': file.attachment ? 'ready' : 'uploading' },
        h('span.label-text', {}, file.attachment ? file.name : `Uploading ${file.name}…`),
        remove,
      );
    }),
  );
}

let typingSentAt = 0;
let typingIdle: number | undefined;

function noteTyping(): void {
  if (!room) return;
  if (!ui.input.value.trim()) return stopTyping();
  const now = Date.now();
  if (now - typingSentAt > TYPING_REFRESH_MS) {
    connection.typing(room.target.id, me.id, true);
    typingSentAt = now;
  }
  clearTimeout(typingIdle);
  typingIdle = window.setTimeout(stopTyping, TYPING_IDLE_MS);
}

function stopTyping(): void {
  clearTimeout(typingIdle);
  if (typingSentAt && room) connection.typing(room.target.id, me.id, false);
  typingSentAt = 0;
}

function updateComposer(): void {
  const agentName = room?.target.dm?.name ?? 'The agent';
  ui.input.disabled = agentBusy;
  ui.composer.dataset.busy = String(agentBusy);
  ui.input.placeholder = agentBusy
    ? `${agentName} is answering…`
    : connection.online
      ? 'Write a message…'
      : 'Reconnecting… you can keep typing';
  ui.send.disabled = agentBusy || !connection.online || uploading() || (!ui.input.value.trim() && !staged.length);
  ui.attach.disabled = agentBusy;
}

function autosize(): void {
  ui.input.style.height = 'auto';
  ui.input.style.height = `${Math.min(ui.input.scrollHeight, 200)}px`;
}

// sidebar -------------------------------------------------------------------------------------

async function refreshDirectory(): Promise<void> {
  const [server, foundAgents] = await Promise.all([api.currentServerId(), api.agents()]);
  serverId = server;
  agents = foundAgents ?? [];
  for (const agent of agents) names.addAgent(agent);
  await refreshChannels();
}

/** The channels this visitor takes part in (the server records each one it joined). */
async function refreshChannels(): Promise<void> {
  serverChannels = await api.channels(serverId, me.id);
  renderDirectory();
  renderRoomAgents();
}

function navButton(label: string, active: boolean, onClick: () => void, ...extra: Node[]): HTMLLIElement {
  const button = h(
    'button',
    { type: 'button', 'aria-current': active ? 'page' : null },
    ...extra,
    h('span.label-text', {}, label),
  );
  button.addEventListener('click', onClick);
  return h('li', {}, button);
}

function renderDirectory(): void {
  const current = room?.target.id;
  ui.agents.replaceChildren(
    ...agents.map((agent) => {
      const item = navButton(
        agent.name,
        current === dmChannelId(me.id, agent.id),
        () => openDm(agent),
        h('span.presence', { 'data-status': agent.status, title: agent.status }),
      );
      item.dataset.agentId = agent.id;
      return item;
    }),
  );
  ui.agentsEmpty.hidden = agents.length > 0;

  const listed = new Map<string, string>();
  for (const channel of serverChannels ?? storage.recentChannels()) {
    if (!('type' in channel) || channel.type !== 'DM') listed.set(channel.id, channel.name);
  }
  if (room && !room.target.dm && !listed.has(room.target.id)) listed.set(room.target.id, room.target.name);
  ui.channels.replaceChildren(
    ...[...listed].map(([id, name]) => {
      const item = navButton(
        name,
        current === id,
        () => open({ id, name }),
        h('span.hash', { 'aria-hidden': true }, '#'),
      );
      item.dataset.channelId = id;
      return item;
    }),
  );
  ui.channelsEmpty.hidden = listed.size > 0;
}

function openDm(agent: Agent): void {
  open({ id: dmChannelId(me.id, agent.id), name: agent.name, dm: agent });
}

function openFromHash(): void {
  const [, kind, id] = location.hash.split('/');
  if (!id || !isUuid(id)) return;
  if (kind === 'dm') {
    const agent = agents.find((a) => a.id === id) ?? { id, name: names.of(id), status: 'unknown' };
    openDm(agent);
  } else if (kind === 'channel') {
    openChannelById(id);
  }
}

/** A channel by id, under the name the server or this browser knows for it (the server's default otherwise). */
function openChannelById(id: string): void {
  const known = serverChannels?.find((c) => c.id === id) ?? storage.recentChannels().find((c) => c.id === id);
  open({ id, name: known?.name ?? `channel-${id.slice(0, 8)}` });
}

function closeNav(): void {
  document.body.classList.remove('nav-open');
  ui.backdrop.hidden = true;
  ui.menu.setAttribute('aria-expanded', 'false');
}

// socket events for the open room ---------------------------------------------------------------

const socket = connection.socket;
const here = (event: Parameters<typeof channelOf>[0]): Room | null =>
  room && channelOf(event) === room.target.id ? room : null;

socket.on('messageBroadcast', (payload) => {
  const message = toChatMessage({ ...payload });
  if (message) here(payload)?.addMessage(message);
});
socket.on('messageStreamChunk', (payload) => here(payload)?.chunk(payload));
socket.on('messageStreamError', (payload) => here(payload)?.streamError(payload));
// A withdrawn stream (reason set) keeps its bubble here: it already shows the partial text and the error.
socket.on('messageDeleted', (payload) => {
  if (!payload.reason) here(payload)?.remove(payload.messageId);
});
socket.on('channelCleared', (payload) => here(payload)?.clearAll());
socket.on('message', (packet) => {
  const agentId = packet.payload?.agentId;
  if (packet.type === MessageType.THINKING && agentId) here(packet.payload)?.setThinking(agentId, true);
});
socket.on('controlMessage', (payload) => {
  const current = here(payload);
  if (!current) return;
  agentBusy = payload.action === 'disable_input';
  if (!agentBusy && payload.target) current.setThinking(payload.target, false);
  updateComposer();
  if (!agentBusy) ui.input.focus();
});
socket.on('messageComplete', (payload) => {
  const current = here(payload);
  if (current && agentBusy) {
    agentBusy = false;
    updateComposer();
  }
});
socket.on('userJoined', (payload) => {
  if (payload.userId && payload.userId !== me.id) here(payload)?.note(`${names.of(payload.userId)} joined`, 'joined');
});
socket.on('userLeft', (payload) => {
  if (payload.userId && payload.userId !== me.id) here(payload)?.note(`${names.of(payload.userId)} left`, 'left');
});
socket.on('userTyping', (payload) => {
  if (payload.userId !== me.id) here(payload)?.typing(payload.userId, payload.isTyping);
});
socket.on('messageError', (payload) => {
  if (!payload.clientMessageId) here(payload)?.note(payload.error, 'error');
});

// page events ---------------------------------------------------------------------------------

ui.myName.value = me.name;
ui.myName.addEventListener('change', () => {
  me.name = ui.myName.value.trim() || storage.displayName(me.id);
  ui.myName.value = me.name;
  storage.setDisplayName(me.name);
  names.learn(me.id, me.name);
});

ui.newChannel.addEventListener('submit', (event) => {
  event.preventDefault();
  const name = ui.newChannelName.value.trim() || 'untitled';
  ui.newChannelName.value = '';
  open({ id: uuid4(), name });
});

ui.joinChannel.addEventListener('submit', (event) => {
  event.preventDefault();
  const id = ui.joinChannelId.value.trim().toLowerCase();
  if (!isUuid(id)) {
    ui.joinChannelError.textContent = 'A channel id is a UUID, like 0f8e6c1a-2b3c-4d5e-8f90-123456789abc.';
    ui.joinChannelError.hidden = false;
    return;
  }
  ui.joinChannelError.hidden = true;
  ui.joinChannelId.value = '';
  openChannelById(id);
});

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  submit();
});
ui.input.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    submit();
  }
});
ui.input.addEventListener('input', () => {
  autosize();
  noteTyping();
  updateComposer();
});
ui.input.addEventListener('blur', stopTyping);

ui.attach.addEventListener('click', () => ui.fileInput.click());
ui.fileInput.addEventListener('change', () => {
  if (ui.fileInput.files) attachFiles([...ui.fileInput.files]);
  ui.fileInput.value = '';
});
// A file dragged over the open channel can be dropped anywhere on it.
let dragDepth = 0;
const carriesFiles = (event: DragEvent): boolean => event.dataTransfer?.types.includes('Files') ?? false;
ui.main.addEventListener('dragenter', (event) => {
  if (!room || !carriesFiles(event)) return;
  dragDepth++;
  ui.dropHint.hidden = false;
});
ui.main.addEventListener('dragover', (event) => {
  if (!room || !carriesFiles(event)) return;
  event.preventDefault();
  if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
});
ui.main.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (!dragDepth) ui.dropHint.hidden = true;
});
ui.main.addEventListener('drop', (event) => {
  dragDepth = 0;
  ui.dropHint.hidden = true;
  if (!room || !event.dataTransfer?.files.length) return;
  event.preventDefault();
  attachFiles([...event.dataTransfer.files]);
  ui.input.focus();
});

// A file dropped anywhere else must not make the browser leave the chat to show it.
window.addEventListener('dragover', (event) => event.preventDefault());
window.addEventListener('drop', (event) => event.preventDefault());

ui.messages.addEventListener('scroll', () => {
  if (room && ui.messages.scrollTop < 80) void loadOlder(room);
});
ui.messages.addEventListener('load-older', () => {
  if (room) void loadOlder(room);
});

ui.menu.addEventListener('click', () => {
  const opened = document.body.classList.toggle('nav-open');
  ui.menu.setAttribute('aria-expanded', String(opened));
  ui.backdrop.hidden = !opened;
});
ui.backdrop.addEventListener('click', closeNav);
window.addEventListener('hashchange', openFromHash);

updateComposer();
void refreshDirectory().then(() => {
  if (!room) openFromHash();
});
