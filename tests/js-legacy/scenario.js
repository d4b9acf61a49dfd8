'use strict';
// One end-to-end scenario against the test server of tests/gateway/eio3/conftest.py.
//
//   node scenario.js '<json options>'
//
// Options: url, client ("sio1" | "sio2" | "sio4"), transport ("polling" | "websocket" |
// "upgrade"), xhr2 (bool: browser-like binary polling), room, companion (bool: also connect a
// socket.io-client 4.x to the same room), idleMs (stay idle that long to see heartbeats),
// reject (bool: expect the server to refuse the connection).
//
// Talks to the Python test over stdio: prints `READY` once every client is in the room, waits
// for the server-side broadcast the test then emits, and finally prints `RESULT <json>`.
// Buffers are printed as {"$bin": [bytes]}.

const opts = JSON.parse(process.argv[2]);
if (opts.xhr2) require('./xhr2-shim').install();

const TIMEOUT_MS = opts.timeoutMs || 15000;
const timer = setTimeout(() => fail(new Error('scenario timed out at step: ' + step)), TIMEOUT_MS);
let step = 'start';
const sockets = [];

function fail(err) {
  process.stdout.write('ERROR ' + JSON.stringify({ step, message: String(err && err.stack || err) }) + '\n');
  process.exit(1);
}
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

function plain(value) {
  if (value === null || value === undefined) return value;
  if (Buffer.isBuffer(value)) return { $bin: Array.from(value) };
  if (value instanceof ArrayBuffer) return { $bin: Array.from(new Uint8Array(value)) };
  if (ArrayBuffer.isView(value)) return { $bin: Array.from(new Uint8Array(value.buffer, value.byteOffset, value.byteLength)) };
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object') {
    const out = {};
    for (const k of Object.keys(value)) out[k] = plain(value[k]);
    return out;
  }
  return value;
}

// engine.io-parser 1.x reads `packet.data.buffer || packet.data`; since Node 4 every Buffer has a
// `.buffer` (its whole 8 KiB pool), so socket.io-client 1.x in Node would send the pool instead of
// the bytes. Browsers have no Buffer and are not affected; hide the property for that client.
function bin(bytes) {
  const buf = Buffer.from(bytes);
  if (opts.client === 'sio1') Object.defineProperty(buf, 'buffer', { value: undefined });
  return buf;
}

function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}

function ack(socket, event, ...args) {
  return new Promise((resolve) => socket.emit(event, ...args, (...reply) => resolve(reply)));
}

function engineOf(socket) {
  return socket.io.engine;
}

function connect(client, transport, query) {
  const transports = transport === 'polling' ? ['polling'] : transport === 'websocket' ? ['websocket'] : ['polling', 'websocket'];
  const common = { transports, forceNew: true, reconnection: false, timeout: 5000 };
  if (client === 'sio4') {
    const { io } = require('sio4');
    return io(opts.url, Object.assign(common, { auth: { entityId: query.entityId, token: query.token } }));
  }
  const io = require(client);
  const qs = Object.keys(query).map((k) => k + '=' + encodeURIComponent(query[k])).join('&');
  return io(opts.url, Object.assign(common, { query: qs }));
}

function waitForUpgrade(socket) {
  const engine = engineOf(socket);
  if (engine.transport.name === 'websocket') return Promise.resolve();
  return once(engine, 'upgrade');
}

async function main() {
  const result = { events: {}, companion: {} };
  const query = { entityId: '0f0e0d0c-0b0a-4909-8807-060504030201', token: 'tok en/1', reject: opts.reject ? '1' : '' };
  step = 'connect';
  const legacy = connect(opts.client, opts.transport, query);
  sockets.push(legacy);
  let pongs = 0;
  legacy.on('question', (data, cb) => cb({ answer: data.q + '!', bin: bin([9, 8, 7]) }));
  legacy.on('shouted', (data) => { result.events.shouted = plain(data); });
  legacy.on('announce', (...args) => { result.events.announce = plain(args); });

  if (opts.reject) {
    const [err] = await Promise.race([once(legacy, 'error'), once(legacy, 'connect_error')]);
    result.rejected = plain(err);
    result.connected = legacy.connected;
    return result;
  }
  await once(legacy, 'connect');
  engineOf(legacy).on('packet', (p) => { if (p.type === 'pong') pongs += 1; });
  if (opts.transport === 'upgrade') {
    step = 'upgrade';
    await waitForUpgrade(legacy);
  }

  step = 'whoami';
  [result.whoami] = await ack(legacy, 'whoami');
  step = 'join';
  [result.joined] = await ack(legacy, 'join', opts.room);
  step = 'echo';
  const text = { text: 'héllo wörld – 你好 😀 \u2028 "quoted" \\ back', n: 42, list: [1, null, true] };
  result.echoSent = text;
  result.echo = plain(await ack(legacy, 'echo', text, 'second'));
  step = 'binary-echo';
  result.binEcho = plain(await ack(legacy, 'echo', bin([0, 1, 2, 127, 128, 253, 254, 255]), { nested: bin(Buffer.from('bin ü', 'utf8')) }));
  step = 'roundtrip';
  [result.roundtrip] = plain(await ack(legacy, 'roundtrip', { q: 'ping?' }));

  let companion = null;
  if (opts.companion) {
    step = 'companion';
    companion = connect('sio4', opts.transport === 'polling' ? 'polling' : 'websocket', query);
    sockets.push(companion);
    companion.on('shouted', (data) => { result.companion.shouted = plain(data); });
    companion.on('announce', (...args) => { result.companion.announce = plain(args); });
    await once(companion, 'connect');
    [result.companion.joined] = await ack(companion, 'join', opts.room);
  }

  step = 'shout';
  const gotShout = once(legacy, 'shouted');
  const companionShout = companion ? once(companion, 'shouted') : Promise.resolve();
  [result.shoutAck] = await ack(legacy, 'shout', { room: opts.room, text: 'to all ✓' });
  await Promise.all([gotShout, companionShout]);

  step = 'announce';
  const gotAnnounce = once(legacy, 'announce');
  const companionAnnounce = companion ? once(companion, 'announce') : Promise.resolve();
  process.stdout.write('READY\n');
  await Promise.all([gotAnnounce, companionAnnounce]);

  if (opts.idleMs) {
    step = 'idle';
    await new Promise((resolve) => setTimeout(resolve, opts.idleMs));
    step = 'after-idle';
    [result.afterIdle] = await ack(legacy, 'whoami');
  }
  result.pongs = pongs;
  result.transport = engineOf(legacy).transport.name;
  result.connected = legacy.connected;

  step = 'disconnect';
  if (companion) companion.disconnect();
  legacy.disconnect();
  return result;
}

main().then((result) => {
  clearTimeout(timer);
  process.stdout.write('RESULT ' + JSON.stringify(result) + '\n');
  // old clients keep timers around; give the close packets a moment, then leave
  setTimeout(() => process.exit(0), 50);
}, fail);
