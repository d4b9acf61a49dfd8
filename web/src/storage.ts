// What this browser remembers between visits: who it is and which channels it opened.

import { uuid4, isUuid } from './ids';

export interface RecentChannel {
  id: string;
  name: string;
}

const KEY = {
  entityId: 'eliza-chat.entityId',
  name: 'eliza-chat.name',
  apiKey: 'eliza-chat.apiKey',
  recent: 'eliza-chat.recentChannels',
} as const;

const MAX_RECENT = 30;

function read(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null; // storage disabled: the identity lasts as long as the page
  }
}

function write(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    /* storage disabled or full: nothing to keep */
  }
}

/** This browser's entity id: created once and kept, so a reload is the same user. */
export function entityId(): string {
  const stored = read(KEY.entityId);
  if (stored && isUuid(stored)) return stored;
  const id = uuid4();
  write(KEY.entityId, id);
  return id;
}

export function displayName(id: string): string {
  return read(KEY.name)?.trim() || `Guest ${id.slice(0, 4)}`;
}

export function setDisplayName(name: string): void {
  write(KEY.name, name.trim());
}

/** An API key given once as `?apiKey=` in the address, then kept for this browser. */
export function apiKey(): string | null {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get('apiKey');
  if (fromUrl) {
    write(KEY.apiKey, fromUrl);
    url.searchParams.delete('apiKey');
    history.replaceState(null, '', url);
    return fromUrl;
  }
  return read(KEY.apiKey);
}

export function recentChannels(): RecentChannel[] {
  try {
    const parsed: unknown = JSON.parse(read(KEY.recent) ?? '[]');
    if (!Array.isArray(parsed)) return [];
    return parsed.filter(
      (c): c is RecentChannel =>
        typeof c === 'object' && c !== null && typeof c.id === 'string' && typeof c.name === 'string',
    );
  } catch {
    return [];
  }
}

export function rememberChannel(channel: RecentChannel): void {
  const others = recentChannels().filter((c) => c.id !== channel.id);
  write(KEY.recent, JSON.stringify([channel, ...others].slice(0, MAX_RECENT)));
}
