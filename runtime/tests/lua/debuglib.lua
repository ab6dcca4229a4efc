-- The debug library: getinfo, locals, upvalues, hooks, metatables and environments.

local function fields(t)
  if not t then return "nil" end
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do
    local v = t[k]
    if type(v) == "table" then
      local l = {}
      for kk in pairs(v) do l[#l + 1] = kk end
      table.sort(l)
      v = "{" .. table.concat(l, ",") .. "}"
    elseif type(v) == "function" then
      v = "function"
    end
    out[#out + 1] = k .. "=" .. tostring(v)
  end
  return table.concat(out, " ")
end

-- getinfo on levels and functions
local function f(a, b, ...)
  print(fields(debug.getinfo(1)))
  print(fields(debug.getinfo(1, "nSlufL")))
  print(fields(debug.getinfo(2, "nSl")))
  return 1
end
f()
local function multiline(x)
  local y = x * 2
  if y > 3 then
    y = y - 1
  end
  return y
end
print(fields(debug.getinfo(multiline, "L")))
print(fields(debug.getinfo(multiline, "S")))
print(fields(debug.getinfo(math.floor, "Su")))
print(fields(debug.getinfo(1, "Sl")))
print(debug.getinfo(100))
print(pcall(debug.getinfo, 1, "x"))
print(pcall(debug.getinfo, 1, ">S"))
print(pcall(debug.getinfo, "x"))
print(pcall(debug.getinfo))
local t = setmetatable({}, {__index = function(t, k) print(fields(debug.getinfo(1, "n"))) end})
local _ = t.x
local obj = {m = function(self) print(fields(debug.getinfo(1, "n"))) end}
obj:m()
obj.m(obj)
gf = function() print(fields(debug.getinfo(1, "n"))) end
gf()
local function tail() return print(fields(debug.getinfo(1, "nS"))) end
local function tc() return tail() end
tc()

-- getinfo of a suspended coroutine
local co = coroutine.create(function(x) local inside = x coroutine.yield(x) end)
coroutine.resume(co, 1)
print(fields(debug.getinfo(co, 0, "Sn")))
print(fields(debug.getinfo(co, 1, "Sl")))
print(debug.getinfo(co, 2, "Sl"))
print(debug.getlocal(co, 1, 1), debug.getlocal(co, 1, 2))
print(pcall(debug.getlocal, co, 5, 1))

-- getlocal and setlocal
local function dump(level)
  local i = 1
  while true do
    local n, v = debug.getlocal(level + 1, i)
    if not n then break end
    print(i, n, v)
    i = i + 1
  end
  i = -1
  while true do
    local n, v = debug.getlocal(level + 1, i)
    if not n then break end
    print(i, n, v)
    i = i - 1
  end
end
local function g(a, b, ...)
  local x = 10
  do local y = 20 end
  local z = a + (function() dump(2) return 1 end)()
  dump(1)
  return x
end
g(1, 2, "va1", "va2")
print(debug.getlocal(g, 1), debug.getlocal(g, 2), debug.getlocal(g, 3))
print(pcall(debug.getlocal, 50, 1))
print(pcall(debug.getlocal, 1, 100))
print(pcall(debug.getlocal, print, 1))
local function h(p)
  print(debug.setlocal(1, 1, "changed"), p)
  print(debug.setlocal(1, 5, "x"))
  print(p .. "!")
end
h("orig")

-- upvalues
local u1, u2 = 1, "two"
local function up() return u1, u2 end
print(debug.getupvalue(up, 1), debug.getupvalue(up, 2), debug.getupvalue(up, 3))
print(debug.setupvalue(up, 1, 100), u1)
print(debug.getupvalue(string.gmatch("a", "a"), 5))
print(type(debug.upvalueid(up, 1)), debug.upvalueid(up, 1) == debug.upvalueid(up, 1),
  debug.upvalueid(up, 1) == debug.upvalueid(up, 2))
print(pcall(debug.upvalueid, up, 5))
local function other() return u2 end
debug.upvaluejoin(up, 1, other, 1)
print(up())
print(debug.upvalueid(up, 1) == debug.upvalueid(other, 1))
print(pcall(debug.upvaluejoin, up, 5, other, 1))
print(pcall(debug.upvaluejoin, print, 1, other, 1))

-- registry, metatables, environments
print(type(debug.getregistry()))
print(debug.getmetatable("x").__index == string)
print(debug.setmetatable(10, {__index = {foo = 1}}))
print((5).foo)
debug.setmetatable(10, nil)
print(pcall(function() return (5).foo end))
local protected = setmetatable({}, {__metatable = "locked"})
print(getmetatable(protected), type(debug.getmetatable(protected)))
print(debug.getfenv(print) == _G, debug.getfenv(1))
print(pcall(debug.getfenv))
local function envf() return who end
print(debug.setfenv(envf, {who = "env"}) == envf, envf())
print(pcall(debug.setfenv, 1, {}))
print(pcall(debug.setfenv, envf, 1))

-- hooks
local log = {}
local function hook(ev, line)
  local info = debug.getinfo(2, "nS")
  log[#log + 1] = ev .. ":" .. tostring(line) .. ":" .. tostring(info and info.name) .. ":" .. tostring(info and info.what)
end
local function add(a, b)
  return a + b
end
local function tailer(x) return add(x, 1) end
debug.sethook(hook, "crl")
local x = add(1, 2)
x = tailer(x)
local s = ("x"):rep(2)
debug.sethook()
for _, l in ipairs(log) do print(l) end
print(debug.gethook())

log = {}
local function linehook(ev, line) log[#log + 1] = ev .. ":" .. tostring(line) end
debug.sethook(linehook, "lr")
local y = tostring(add(1, 2)) .. add(3, 4)
for i = 1, 2 do local z = i end
local i = 0
while i < 2 do i = i + 1 end
repeat i = i - 1 until i == 0
if i == 0 then
  i = 5
end
debug.sethook()
print(table.concat(log, " "))

local n = 0
debug.sethook(function(ev) n = n + 1 end, "", 10)
for i = 1, 1000 do end
debug.sethook()
print("count hooks", n)
debug.sethook(linehook, "l", 5)
local hf, hm, hc = debug.gethook()
debug.sethook()
print(hf == linehook, hm, hc)

-- hooks fire inside coroutines too (one hook for the whole state, as in luajit)
log = {}
local wrapped = coroutine.wrap(function() local a = 1
  coroutine.yield()
  return 2 end)
debug.sethook(linehook, "crl")
wrapped()
local q = 1
wrapped()
debug.sethook()
print(table.concat(log, " "))

-- an error in a hook propagates from the hooked code
local ok, e = pcall(function()
  debug.sethook(function(ev, line)
    debug.sethook()
    error("hook failed at " .. line, 0)
  end, "l")
  local z = 1
end)
print(ok, e)
print(pcall(debug.sethook, 1, "l"))
print(pcall(debug.sethook, print, 1, "x"))

-- traceback forms
print(debug.traceback("msg", 50))
print(debug.traceback(co))
print(debug.traceback(co, "in co"))
print(debug.traceback(co, "level 1", 1))
print(type(debug.traceback({})))
print(debug.traceback(nil))
print((debug.traceback(12)):match("^12\nstack traceback:") ~= nil)
