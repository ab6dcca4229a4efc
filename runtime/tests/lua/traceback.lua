-- traceback.lua: debug.traceback output in various frames
-- The outermost host frame ("[C]: at 0x...") depends on how the chunk is
-- launched, so P() strips it before printing.

local function clean(v)
  if type(v) == "string" then
    return (v:gsub("\n\t%[C%]: at 0x%x+", ""))
  end
  return v
end
local function P(...)
  local n = select("#", ...)
  local out = {...}
  for i = 1, n do out[i] = clean(out[i]) end
  print(unpack(out, 1, n))
end

-- top level with and without message
P(debug.traceback())
P(debug.traceback("top message"))
P(debug.traceback("level 2", 2))

-- nested named global functions
function outer_global()
  return inner_global() .. ""
end
function inner_global()
  local tb = debug.traceback("from inner_global")
  return tb
end
P(outer_global())

-- local functions and upvalues
local function local_leaf()
  return debug.traceback("from local_leaf", 1)
end
local function local_mid()
  local r = local_leaf()
  return r
end
P(local_mid())

-- anonymous function called through a table field
local t = {}
t.field_fn = function()
  local r = debug.traceback("from field")
  return r
end
P(t.field_fn())

-- method call
local Obj = {}
Obj.__index = Obj
function Obj:method()
  local r = debug.traceback("from method")
  return r
end
local o = setmetatable({}, Obj)
P(o:method())

-- anonymous immediately-invoked function
P((function()
  local r = debug.traceback("from anonymous")
  return r
end)())

-- inside pcall and xpcall with debug.traceback as handler
P(pcall(function()
  local r = debug.traceback("inside pcall")
  return r
end))
local function fails()
  local x = nil
  return x.field
end
P(xpcall(fails, debug.traceback))
P(xpcall(function() error("raised error") end, debug.traceback))
P(xpcall(function() error({}) end, function(e) return debug.traceback("table error", 1) end))

-- traceback inside a coroutine
local co = coroutine.create(function()
  local r = debug.traceback("in coroutine")
  coroutine.yield(r)
end)
P(coroutine.resume(co))
P(debug.traceback(co))
P(debug.traceback(co, "coroutine msg"))

-- non-string message is returned unchanged
P(debug.traceback(42), type(debug.traceback({})), debug.traceback(nil))

-- tail call frames
local function tail_target()
  return debug.traceback("after tail call")
end
local function tail_caller()
  return tail_target()
end
P(tail_caller())

-- non-tail local functions, with explicit levels
local function leaf2(level)
  local r = debug.traceback("leaf2 level " .. level, level)
  return r
end
local function mid2(level)
  local r = leaf2(level)
  return r
end
local function top2(level)
  local r = mid2(level)
  return r
end
P(top2(1))
P(top2(2))
P(top2(3))

-- frames for functions stored in upvalues and called via metamethods
local helper = function()
  local r = debug.traceback("via __index")
  return r
end
local proxy = setmetatable({}, {__index = function(_, k)
  local r = helper()
  return r
end})
P(proxy.anything)
local adder = setmetatable({}, {__add = function(a, b)
  local r = debug.traceback("via __add")
  return r
end})
P(adder + 1)

-- traceback from a function called by a C library function
local sorted_tb
table.sort({2, 1}, function(a, b)
  sorted_tb = sorted_tb or debug.traceback("in sort comparator")
  return a < b
end)
P(sorted_tb)
local gsub_tb
string.gsub("x", "x", function()
  gsub_tb = debug.traceback("in gsub callback")
end)
P(gsub_tb)
