--[[ presence.lua — refresh or remove a node's presence entries in one room.

KEYS[1]  presence zset         ch:{pN}:p:<room>     member JSON -> expiry ms
KEYS[2]  room channel          ch:{pN}:r:<room>
ARGV[1]  "refresh" or "leave"
ARGV[2]  TTL in ms (refresh)
ARGV[3]  room id as a JSON string literal
ARGV[4..] member JSONs {"user":..,"name":..,"session":..}

refresh: every given member's expiry moves to now + TTL (re-added if a sweep
         removed it, announcing a join), then entries past their expiry (those
         of a dead node) are removed and announced as leaves.
leave:   the given members are removed and announced as leaves.
Reply: number of leaves announced.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local head = 'P\n{"type":"presence","room":' .. ARGV[3] .. ',"action":"'
local left = 0
if ARGV[1] == 'leave' then
  for i = 4, #ARGV do
    if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then
      redis.call('PUBLISH', KEYS[2], head .. 'leave",' .. string.sub(ARGV[i], 2))
      left = left + 1
    end
  end
  return left
end
local expiry = now + tonumber(ARGV[2])
for i = 4, #ARGV do
  if redis.call('ZADD', KEYS[1], expiry, ARGV[i]) == 1 then
    redis.call('PUBLISH', KEYS[2], head .. 'join",' .. string.sub(ARGV[i], 2))
  end
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
if #expired > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  for i = 1, #expired do
    redis.call('PUBLISH', KEYS[2], head .. 'leave",' .. string.sub(expired[i], 2))
    left = left + 1
  end
end
return left
