--[[ prune_consumers.lua — remove consumers of the persistence group that
hold no pending entry and were idle for ARGV[3] ms: workers that stopped (a
consumer name is often host-pid, so every restart leaves one behind). Atomic,
so none of them can read in between; a consumer that reads again later is
simply created again.

KEYS[1]  persistence stream    ch:{pN}:persist
ARGV[1]  group   ARGV[2] our consumer (never removed)   ARGV[3] idle ms

Reply: the number of consumers removed.
]]
local n = 0
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local f = {}
  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
  if f['name'] ~= ARGV[2] and f['pending'] == 0 and f['idle'] > tonumber(ARGV[3]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])
    n = n + 1
  end
end
return n
