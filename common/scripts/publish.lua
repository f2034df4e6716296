--[[ publish.lua — check the publisher's access, then sequence one durable
room event, atomically.

KEYS[1]  room meta hash        ch:{pN}:m:<room>     fields seq, epoch
KEYS[2]  room stream           ch:{pN}:s:<room>     catch-up window, ids "<seq>-0"
KEYS[3]  persistence stream    ch:{pN}:persist      read by the worker's consumer group
KEYS[4]  dedup key             ch:{pN}:d:...        "<seq>:<epoch>" of (room, author, cid)
KEYS[5]  room channel          ch:{pN}:r:<room>     pub/sub fan-out (a key slot for Cluster)
KEYS[6]  room access list      ch:{pN}:a:<room>     user id -> role (kept by the worker)
ARGV[1]  event JSON prefix, ending in "seq":
ARGV[2]  event JSON suffix, starting with ,"author": and closing the object
ARGV[3]  catch-up window (approximate MAXLEN of the room stream)
ARGV[4]  dedup window in seconds
ARGV[5]  room id   ARGV[6] author   ARGV[7] kind   ARGV[8] cid   ARGV[9] payload JSON
         ARGV[10] session id
ARGV[11] the weakest role that may publish this kind here: member, admin or
         owner (common/policy.c decides)
ARGV[12] "1" if an access list is required, "0" if a room without one is open
         (as join.lua's ARGV[8])

Reply: { seq, epoch, duplicate }  (duplicate = 1 when (author, cid) was seen
within the dedup window: nothing is written and the original seq returns)
  or the error "FORBIDDEN member": the room has an access list (or one is
     required) and the author is not on it;
  or the error "FORBIDDEN role": the author's role on the list is below
     ARGV[11].
A refused event writes nothing and takes no seq.

Order: the dedup check comes first. Only accepted events record their cid,
so a hit is always a retry of an event that was accepted and sequenced: it
gets its seq back even if the author has lost access since (nothing new is
written). A refused cid is checked afresh on every retry. The access check
comes before the seq is incremented. A room without an access list that is
not required (an open gateway) holds no roles: its events are not checked,
just as join.lua lets anyone in.

A room whose meta is missing starts a new epoch (server time in ms) and drops
any stale stream, so a restarted sequence can never be mistaken for the old
one. The published message is "E<seq>:<epoch>\n<event JSON>"; the stream holds the
same JSON, so catch-up and live delivery carry identical bytes.
]]
local dup = redis.call('GET', KEYS[4])
if dup then
  local s, e = string.match(dup, '^(%d+):(%d+)$')
  return { tonumber(s), tonumber(e), 1 }
end

if ARGV[12] == '1' or redis.call('EXISTS', KEYS[6]) == 1 then
  local role = redis.call('HGET', KEYS[6], ARGV[6])
  if not role then
    return redis.error_reply('FORBIDDEN member')
  end
  local rank = { member = 1, admin = 2, owner = 3 }
  if (rank[role] or 0) < (rank[ARGV[11]] or 3) then
    return redis.error_reply('FORBIDDEN role')
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
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local ts = string.format('%d', now)

local ev = ARGV[1] .. seq .. ',"epoch":' .. epoch .. ',"ts":' .. ts .. ARGV[2]
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], seq .. '-0', 'e', ev)
redis.call('XADD', KEYS[3], '*', 'room', ARGV[5], 'seq', seq, 'epoch', epoch,
           'author', ARGV[6], 'kind', ARGV[7], 'cid', ARGV[8], 'ts', ts,
           'payload', ARGV[9], 'session', ARGV[10])
redis.call('SET', KEYS[4], seq .. ':' .. epoch, 'EX', ARGV[4])
redis.call('PUBLISH', KEYS[5], 'E' .. seq .. ':' .. epoch .. '\n' .. ev)
return { seq, tonumber(epoch), 0 }
