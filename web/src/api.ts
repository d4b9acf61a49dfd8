// The REST routes this page reads. Each tolerates a server that lacks the route (404): the page
// then does without (no channel directory, no agent list) instead of failing.

import { uuid4 } from './ids';
import {
  DEFAULT_SERVER_ID,
  categoryOf,
  toChatMessage,
  type Agent,
  type Attachment,
  type ChannelInfo,
  type ChatMessage,
} from './wire';

type Json = Record<string, unknown>;

export type Answer = { ok: true; data: Json } | { ok: false; error: string };

function errorText(error: unknown, response: Response): string {
  if (typeof error === 'string') return error;
  if (error && typeof error === 'object' && typeof (error as Json).message === 'string') {
    return (error as Json).message as string;
  }
  return `The server answered ${response.status} ${response.statusText}.`.replace(' .', '.');
}

export class Api {
  constructor(
    private readonly apiKey: string | null,
    /** Called when the server wants an API key this page does not have (HTTP 401). */
    private readonly onUnauthorized: () => void,
  ) {}

  private headers(): Record<string, string> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.apiKey) headers['X-API-KEY'] = this.apiKey;
    return headers;
  }

  /** `data` of a `{success, data}` answer; null when the route is missing or failed. */
  private async get(path: string): Promise<Json | null> {
    const answer = await this.call(path, { method: 'GET' });
    return answer.ok ? answer.data : null;
  }

  /** Any call: `ok` with `data`, or the server's sentence for what went wrong. */
  private async call(path: string, init: RequestInit): Promise<Answer> {
    const headers = { ...this.headers(), ...((init.headers as Record<string, string> | undefined) ?? {}) };
    try {
      const response = await fetch(path, { ...init, headers });
      if (response.status === 401) this.onUnauthorized();
      const body = (await response.json().catch(() => ({}))) as {
        success?: boolean;
        data?: unknown;
        error?: unknown;
      };
      if (!response.ok || body.success === false) return { ok: false, error: errorText(body.error, response) };
      const data = body.data && typeof body.data === 'object' ? (body.data as Json) : {};
      return { ok: true, data };
    } catch {
      return { ok: false, error: 'The server could not be reached.' };
    }
  }

  async currentServerId(): Promise<string> {
    const data = await this.get('/api/messaging/message-server/current');
    const id = data?.messageServerId ?? data?.serverId;
    return typeof id === 'string' ? id : DEFAULT_SERVER_ID;
  }

  /** The agents on this server, or null when the server has no agents API. */
  async agents(): Promise<Agent[] | null> {
    const data = await this.get('/api/agents');
    if (!data || !Array.isArray(data.agents)) return null;
    return (data.agents as Json[])
      .filter((a) => typeof a.id === 'string')
      .map((a) => ({
        id: a.id as string,
        name: typeof a.name === 'string' ? a.name : 'Agent',
        status: typeof a.status === 'string' ? a.status : 'unknown',
      }));
  }

  /** The server's channels this entity takes part in, or null when the server cannot list them. */
  async channels(serverId: string, participantId: string): Promise<ChannelInfo[] | null> {
    const query = new URLSearchParams({ participantId });
    const data = await this.get(`/api/messaging/message-servers/${serverId}/channels?${query}`);
    if (!data || !Array.isArray(data.channels)) return null;
    return (data.channels as Json[])
      .filter((c) => typeof c.id === 'string')
      .map((c) => ({
        id: c.id as string,
        name: typeof c.name === 'string' && c.name ? c.name : `channel-${(c.id as string).slice(0, 8)}`,
        type: typeof c.type === 'string' ? c.type : 'GROUP',
      }));
  }

  /** One channel's name and type, or null when unknown here or the server has no such route. */
  async channel(channelId: string): Promise<ChannelInfo | null> {
    const data = await this.get(`/api/messaging/channels/${channelId}/details`);
    const channel = (data?.channel ?? data) as Json | null;
    if (!channel || typeof channel.id !== 'string' || typeof channel.name !== 'string') return null;
    return { id: channel.id, name: channel.name, type: typeof channel.type === 'string' ? channel.type : 'GROUP' };
  }

  /** The ids of the agents taking part in a channel, or null when unreadable. */
  async channelAgents(channelId: string): Promise<string[] | null> {
    const data = await this.get(`/api/messaging/channels/${channelId}/agents`);
    if (!data || !Array.isArray(data.agents)) return null;
    return data.agents.filter((a): a is string => typeof a === 'string');
  }

  /** Bring an agent into a channel, or take it out. */
  setAgent(channelId: string, agentId: string, present: boolean): Promise<Answer> {
    const path = `/api/messaging/channels/${channelId}/agents`;
    if (!present) return this.call(`${path}/${agentId}`, { method: 'DELETE' });
    return this.call(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ agentId }),
    });
  }

  /** Upload a file into a channel (multipart field `file`); the attachment to send, or the server's refusal. */
  async upload(
    channelId: string,
    file: File,
  ): Promise<{ ok: true; attachment: Attachment } | { ok: false; error: string }> {
    const body = new FormData();
    body.append('file', file, file.name);
    const answer = await this.call(`/api/messaging/channels/${channelId}/upload-media`, { method: 'POST', body });
    if (!answer.ok) return answer;
    const url = answer.data.url;
    if (typeof url !== 'string') return { ok: false, error: 'The server did not say where it stored the file.' };
    const mimeType = typeof answer.data.mimeType === 'string' ? answer.data.mimeType : 'application/octet-stream';
    const attachment: Attachment = {
      id: uuid4(),
      url,
      title: typeof answer.data.originalName === 'string' ? answer.data.originalName : file.name,
      source: 'web_chat',
      contentType: categoryOf(mimeType),
      mimeType,
      size: typeof answer.data.size === 'number' ? answer.data.size : file.size,
    };
    return { ok: true, attachment };
  }

  /** A page of a channel's messages, newest first as the route returns them; null when unreadable. */
  async messages(
    channelId: string,
    options: { limit: number; afterSeq?: number; beforeSeq?: number },
  ): Promise<ChatMessage[] | null> {
    const query = new URLSearchParams({ limit: String(options.limit) });
    if (options.afterSeq !== undefined) query.set('afterSeq', String(Math.max(0, options.afterSeq)));
    if (options.beforeSeq !== undefined) query.set('beforeSeq', String(options.beforeSeq));
    const data = await this.get(`/api/messaging/channels/${channelId}/messages?${query}`);
    if (!data || !Array.isArray(data.messages)) return null;
    return (data.messages as Json[]).map(toChatMessage).filter((m): m is ChatMessage => m !== null);
  }
}
