// A real socket.io-client 4.x, driven by the Python tests over stdin/stdout (one JSON object per line).
// Commands in:  {op: "connect", url, options} | {op: "emit", event, data, ack, id} | {op: "disconnect"} | {op: "exit"}
//               {op: "burst", event, items, ack, firstId} | {op: "flood", event, data, perTick, everyMs, count}
// Reports out:  {type: "connect", sid} | {type: "event", event, args} | {type: "ack", id, args}
//               {type: "connect_error", message} | {type: "disconnect", reason} | {type: "error", message}
const { io } = require('socket.io-client');
const readline = require('readline');

let socket = null;
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
// In emitted data, {$binary: '<base64>'} becomes a Buffer (a Socket.IO binary attachment) and
// {$deep: n} a value nested n levels deep (too deep for the Python side to encode).
const nested = (levels) => {
  let value = 1;
  for (let i = 0; i < levels; i++) value = i % 2 ? [value] : { d: value };
  return value;
};
const revive = (value) => {
  if (Array.isArray(value)) return value.map(revive);
  if (value && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 1 && typeof value.$binary === 'string') return Buffer.from(value.$binary, 'base64');
    if (keys.length === 1 && typeof value.$deep === 'number') return nested(value.$deep);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revive(v)]));
  }
  return value;
};

function connect(url, options) {
  socket = io(url, options || {});
  socket.on('connect', () => out({ type: 'connect', sid: socket.id, transport: socket.io.engine.transport.name, recovered: socket.recovered === true }));
  socket.on('connect_error', (err) => out({ type: 'connect_error', message: String(err && err.message) }));
  socket.on('disconnect', (reason) => out({ type: 'disconnect', reason }));
  socket.io.engine.on('upgrade', (transport) => out({ type: 'upgrade', transport: transport.name }));
  socket.onAny((event, ...args) => out({ type: 'event', event, args }));
}

function flood(cmd) {
  let sent = 0;
  const step = () => {
    if (!socket.connected || (cmd.count && sent >= cmd.count)) { out({ type: 'flood_done', sent }); return; }
    for (let i = 0; i < (cmd.perTick || 100); i += 1) { socket.emit(cmd.event, cmd.data); sent += 1; }
    setTimeout(step, cmd.everyMs || 5);
  };
  step();
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let cmd;
  try { cmd = JSON.parse(line); } catch (e) { out({ type: 'error', message: 'bad command: ' + line }); return; }
  switch (cmd.op) {
    case 'connect': connect(cmd.url, cmd.options); break;
    case 'emit':
      cmd.data = revive(cmd.data);
      if (cmd.ack) {
        socket.timeout(cmd.timeout || 10000).emit(cmd.event, cmd.data, (err, ...args) => {
          out(err ? { type: 'ack_timeout', id: cmd.id } : { type: 'ack', id: cmd.id, args });
        });
      } else if (cmd.data === undefined) {
        socket.emit(cmd.event);
      } else {
        socket.emit(cmd.event, cmd.data);
      }
      break;
    case 'emit_raw_args': socket.emit(cmd.event, ...cmd.args); break;
    case 'burst':  // every item emitted back to back in one tick; acks reported with ids firstId, firstId+1, ...
      cmd.items.forEach((data, i) => {
        const id = cmd.firstId + i;
        if (cmd.ack) {
          socket.timeout(cmd.timeout || 20000).emit(cmd.event, data, (err, ...args) => {
            out(err ? { type: 'ack_timeout', id } : { type: 'ack', id, args });
          });
        } else {
          socket.emit(cmd.event, data);
        }
      });
      break;
    case 'flood':  // emit `data` `perTick` times per event-loop turn until disconnected (or `count` sent)
      flood(cmd);
      break;
    case 'disconnect': socket && socket.disconnect(); break;
    case 'exit': if (socket) socket.disconnect(); setTimeout(() => process.exit(0), 50); break;
    default: out({ type: 'error', message: 'unknown op ' + cmd.op });
  }
});
rl.on('close', () => { if (socket) socket.disconnect(); process.exit(0); });
