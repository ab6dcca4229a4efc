-- Coroutines: a generator pipeline (source -> filter -> map -> sink) with
-- coroutine.wrap, plus a ring of resumes passing a token through create/resume/yield.
local n = tonumber(arg and arg[1]) or 200000

local function source(limit)
  return coroutine.wrap(function()
    for i = 1, limit do coroutine.yield(i) end
  end)
end

local function filter(pred, gen)
  return coroutine.wrap(function()
    for v in gen do if pred(v) then coroutine.yield(v) end end
  end)
end

local function map(f, gen)
  return coroutine.wrap(function()
    for v in gen do coroutine.yield(f(v)) end
  end)
end

local sum, count = 0, 0
for v in map(function(x) return x * 3 % 1009 end, filter(function(x) return x % 3 ~= 0 end, source(n))) do
  sum = sum + v
  count = count + 1
end

-- Token ring: each coroutine adds its index and yields back to the scheduler.
local ring = {}
for i = 1, 50 do
  ring[i] = coroutine.create(function(tok)
    while true do tok = coroutine.yield((tok + i) % 1000003) end
  end)
end
local tok = 0
for r = 1, n / 50 do
  for i = 1, #ring do
    local ok, v = coroutine.resume(ring[i], tok)
    tok = v
  end
end

io.write(string.format("pipeline %d items sum %d ring %d\n", count, sum, tok))
