// Shared pieces of the load generators: real socket.io-client 4.x sockets on loopback, a wall clock
// that agrees between processes, percentiles, and the one-JSON-line report the runner reads.
const path = require('path');
const { io } = require(path.join(__dirname, 'node_modules', 'socket.io-client'));

const url = process.env.URL;
if (!url || !/^http:\/\/127\.0\.0\.1:\d+$/.test(url)) {
  console.error(`URL must be http://127.0.0.1:<port> (the benchmark only talks to loopback), got ${url}`);
  process.exit(2);
}
const uuid = () => crypto.randomUUID();
// Milliseconds since the epoch with sub-millisecond resolution; comparable across Node processes.
const now = () => performance.timeOrigin + performance.now();
const num = (name, fallback) => Number(process.env[name] ?? fallback);

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return Number(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))].toFixed(2));
}

function connect(options = {}) {
  const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, ...options });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => { socket.close(); reject(err); });
  });
}

function join(socket, roomId, entityId, extra = {}) {
  return new Promise((resolve, reject) => {
    socket.timeout(30000).emit('message', { type: 1, payload: { roomId, entityId, ...extra } }, (err, ack) => {
      if (err) reject(new Error(`join of room ${roomId} was not acknowledged in 30 s`));
      else if (ack && ack.success === false) reject(new Error(`join refused: ${JSON.stringify(ack)}`));
      else resolve(ack);
    });
  });
}

function send(socket, payload) {
  return new Promise((resolve) => {
    socket.timeout(30000).emit('message', { type: 2, payload }, (err, ack) => resolve(err ? null : ack));
  });
}

// Resolves after ms, or earlier when done() returns true (checked every 10 ms).
function until(done, ms) {
  return new Promise((resolve) => {
    const deadline = Date.now() + ms;
    const tick = () => (done() || Date.now() >= deadline ? resolve() : setTimeout(tick, 10));
    tick();
  });
}

function report(figures) {
  console.log(JSON.stringify(figures));
}

// A checkpoint: tell the runner where we are (it reads the server's CPU and memory from /proc then)
// and wait until it answers with a line on stdin.
const stdinLines = [];
let stdinWaiter = null;
let stdinEnded = false;
process.stdin.setEncoding('utf8');
let stdinBuffer = '';
process.stdin.on('data', (chunk) => {
  stdinBuffer += chunk;
  let i;
  while ((i = stdinBuffer.indexOf('\n')) >= 0) {
    stdinLines.push(stdinBuffer.slice(0, i));
    stdinBuffer = stdinBuffer.slice(i + 1);
  }
  if (stdinWaiter && stdinLines.length) { const w = stdinWaiter; stdinWaiter = null; w(); }
});
process.stdin.on('end', () => { stdinEnded = true; if (stdinWaiter) { const w = stdinWaiter; stdinWaiter = null; w(); } });

async function checkpoint(phase, extra = {}) {
  report({ phase, ...extra });
  if (!stdinLines.length && !stdinEnded) await new Promise((resolve) => { stdinWaiter = resolve; });
  stdinLines.shift();
}

function main(run) {
  const limit = num('HARD_LIMIT_S', 300) * 1000;
  const guard = setTimeout(() => { console.error(`gave up after ${limit / 1000} s`); process.exit(3); }, limit);
  guard.unref();
  run().then(() => { process.stdin.pause(); process.exit(0); }, (err) => { console.error(err && err.stack ? err.stack : err); process.exit(1); });
}

module.exports = { io, url, uuid, now, num, percentile, connect, join, send, until, report, checkpoint, main };
