--[[ new_epoch.lua — move a room whose sequence went back to a new epoch,
unless it already left the conflicting epoch (so a replay never moves it
twice). Used by the worker when PostgreSQL already holds a different event at
a (room, epoch, seq) Redis handed out again after losing acknowledged writes.

KEYS[1]  room meta hash        ch:{pN}:m:<room>     fields seq, epoch
KEYS[2]  room stream           ch:{pN}:s:<room>     dropped: it holds the old epoch
ARGV[1]  the epoch in which the conflict was seen

Reply: the new epoch (Redis time in ms, above the old one), or 0 if the
room's epoch is not ARGV[1] any more.
]]
local cur = redis.call('HGET', KEYS[1], 'epoch')
if cur ~= ARGV[1] then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now <= tonumber(cur) then now = tonumber(cur) + 1 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'epoch', string.format('%d', now), 'seq', 0)
return now
