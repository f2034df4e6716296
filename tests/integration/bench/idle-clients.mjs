// idle-clients.mjs PORT N ROOMS SECRET HOLD_S — opens N WebSockets to one
// gateway (500 at a time), each joining one of ROOMS rooms, prints one JSON
// line {open, joined, failed, seconds}, holds them HOLD_S seconds, exits.
import WebSocket from 'ws';
import crypto from 'node:crypto';
const [port, N, R, secret] = [process.argv[2], +process.argv[3], +process.argv[4], process.argv[5]];
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
function tok(sub) {
  const h = b64({alg:'HS256',typ:'JWT'}), p = b64({sub, name: sub, exp: Math.floor(Date.now()/1000)+3600});
  return `${h}.${p}.${crypto.createHmac('sha256', secret).update(h+'.'+p).digest('base64url')}`;
}
let open = 0, joined = 0, failed = 0;
const t0 = Date.now();
const socks = [];
async function one(i) {
  return new Promise((res) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { Authorization: 'Bearer ' + tok('u' + i) }, perMessageDeflate: false });
    ws.on('open', () => { open++; ws.send(JSON.stringify({type:'join', room: 'idle-' + (i % R)})); });
    ws.on('message', (d) => { if (d.toString().startsWith('{"type":"joined"')) { joined++; res(); } });
    ws.on('error', () => { failed++; res(); });
    socks.push(ws);
  });
}
const batch = 500;
for (let i = 0; i < N; i += batch) await Promise.all(Array.from({length: Math.min(batch, N - i)}, (_, k) => one(i + k)));
console.log(JSON.stringify({open, joined, failed, seconds: (Date.now() - t0) / 1000}));
setTimeout(() => process.exit(0), +process.argv[6] * 1000);
