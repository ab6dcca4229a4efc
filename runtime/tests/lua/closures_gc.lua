-- closures_gc.lua: closures/upvalues in depth and allocation-heavy loops
-- Sizes are kept modest: this file also runs with the collector in stress mode (a full
-- collection at every allocation), where time grows with heap size times allocations.

-- counter factories: independent state per closure
local function counter(start, step)
  local n = start
  return function() n = n + step; return n end
end
local c1, c2 = counter(0, 1), counter(100, 10)
print("counters", c1(), c1(), c2(), c1(), c2())

-- several closures sharing one upvalue, after the creator returned
local function account(balance)
  local function deposit(x) balance = balance + x; return balance end
  local function withdraw(x)
    if x > balance then return nil, "insufficient" end
    balance = balance - x
    return balance
  end
  local function get() return balance end
  return deposit, withdraw, get
end
local dep, wd, get = account(50)
dep(25)
print("shared", get(), wd(100), wd(30), get())
local dep2, _, get2 = account(0)
dep2(1)
print("independent", get(), get2())

-- upvalues closed per loop iteration
local fs = {}
for i = 1, 5 do fs[i] = function() return i end end
local r = {}
for i = 1, 5 do r[i] = fs[i]() end
print("numeric for fresh", table.concat(r, " "))
fs = {}
for k, v in ipairs({"a", "b", "c"}) do fs[k] = function() return k .. v end end
print("generic for fresh", fs[1](), fs[2](), fs[3]())
fs = {}
local j = 0
while j < 3 do
  j = j + 1
  local captured = j * j
  fs[j] = function() captured = captured + 1; return captured end
end
print("while fresh", fs[1](), fs[1](), fs[2](), fs[3]())
fs = {}
local shared = 0
for i = 1, 3 do fs[i] = function() shared = shared + i; return shared end end
print("shared outer", fs[1](), fs[2](), fs[3](), shared)
fs = {}
repeat
  local x = #fs + 1
  fs[x] = function() return x end
until x >= 3 or #fs >= 3
print("repeat fresh", fs[1](), fs[2](), fs[3]())

-- loop variable modified inside body does not affect the closure of the next iteration
fs = {}
for i = 1, 3 do
  local i2 = i
  fs[#fs + 1] = function() return i2 end
  i2 = i2 * 100
end
print("modified after capture", fs[1](), fs[2](), fs[3]())

-- closures created in a loop with break and goto
fs = {}
for i = 1, 10 do
  fs[#fs + 1] = function() return i end
  if i == 3 then break end
end
print("break closes", #fs, fs[1](), fs[3]())
do
  local k = 0
  local gs = {}
  ::again::
  local kk = k
  gs[#gs + 1] = function() return kk end
  k = k + 1
  if k < 3 then goto again end
  print("goto fresh", gs[1](), gs[2](), gs[3]())
end

-- recursive local functions
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
print("local recursive", fib(15))
local fact
fact = function(n) return n <= 1 and 1 or n * fact(n - 1) end
print("assigned recursive", fact(12))
local function ackermann(m, n)
  if m == 0 then return n + 1 end
  if n == 0 then return ackermann(m - 1, 1) end
  return ackermann(m - 1, ackermann(m, n - 1))
end
print("ackermann", ackermann(2, 3))
local fnval = function(n) return n end
local function shadow(n) if n == 0 then return "base" end return shadow(n - 1) end
print("shadow", shadow(3), fnval(7))

-- deeply nested closures, each level capturing its own and outer variables
local function level1(a)
  return function(b)
    return function(c)
      return function(d)
        a = a + 1
        return a + b + c + d
      end
    end
  end
end
local l4 = level1(1)(10)(100)
print("nested levels", l4(1000), l4(1000))

-- closure memoization
local function memoize(f)
  local cache, calls = {}, 0
  return function(x)
    if cache[x] == nil then calls = calls + 1; cache[x] = f(x) end
    return cache[x]
  end, function() return calls end
end
local sq, sqcalls = memoize(function(x) return x * x end)
print("memo", sq(4), sq(4), sq(5), sqcalls())

-- upvalue of upvalue updated after closure creation
local function mk()
  local v = "before"
  local function getter() return function() return v end end
  local g = getter()
  v = "after"
  return g
end
print("late update", mk()())

-- varargs captured via table in closure
local function bind(f, ...)
  local args = {n = select("#", ...), ...}
  return function(...)
    local all = {}
    for i = 1, args.n do all[i] = args[i] end
    local extra = select("#", ...)
    for i = 1, extra do all[args.n + i] = (select(i, ...)) end
    return f(unpack(all, 1, args.n + extra))
  end
end
print("bind", bind(function(...) return select("#", ...), ... end, 1, nil)(3, nil))

-- allocation-heavy: big tables
local big = {}
for i = 1, 10000 do big[i] = i * 2 end
local sum = 0
for i = 1, #big do sum = sum + big[i] end
print("big table", #big, sum)
local hash = {}
for i = 1, 10000 do hash["k" .. i] = i end
local hsum, hcount = 0, 0
for k, v in pairs(hash) do hsum = hsum + v; hcount = hcount + 1 end
print("big hash", hcount, hsum, hash.k777)
for i = 1, 10000, 2 do hash["k" .. i] = nil end
hcount = 0
for _ in pairs(hash) do hcount = hcount + 1 end
print("hash after delete", hcount)

-- string building
local s = ""
for i = 1, 2000 do s = s .. (i % 10) end
print("concat loop", #s, s:sub(1, 12), s:sub(-5))
local parts = {}
for i = 1, 5000 do parts[#parts + 1] = tostring(i) end
local joined = table.concat(parts, ",")
print("join", #joined, joined:sub(1, 20), joined:sub(-11))
local checksum = 0
for i = 1, #joined, 97 do checksum = (checksum * 31 + joined:byte(i)) % 1000000007 end
print("checksum", checksum)

-- table churn: many short-lived tables
local live = 0
for round = 1, 200 do
  local tmp = {}
  for i = 1, 100 do tmp[i] = {i, round, tostring(i)} end
  live = live + #tmp[100]
end
print("churn", live)
local keep = {}
for i = 1, 1000 do
  local t = {id = i, children = {}}
  for k = 1, 5 do t.children[k] = {parent = t, k = k} end
  if i % 100 == 0 then keep[#keep + 1] = t end
end
print("kept", #keep, keep[3].id, keep[3].children[5].parent == keep[3])

-- closures churn
local total = 0
for i = 1, 2000 do
  local f = function(x) return x + i end
  total = total + f(1)
end
print("closure churn", total)

-- collectgarbage API
print("count type", type(collectgarbage("count")), collectgarbage("count") > 0)
local before = collectgarbage("count")
collectgarbage("collect")
print("collect returns", collectgarbage("collect"), collectgarbage())
print("step returns", type(collectgarbage("step")), type(collectgarbage("step", 0)))
print("setpause", collectgarbage("setpause", 150), collectgarbage("setpause", 200))
print("setstepmul", collectgarbage("setstepmul", 300), collectgarbage("setstepmul", 200))
print("isrunning", pcall(collectgarbage, "isrunning"))
print("stop", collectgarbage("stop"), collectgarbage("isrunning"))
print("restart", collectgarbage("restart"), collectgarbage("isrunning"))
print("bad option", pcall(collectgarbage, "bogus"))
print("count after", collectgarbage("count") <= before + 10000)

-- garbage cycle reclaimed: weak table reveals it
local weak = setmetatable({}, {__mode = "v"})
local function makecycle()
  local a, b = {}, {}
  a.other, b.other = b, a
  weak[1] = a
  weak[2] = b
end
makecycle()
collectgarbage("collect")
collectgarbage("collect")
print("cycle collected", weak[1] == nil, weak[2] == nil)

-- closures keeping upvalues alive
local weak2 = setmetatable({}, {__mode = "v"})
local function holder()
  local data = {"precious"}
  weak2[1] = data
  return function() return data[1] end
end
local h = holder()
collectgarbage("collect")
print("upvalue kept alive", h(), weak2[1] ~= nil)
