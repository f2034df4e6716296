--[[ join.lua — a session joins a room: current position, catch-up, presence.

KEYS[1]  room meta hash        ch:{pN}:m:<room>
KEYS[2]  room stream           ch:{pN}:s:<room>
KEYS[3]  presence zset         ch:{pN}:p:<room>     member JSON -> expiry ms
KEYS[4]  room channel          ch:{pN}:r:<room>
KEYS[5]  room access list      ch:{pN}:a:<room>     user id -> role (kept by the worker)
ARGV[1]  since: last seq the client has, or -1 for "live only"
ARGV[2]  epoch the client's since refers to, or -1 if unknown
ARGV[3]  most events to return in this reply (the caller pages for more)
ARGV[4]  presence member JSON {"user":..,"name":..,"session":..}
ARGV[5]  presence TTL in ms
ARGV[6]  room id as a JSON string literal (quoted, escaped)
ARGV[7]  user id
ARGV[8]  "1" if an access list is required, "0" if a room without one is open

Reply: { status, seq, epoch, events, presence, more }
  status 0: events holds the room events with seq > since, in order, as JSON
            (empty when since is -1); more = 1 if the page was full
  status 1: snapshot required: the epoch differs, since is ahead of the room,
            or the stream no longer reaches back to since + 1. Nothing else
            is done (no presence entry).
  status 2: forbidden: the room has an access list (or one is required) and
            the user is not on it. Nothing is done.
  presence: the member JSONs present (after expiring stale ones), self included.

A room with no meta gets its epoch here (server time in ms), so the epoch a
client sees at join is the one its events will carry.
]]
if ARGV[8] == '1' or redis.call('EXISTS', KEYS[5]) == 1 then
  if redis.call('HEXISTS', KEYS[5], ARGV[7]) == 0 then
    return { 2, 0, 0, {}, {}, 0 }
  end
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = string.format('%d', now)
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0)
end
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local since = tonumber(ARGV[1])
local cepoch = tonumber(ARGV[2])

local events = {}
local more = 0
if since >= 0 then
  if (cepoch >= 0 and cepoch ~= tonumber(epoch)) or since > seq then
    return { 1, seq, tonumber(epoch), {}, {}, 0 }
  end
  if since < seq then
    local count = tonumber(ARGV[3])
    local r = redis.call('XRANGE', KEYS[2], (since + 1) .. '-0', '+', 'COUNT', count)
    if #r == 0 or tonumber(string.match(r[1][1], '^(%d+)')) ~= since + 1 then
      return { 1, seq, tonumber(epoch), {}, {}, 0 }
    end
    for i = 1, #r do events[i] = r[i][2][2] end
    if #r == count then more = 1 end
  end
end

local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
if #expired > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  for i = 1, #expired do
    redis.call('PUBLISH', KEYS[4], 'P\n{"type":"presence","room":' .. ARGV[6] ..
               ',"action":"leave",' .. string.sub(expired[i], 2))
  end
end
local fresh = redis.call('ZADD', KEYS[3], now + tonumber(ARGV[5]), ARGV[4])
if fresh == 1 then
  redis.call('PUBLISH', KEYS[4], 'P\n{"type":"presence","room":' .. ARGV[6] ..
             ',"action":"join",' .. string.sub(ARGV[4], 2))
end
local present = redis.call('ZRANGE', KEYS[3], 0, -1)
return { 0, seq, tonumber(epoch), events, present, more }
