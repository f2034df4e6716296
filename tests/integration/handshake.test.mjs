// The WebSocket edge of one gateway: opening handshake (auth, Origin,
// subprotocol, malformed upgrades) and RFC 6455 framing rules, checked with
// the ws client and with hand-made requests and frames over raw TCP.

import assert from 'node:assert/strict';
import { after, describe } from 'node:test';
import {
  OP, RawConn, SUBPROTOCOL, cleanup, closePayload, connect, handshake, httpGet, itest, mintJwt,
  nowSec, setup, startGateway, startRedis, token,
} from './harness.mjs';

describe('handshake and framing', () => {
  let redis;
  let gw;
  let gwOrigins;

  setup(async () => {
    redis = await startRedis();
    [gw, gwOrigins] = await Promise.all([
      startGateway({ name: 'gw-edge', redis }),
      startGateway({ name: 'gw-origins', redis, args: ['--allowed-origins', 'http://a.example,http://b.example'] }),
    ]);
  });
  after(cleanup);

  /** An upgraded raw connection that has received its welcome. */
  async function rawSession() {
    const raw = await RawConn.open(gw.port, { token: token('raw'), headers: { 'Sec-WebSocket-Protocol': SUBPROTOCOL } });
    assert.equal(raw.status, 101, `upgrade answered ${raw.status}: ${raw.body}`);
    const welcome = await raw.nextJson('welcome');
    assert.equal(welcome.user, 'raw');
    return raw;
  }

  function assertUnauthorized(r, what) {
    assert.equal(r.ok, false, `${what}: the upgrade must be refused`);
    assert.equal(r.status, 401, `${what}: status`);
    let body;
    assert.doesNotThrow(() => { body = JSON.parse(r.body); }, `${what}: body is JSON: ${r.body}`);
    assert.equal(body.error, 'unauthorized', `${what}: error field`);
    assert.equal(typeof body.message, 'string', `${what}: message field`);
  }

  itest('missing, forged, expired, not-yet-valid and unsigned tokens get 401', async () => {
    assertUnauthorized(await handshake(gw.wsUrl, {}), 'no token');
    assertUnauthorized(await handshake(gw.wsUrl, { token: token('eve', { secret: 'not-the-secret' }) }), 'bad signature');
    assertUnauthorized(await handshake(gw.wsUrl, { token: token('eve', { exp: nowSec() - 120 }) }), 'expired');
    assertUnauthorized(await handshake(gw.wsUrl, { token: token('eve', { nbf: nowSec() + 3600 }) }), 'nbf in the future');
    assertUnauthorized(await handshake(gw.wsUrl, { token: token('eve', { alg: 'none' }) }), 'alg none');
    assertUnauthorized(await handshake(gw.wsUrl, {
      token: mintJwt({ sub: 'eve', exp: nowSec() + 60 }, { header: { alg: 'HS512', typ: 'JWT' } }),
    }), 'alg other than HS256');
    assertUnauthorized(await handshake(gw.wsUrl, { token: 'not.a.jwt' }), 'garbage');
    assertUnauthorized(await handshake(gw.wsUrl, { token: token('eve', { secret: 'nope' }), via: 'header' }), 'bad header token');
    assertUnauthorized(await handshake(gw.wsUrl, { token: token('eve', { secret: 'nope' }), via: 'protocol' }), 'bad protocol token');
  });

  itest('the token is accepted in the query, the Authorization header and the subprotocol', async () => {
    for (const via of ['query', 'header', 'protocol']) {
      const c = await connect(gw.wsUrl, { token: token(`user-${via}`), via, label: via });
      assert.equal(c.welcome.user, `user-${via}`, `${via}: welcome names the token's sub`);
      assert.equal(c.protocol, SUBPROTOCOL, `${via}: selected subprotocol`);
      assert.equal(c.response.headers['sec-websocket-protocol'], SUBPROTOCOL, `${via}: only chorus.v1 is echoed`);
      await c.close();
    }
    // A client that offers no subprotocol gets none back (ws rejects an unrequested one).
    const plain = await connect(gw.wsUrl, { token: token('plain'), protocols: [] });
    assert.equal(plain.protocol, '');
    assert.equal(plain.response.headers['sec-websocket-protocol'], undefined);
    await plain.close();
  });

  itest('Origin: own host and no Origin are allowed, others get 403; --allowed-origins', async () => {
    const t = token('origin');
    const own = await connect(gw.wsUrl, { token: t, origin: gw.origin });
    await own.close();
    const none = await connect(gw.wsUrl, { token: t });
    await none.close();
    const evil = await handshake(gw.wsUrl, { token: t, origin: 'http://evil.example' });
    assert.equal(evil.ok, false);
    assert.equal(evil.status, 403);
    const otherPort = await handshake(gw.wsUrl, { token: t, origin: `http://127.0.0.1:${gw.port + 1}` });
    assert.equal(otherPort.status, 403, 'same host, other port is another origin');

    for (const origin of ['http://a.example', 'http://b.example']) {
      const ok = await connect(gwOrigins.wsUrl, { token: t, origin });
      assert.equal(ok.welcome.user, 'origin');
      await ok.close();
    }
    const denied = await handshake(gwOrigins.wsUrl, { token: t, origin: 'http://c.example' });
    assert.equal(denied.status, 403);
  });

  itest('a valid raw upgrade gets 101 with the right accept key', async () => {
    const raw = await RawConn.open(gw.port, { token: token('raw'), headers: { 'Sec-WebSocket-Protocol': SUBPROTOCOL } });
    assert.equal(raw.status, 101);
    assert.equal(raw.headers.upgrade?.toLowerCase(), 'websocket');
    assert.match(raw.headers.connection ?? '', /upgrade/i);
    assert.equal(raw.headers['sec-websocket-accept'], raw.expectedAccept());
    assert.equal(raw.headers['sec-websocket-protocol'], SUBPROTOCOL);
    const welcome = await raw.nextFrame();
    assert.equal(welcome.opcode, OP.TEXT);
    assert.equal(welcome.masked, false, 'server frames are not masked');
    raw.destroy();
  });

  itest('malformed upgrades: bad version 426, missing or bad key 400, non-GET 405', async () => {
    const tok = token('raw');
    const v12 = await RawConn.open(gw.port, { token: tok, headers: { 'Sec-WebSocket-Version': '12' } });
    assert.equal(v12.status, 426);
    assert.equal(v12.headers['sec-websocket-version'], '13', '426 names the supported version');
    v12.destroy();

    const noKey = await RawConn.open(gw.port, { token: tok, headers: { 'Sec-WebSocket-Key': null } });
    assert.equal(noKey.status, 400);
    noKey.destroy();

    const shortKey = await RawConn.open(gw.port, { token: tok, headers: { 'Sec-WebSocket-Key': 'c2hvcnQ=' } });
    assert.equal(shortKey.status, 400, 'a key that does not decode to 16 bytes');
    shortKey.destroy();

    const post = await RawConn.open(gw.port, { token: tok, method: 'POST', headers: { 'Content-Length': '0' } });
    assert.equal(post.status, 405);
    post.destroy();

    // The gateway is still healthy afterwards.
    assert.equal((await httpGet(`${gw.httpUrl}/healthz`)).status, 200);
  });

  itest('an unmasked client frame closes with 1002', async () => {
    const raw = await rawSession();
    raw.sendFrame({ opcode: OP.TEXT, payload: JSON.stringify({ type: 'ping', id: 'u' }), mask: false });
    const close = await raw.waitClose();
    assert.equal(close.code, 1002);
    await raw.waitEnd();
  });

  itest('invalid UTF-8 in a text message closes with 1007', async () => {
    const raw = await rawSession();
    raw.sendFrame({ opcode: OP.TEXT, payload: Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]) });
    assert.equal((await raw.waitClose()).code, 1007);
    await raw.waitEnd();
  });

  itest('invalid UTF-8 split across two fragments closes with 1007', async () => {
    const raw = await rawSession();
    // "\xE2\x82" is a valid prefix of a 3-byte sequence; '(' cannot continue it.
    raw.sendFrame({ fin: false, opcode: OP.TEXT, payload: Buffer.from([0x7b, 0x22, 0x61, 0xe2, 0x82]) });
    raw.sendFrame({ fin: true, opcode: OP.CONT, payload: Buffer.from([0x28, 0x22, 0x7d]) });
    assert.equal((await raw.waitClose()).code, 1007);
    await raw.waitEnd();
  });

  itest('a multi-byte character split across fragments is accepted', async () => {
    const raw = await rawSession();
    const text = Buffer.from(JSON.stringify({ type: 'ping', id: 'caf\u00e9-\u20ac' }), 'utf8');
    const cut = text.indexOf(0xe2) + 1; // inside the euro sign
    raw.sendFrame({ fin: false, opcode: OP.TEXT, payload: text.subarray(0, cut) });
    raw.sendFrame({ fin: true, opcode: OP.CONT, payload: text.subarray(cut) });
    const pong = await raw.nextJson('pong');
    assert.equal(pong.id, 'caf\u00e9-\u20ac');
    raw.destroy();
  });

  itest('a message larger than --max-message closes with 1009 before its payload arrives', async () => {
    for (const length of [16 * 1024 * 1024, 2 ** 40]) {
      const raw = await rawSession();
      raw.sendFrame({ opcode: OP.TEXT, length, payload: Buffer.alloc(0) });
      const close = await raw.waitClose();
      assert.equal(close.code, 1009, `declared length ${length}`);
      await raw.waitEnd();
    }
    // Fragments that add up to too much are refused as well.
    const raw = await rawSession();
    const chunk = Buffer.alloc(40000, 0x61);
    raw.sendFrame({ fin: false, opcode: OP.TEXT, payload: chunk });
    raw.sendFrame({ fin: false, opcode: OP.CONT, payload: chunk });
    assert.equal((await raw.waitClose()).code, 1009, 'fragmented message over 64 KiB');
    await raw.waitEnd();
  });

  itest('ping control frames get a pong with the same payload', async () => {
    const raw = await rawSession();
    raw.sendFrame({ opcode: OP.PING, payload: Buffer.from('are-you-there') });
    const pong = await raw.nextFrame((f) => f.opcode === OP.PONG);
    assert.equal(pong.payload.toString(), 'are-you-there');
    raw.destroy();
  });

  itest('the close handshake echoes the client code', async () => {
    for (const code of [1000, 3000, 4321]) {
      const c = await connect(gw.wsUrl, { token: token('closer') });
      const info = await c.close(code, 'bye');
      assert.equal(info.code, code, `client sent ${code}`);
    }
    const raw = await rawSession();
    raw.sendFrame({ opcode: OP.CLOSE, payload: closePayload(1000, 'done') });
    const close = await raw.waitClose();
    assert.equal(close.code, 1000);
    assert.equal(close.masked, false);
    await raw.waitEnd();
  });
});
