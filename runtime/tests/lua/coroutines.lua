-- coroutines.lua: create/resume/yield/status/wrap and yields across frames

-- basics and value passing
local co = coroutine.create(function(a, b)
  print("start", a, b)
  local c, d = coroutine.yield(a + b)
  print("got", c, d)
  local e = coroutine.yield(c * d)
  print("got2", e)
  return "done", e
end)
print("type", type(co), coroutine.status(co))
print("resume1", coroutine.resume(co, 1, 2))
print("status", coroutine.status(co))
print("resume2", coroutine.resume(co, 3, 4))
print("resume3", coroutine.resume(co, "last"))
print("status end", coroutine.status(co))
print("resume dead", coroutine.resume(co))
print("resume dead again", coroutine.resume(co, 1))

-- yield with no values / many values
local co2 = coroutine.create(function(...)
  print("args", select("#", ...), ...)
  print("yield none", select("#", coroutine.yield()))
  print("yield nils", select("#", coroutine.yield(nil, nil)))
  return
end)
print("r", coroutine.resume(co2, nil, 2, nil))
print("r", coroutine.resume(co2))
print("r", coroutine.resume(co2, nil, nil, nil))
print("count", select("#", coroutine.resume(co2)))

-- status values and running
local main, ismain = coroutine.running()
print("running main", main, ismain)
local inner
local outerco = coroutine.create(function()
  local self, flag = coroutine.running()
  print("running inside", type(self), flag, coroutine.status(self))
  inner = coroutine.create(function()
    print("outer status from inner", coroutine.status(outerco))
    coroutine.yield()
  end)
  coroutine.resume(inner)
  print("inner status", coroutine.status(inner))
  print("isyieldable inside", coroutine.isyieldable())
end)
coroutine.resume(outerco)
print("isyieldable main", coroutine.isyieldable())
print("outer final", coroutine.status(outerco), coroutine.status(inner))

-- resume a running coroutine
local selfres
selfres = coroutine.create(function()
  return coroutine.resume(selfres)
end)
print("resume self", coroutine.resume(selfres))
local normalco
local child = coroutine.create(function() return coroutine.resume(normalco) end)
normalco = coroutine.create(function() return coroutine.resume(child) end)
print("resume normal", coroutine.resume(normalco))

-- errors inside coroutines
local errco = coroutine.create(function()
  coroutine.yield(1)
  error("inside")
end)
print("err r1", coroutine.resume(errco))
print("err r2", coroutine.resume(errco))
print("err status", coroutine.status(errco))
print("err r3", coroutine.resume(errco))
local tco = coroutine.create(function() error({code = 5}) end)
local okt, et = coroutine.resume(tco)
print("err table", okt, type(et), et.code)
local rtco = coroutine.create(function() local x = nil; return x.field end)
print("runtime err", coroutine.resume(rtco))

-- wrap
local gen = coroutine.wrap(function(n)
  for i = 1, n do coroutine.yield(i) end
  return "end"
end)
print("wrap", gen(3), gen(), gen(), gen())
print("wrap dead", pcall(gen))
local werr = coroutine.wrap(function() error("wrapped failure") end)
print("wrap error", pcall(werr))
local werr2 = coroutine.wrap(function() coroutine.yield(); local t = nil; return t.x end)
werr2()
print("wrap error 2", pcall(werr2))
local wtab = coroutine.wrap(function() error({1, 2, 3}) end)
local okw, ew = pcall(wtab)
print("wrap error table", okw, type(ew), #ew)

-- yield outside coroutine
print("yield main", pcall(coroutine.yield, 1))
print("yield main 2", pcall(function() coroutine.yield(1) end))

-- yield from nested Lua calls
local function deep(n)
  if n == 0 then return coroutine.yield("bottom") end
  return deep(n - 1) + 1
end
local dco = coroutine.create(function() return deep(10) end)
print("deep yield", coroutine.resume(dco))
print("deep resume", coroutine.resume(dco, 100))

-- yield across pcall inside the coroutine
local pco = coroutine.create(function()
  local ok, v = pcall(function()
    local x = coroutine.yield("in pcall")
    if x == "fail" then error("failed after yield", 0) end
    return x
  end)
  coroutine.yield("pcall returned", ok, v)
  local ok2, v2 = pcall(function()
    local y = coroutine.yield("second pcall")
    error(y, 0)
  end)
  return "end", ok2, v2
end)
print("pc1", coroutine.resume(pco))
print("pc2", coroutine.resume(pco, "value"))
print("pc3", coroutine.resume(pco))
print("pc4", coroutine.resume(pco, "boom"))
local xco = coroutine.wrap(function()
  return xpcall(function() coroutine.yield("in xpcall"); error("x", 0) end, function(m) return "handled " .. m end)
end)
print("xpcall yield", xco())
print("xpcall yield 2", xco())

-- yield inside metamethods
local ymt = {
  __index = function(t, k) return coroutine.yield("index " .. k) end,
  __add = function(a, b) return coroutine.yield("add") end,
  __lt = function(a, b) return coroutine.yield("lt") end,
  __le = function(a, b) return coroutine.yield("le") end,
  __concat = function(a, b) return coroutine.yield("concat") end,
  __eq = function(a, b) return coroutine.yield("eq") end,
  __call = function(self, x) return coroutine.yield("call " .. x) end,
  __newindex = function(t, k, v) coroutine.yield("newindex " .. k) end,
  __unm = function(a) return coroutine.yield("unm") end,
}
local obj = setmetatable({}, ymt)
local obj2 = setmetatable({}, ymt)
local mco = coroutine.create(function()
  local r = {}
  r[#r + 1] = obj.foo
  r[#r + 1] = obj + 1
  r[#r + 1] = tostring(obj < obj2)
  r[#r + 1] = tostring(obj <= obj2)
  r[#r + 1] = "x" .. obj .. "y"
  r[#r + 1] = tostring(obj == obj2)
  r[#r + 1] = obj("arg")
  obj.bar = 1
  r[#r + 1] = -obj
  return table.concat(r, ",")
end)
local resp = {"F", 5, false, 1, "C", nil, "K", nil, "U"}
local status, v = coroutine.resume(mco)
local i = 1
while coroutine.status(mco) == "suspended" do
  print("mm yield", v)
  status, v = coroutine.resume(mco, resp[i])
  i = i + 1
end
print("mm result", status, v)

-- yield from an iterator used by generic for
local function iter(state, ctl)
  if ctl >= state then return nil end
  coroutine.yield("iter " .. ctl)
  return ctl + 1
end
local ico = coroutine.wrap(function()
  local sum = 0
  for k in iter, 3, 0 do sum = sum + k end
  return "sum " .. sum
end)
print(ico(), ico(), ico(), ico())

-- yield across table.sort comparator / gsub callback is not allowed (C boundary)
local cco = coroutine.create(function()
  table.sort({3, 2, 1}, function(a, b) coroutine.yield() return a < b end)
end)
print("yield in sort", coroutine.resume(cco))
local gco = coroutine.create(function()
  return string.gsub("ab", ".", function(c) coroutine.yield(c) end)
end)
print("yield in gsub", coroutine.resume(gco))

-- generators
local function range(n, step)
  return coroutine.wrap(function()
    for i = 1, n, step or 1 do coroutine.yield(i) end
  end)
end
local acc = {}
for x in range(10, 3) do acc[#acc + 1] = x end
print("generator", table.concat(acc, " "))
local function permgen(a, n)
  n = n or #a
  if n <= 1 then coroutine.yield(a) else
    for i = 1, n do
      a[n], a[i] = a[i], a[n]
      permgen(a, n - 1)
      a[n], a[i] = a[i], a[n]
    end
  end
end
local perms = {}
for p in coroutine.wrap(function() permgen({"a", "b", "c"}) end) do perms[#perms + 1] = table.concat(p) end
table.sort(perms)
print("permutations", #perms, table.concat(perms, " "))

-- producer / filter / consumer pipeline
local function producer()
  return coroutine.create(function()
    for _, w in ipairs({"alpha", "beta", "gamma", "delta"}) do coroutine.yield(w) end
  end)
end
local function receive(p)
  local _, v = coroutine.resume(p)
  return v
end
local function filter(p)
  return coroutine.create(function()
    local n = 1
    while true do
      local v = receive(p)
      if v == nil then break end
      coroutine.yield(n .. ":" .. v:upper())
      n = n + 1
    end
  end)
end
local f = filter(producer())
local outs = {}
while true do
  local v = receive(f)
  if not v then break end
  outs[#outs + 1] = v
end
print("pipeline", table.concat(outs, " "))

-- many coroutines alive at once
local cos = {}
for k = 1, 100 do
  cos[k] = coroutine.create(function(a) local b = coroutine.yield(a * 2); return a + b end)
end
local total = 0
for k = 1, 100 do local _, v1 = coroutine.resume(cos[k], k); total = total + v1 end
for k = 1, 100 do local _, v2 = coroutine.resume(cos[k], 1); total = total + v2 end
print("many", total)

-- argument errors
print("resume non-co", pcall(coroutine.resume, 1))
print("status non-co", pcall(coroutine.status, {}))
print("wrap non-fn", pcall(coroutine.wrap, nil))
print("create C function", coroutine.resume(coroutine.create(print), "from print"))
print("wrap C function", coroutine.wrap(math.max)(3, 9, 4))
