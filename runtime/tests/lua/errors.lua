-- errors.lua: pcall/xpcall/error/assert and runtime error messages

-- pcall / xpcall return values
print("pcall ok", pcall(function() return 1, 2, 3 end))
print("pcall ok none", select("#", pcall(function() end)))
print("pcall args", pcall(function(a, b) return a + b end, 3, 4))
print("pcall err", pcall(function() error("boom") end))
print("pcall non-function", pcall(42))
print("pcall nothing", pcall(pcall))
print("xpcall ok", xpcall(function() return "fine", 2 end, function(m) return "handled" end))
print("xpcall err", xpcall(function() error("bad") end, function(m) return "handled: " .. m end))
print("xpcall handler gets object", xpcall(function() error({code = 7}) end, function(m) return m.code end))
print("xpcall extra args", xpcall(function(a, b) return a * b end, print, 6, 7))
print("xpcall extra args err", xpcall(function(a) error(a .. "!", 0) end, function(m) return "[" .. m .. "]" end, "arg"))
print("xpcall handler multiple returns", xpcall(function() error("e", 0) end, function(m) return m, "second" end))
print("xpcall no handler", pcall(xpcall, function() end))

-- error with levels
local function lvl1() error("level one", 1) end
local function lvl2() error("level two", 2) end
local function lvl0() error("level zero", 0) end
local function caller2() lvl2() end
print("error level 1", pcall(lvl1))
print("error level 2", pcall(caller2))
print("error level 0", pcall(lvl0))
print("error default level", pcall(function() error("default") end))

-- error objects
print("error table", select("#", pcall(error, {})), type(select(2, pcall(error, {}))))
local eobj = {msg = "custom"}
local ok, got = pcall(function() error(eobj) end)
print("error table identity", ok, got == eobj, got.msg)
print("error nil", pcall(error))
print("error nil explicit", pcall(error, nil))
print("error number", pcall(function() error(42) end))
print("error number level", pcall(function() error(42, 2) end))
print("error bool", pcall(function() error(true) end))
print("error string number coerced", pcall(function() error("7" + 0) end))

-- nested pcall
print("nested", pcall(function()
  local ok2, e2 = pcall(function() error("inner", 0) end)
  error("outer after " .. e2, 0)
end))
print("nested ok", pcall(pcall, error, "x"))
local rok, rerr = pcall(function()
  local ok3, e3 = pcall(error, {tag = "t"})
  error(e3)
end)
print("rethrow", rok, type(rerr), rerr.tag)

-- errors in the error handler
print("handler errors", xpcall(function() error("first") end, function(m) error("second") end))
print("handler errors ok", xpcall(function() return "no error" end, function(m) error("never") end))
local depth = 0
print("handler recursive", xpcall(function() error("x") end, function(m) depth = depth + 1; error(m) end))
print("handler depth", depth)

-- assert
print("assert ok", assert(1, "unused"), assert("v"))
print("assert returns all", assert(1, 2, 3))
print("assert no msg", pcall(assert, false))
print("assert nil", pcall(assert, nil))
print("assert msg", pcall(assert, false, "custom message"))
print("assert table msg", select(2, pcall(assert, false, eobj)) == eobj)
print("assert number msg", pcall(assert, nil, 12))
print("assert no args", pcall(assert))

-- runtime error messages with variable names
local function try(label, f)
  local ok4, err = pcall(f)
  print(label, ok4, err)
end
undefinedglobal = nil
local up = nil
local obj = {}
try("index local", function() local t = nil; return t.x end)
try("index global", function() return undefinedglobal.x end)
try("index field", function() return obj.missing.x end)
try("index upvalue", function() return up.x end)
try("index method nil obj", function() local o; return o:method() end)
try("index method field", function() return obj.missing:method() end)
try("index string field", function() local s = "str"; return s.x.y end)
try("index number", function() local n = 5; return n.x end)
try("index boolean", function() local b = true; return b[1] end)
try("index const", function() return (nil).x end)
try("index array slot", function() return obj[1].x end)
try("index dynamic key", function() local k = "key"; return obj[k].x end)
try("index library field", function() return math.nothing.x end)
try("call method on string", function() local s = "abc"; return s:nomethod() end)
try("call method number", function() local t = {m = 1}; return t:m() end)
try("arith two nils", function() local a = {}; return a.b + a.c end)
try("arith second nil", function() local a = {b = 1}; return a.b + a.c end)
try("newindex local", function() local t = nil; t.x = 1 end)
try("newindex global", function() undefinedglobal.x = 1 end)
try("newindex field", function() obj.missing.x = 1 end)
try("call global", function() undefinedglobal() end)
try("call field", function() obj.missing() end)
try("call method", function() obj:missing() end)
try("call local", function() local f; f() end)
try("call upvalue", function() up() end)
try("call string", function() local s = "x"; s() end)
try("call string const", function() ("x")() end)
try("call number", function() local n = 1; n() end)
try("call table", function() local t = {}; t() end)
try("arith local", function() local s = {}; return s + 1 end)
try("arith field", function() return obj.missing * 2 end)
try("arith global", function() return undefinedglobal - 1 end)
try("arith upvalue", function() return -up end)
try("arith string", function() local s = "abc"; return s + 1 end)
try("arith bool", function() return true + 1 end)
try("arith mod", function() local t = {}; return 1 % t end)
try("arith pow", function() local t = {}; return t ^ 2 end)
try("concat local", function() local t = {}; return "a" .. t end)
try("concat nil", function() local n; return "a" .. n end)
try("concat field", function() return obj.missing .. "x" end)
try("concat bool", function() return "x" .. true end)
try("concat global", function() return undefinedglobal .. "x" end)
try("compare tables", function() return {} < {} end)
try("compare num str", function() return 1 < "2" end)
try("compare str num", function() return "1" < 2 end)
try("compare nils", function() local a, b; return a < b end)
try("compare nil num", function() local a; return a <= 1 end)
try("compare bool", function() return true < false end)
try("compare le num str", function() return 1 >= "x" end)
try("len local", function() local n = 5; return #n end)
try("len nil", function() local n; return #n end)
try("len field", function() return #obj.missing end)
try("len global", function() return #undefinedglobal end)
try("len bool", function() return #true end)
try("for init", function() for i = "x", 2 do end end)
try("for limit", function() for i = 1, {} do end end)
try("for step", function() for i = 1, 2, nil do end end)
try("for nil init", function() local a; for i = a, 2 do end end)

-- library argument errors
try("rep no count", function() local s = ("x"):rep(); return s end)
try("sub no args", function() local s = string.sub(); return s end)
try("insert nil", function() table.insert(nil, 1) end)
try("setmetatable 1", function() setmetatable(1, {}) end)
try("tonumber base", function() local n = tonumber("1", 99); return n end)
try("tonumber base 1", function() local n = tonumber("1", 1); return n end)
try("ipairs none", function() for _ in ipairs() do end end)
try("select 0", function() local v = select(0); return v end)
try("select bad", function() local v = select("x"); return v end)
try("char range", function() local v = string.char(300); return v end)
try("format bad", function() local v = string.format("%d", {}); return v end)
try("math floor", function() local v = math.floor("x"); return v end)
try("math max none", function() local v = math.max(); return v end)
try("concat table", function() local v = table.concat({{}}); return v end)
try("insert wrong", function() table.insert({}, 1, 2, 3) end)
try("unpack too many", function() return unpack({}, 1, 1e7) end)
try("next invalid", function() local k = next({}, "nokey"); return k end)
try("tostring none", function() local v = tostring(); return v end)
try("setmetatable arg2", function() setmetatable({}, 1) end)
try("getmetatable none", function() local v = getmetatable(); return v end)
try("rawget non table", function() local v = rawget(1, 2); return v end)
try("string method on nil", function() local v = string.upper(nil); return v end)
try("upper number ok", function() local v = string.upper(12); return v end)
try("coroutine.create", function() local v = coroutine.create(1); return v end)
try("tail call loses name", function() return string.rep() end)

-- loop in gettable / settable
local loopy = setmetatable({}, {})
getmetatable(loopy).__index = loopy
try("loop gettable", function() return loopy.x end)
local loopy2 = setmetatable({}, {})
getmetatable(loopy2).__newindex = loopy2
try("loop settable", function() loopy2.x = 1 end)

-- stack overflow (non-tail recursion)
local function recurse(n) return 1 + recurse(n + 1) end
local sok, serr = pcall(recurse, 1)
print("stack overflow", sok, type(serr), string.find(serr, "stack overflow$") ~= nil)
local function recurse2() local t = {}; t[1] = recurse2(); return t end
sok, serr = pcall(recurse2)
print("stack overflow 2", sok, string.find(serr, "stack overflow$") ~= nil)

-- memory error from string.rep
try("rep huge", function() local s = string.rep("x", 2 ^ 31 - 1); return #s end)
try("rep huge sep", function() local s = string.rep("abc", 2 ^ 30, ","); return #s end)

-- error messages from error() keep position info for strings only
print("error position", pcall(function() error("msg") end))
print("error with level in nested function", pcall(function()
  local function check(x) if type(x) ~= "number" then error("expected number", 2) end end
  check("s")
end))

-- tostring on error values
local errt = setmetatable({}, {__tostring = function() return "custom error object" end})
local eok, ev = pcall(error, errt)
print("error object tostring", eok, tostring(ev), ev == errt)

-- error inside metamethods
local mm = setmetatable({}, {__index = function(t, k) error("no field " .. k) end})
print("error in __index", pcall(function() return mm.abc end))
local mm2 = setmetatable({}, {__add = function() error("cannot add", 2) end})
print("error in __add level 2", pcall(function() return mm2 + 1 end))

-- pcall returns false + message even for errors raised in C functions
print("string.rep via pcall", pcall(string.rep))
print("done")
