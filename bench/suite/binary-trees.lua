-- Table churn and GC: build and walk many short-lived binary trees while one
-- long-lived tree stays reachable.
local maxdepth = tonumber(arg and arg[1]) or 14
local mindepth = 4
if maxdepth < mindepth + 2 then maxdepth = mindepth + 2 end

local function make(d)
  if d == 0 then return {} end
  d = d - 1
  return { make(d), make(d) }
end

local function count(t)
  if t[1] == nil then return 1 end
  return 1 + count(t[1]) + count(t[2])
end

io.write(string.format("stretch depth %d nodes %d\n", maxdepth + 1, count(make(maxdepth + 1))))
local long = make(maxdepth)
for d = mindepth, maxdepth, 2 do
  local iters = 2 ^ (maxdepth - d + mindepth)
  local c = 0
  for _ = 1, iters do c = c + count(make(d)) end
  io.write(string.format("%d trees depth %d nodes %d\n", iters, d, c))
end
io.write(string.format("long depth %d nodes %d\n", maxdepth, count(long)))
