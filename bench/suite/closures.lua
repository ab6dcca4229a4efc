-- Closures: creating many short-lived closures, calling through upvalues, function
-- composition and higher-order map/fold.
local n = tonumber(arg and arg[1]) or 300000

local function counter(start, step)
  local c = start
  return function()
    c = c + step
    return c
  end
end

local function compose(f, g)
  return function(x) return f(g(x)) end
end

local function map(t, f)
  local r = {}
  for i = 1, #t do r[i] = f(t[i]) end
  return r
end

local function fold(t, f, z)
  for i = 1, #t do z = f(z, t[i]) end
  return z
end

local total = 0
for i = 1, n do
  local c = counter(i, i % 5 + 1)
  c(); c()
  total = (total + c()) % 1000000007
end

local inc = function(x) return x + 1 end
local dbl = function(x) return (x * 2) % 65521 end
local h = compose(inc, compose(dbl, inc))
local data = {}
for i = 1, 100 do data[i] = i end
local sum = 0
for r = 1, n / 100 do
  local m = map(data, h)
  sum = (sum + fold(m, function(a, b) return a + b + r end, 0)) % 1000000007
end

io.write(string.format("counters %d fold %d\n", total, sum))
