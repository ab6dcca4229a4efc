-- libmisc.lua: math library, select/unpack, environments, load/loadstring, string.dump

-- floor / ceil
print("floor", math.floor(3.7), math.floor(-3.5), math.floor(-3), math.floor(0.5), math.floor(-0.5))
print("ceil", math.ceil(3.2), math.ceil(-3.5), math.ceil(3), math.ceil(3.0000001), math.ceil(-0.5))
print("floor negzero", math.floor(-0.0), 1 / math.floor(-0.0), 1 / math.ceil(-0.5))
print("floor big", math.floor(2 ^ 53 + 0.5), math.floor(-2 ^ 31 - 0.5), math.ceil(2 ^ 40 + 0.5))
print("floor inf", math.floor(math.huge), math.ceil(-math.huge))
print("floor string", math.floor("2.5"), math.ceil("-2.5"))

-- fmod / modf
print("fmod", math.fmod(7, 3), math.fmod(-7, 3), math.fmod(7, -3), math.fmod(-7.5, 2), math.fmod(5.5, 2))
print("fmod special", math.fmod(1, 0) ~= math.fmod(1, 0), math.fmod(5.5, math.huge), math.fmod(-0.0, 1))
print("fmod vs %", math.fmod(-7, 3), -7 % 3)
print("modf", math.modf(3.7))
print("modf neg", math.modf(-3.7))
print("modf int", math.modf(5))
print("modf inf", math.modf(1 / 0))
print("modf -inf", math.modf(-1 / 0))
print("modf negzero", math.modf(-0.5))

-- abs / max / min
print("abs", math.abs(-5), math.abs(5), math.abs(-0.0), math.abs(-math.huge), math.abs(-2 ^ 63))
print("max", math.max(1, 5, 3), math.max(2), math.max(-1, -5), math.max(1, 2, 3, 4, 5, 6, 7, 8, 9, 10))
print("min", math.min(4, -2, 8), math.min(7), math.min(1.5, 1.25), math.min(-math.huge, 0))
print("max nan", math.max(1, 0 / 0) ~= math.max(1, 0 / 0), math.max(0 / 0, 1))
print("max err", pcall(math.max))
print("min err", pcall(math.min, 1, "x"))
print("max strings", math.max("10", 9), math.min("3", "20"))

-- sqrt / trig / exp / log
print("sqrt", math.sqrt(16), math.sqrt(2), math.sqrt(0), math.sqrt(-1) ~= math.sqrt(-1), math.sqrt(math.huge))
print("trig exact", math.sin(0), math.cos(0), math.tan(0), math.sin(math.pi / 2), math.cos(math.pi))
print("trig small", math.abs(math.sin(math.pi)) < 1e-15, math.abs(math.cos(math.pi / 2)) < 1e-15)
print("trig values", math.sin(1), math.cos(1), math.tan(1))
print("inverse trig", math.asin(1), math.acos(1), math.atan(1), math.atan2(1, 1), math.atan2(-1, -1))
print("hyperbolic", math.sinh(0), math.cosh(0), math.tanh(0))
print("exp", math.exp(0), math.exp(1), math.exp(-math.huge), math.exp(math.huge))
print("log", math.log(1), math.log(math.exp(1)), math.log(0), math.log(-1) ~= math.log(-1))
print("log base", math.log(8, 2), math.log(100, 10), math.log(27, 3), math.log(1024, 2))
print("log10", math.log10(1000), math.log10(1), math.log10(0.001))
print("pow", math.pow(2, 10), math.pow(2, 0.5), math.pow(-8, 1 / 3) ~= math.pow(-8, 1 / 3), math.pow(0, 0))
print("consts", math.huge, -math.huge, math.pi, math.huge > 1e308)
print("frexp", math.frexp(8))
print("frexp 0", math.frexp(0))
print("frexp neg", math.frexp(-3))
print("frexp small", math.frexp(0.1))
print("ldexp", math.ldexp(0.5, 4), math.ldexp(1, -1), math.ldexp(1, 1023), math.ldexp(1, 1024))
print("deg rad", math.deg(math.pi), math.rad(180), math.deg(1), math.rad(1))
print("missing compat fns", math.mod, math.cbrt, math.type)

-- random: only ranges and properties
local ok = true
for _ = 1, 1000 do
  local x = math.random()
  if x < 0 or x >= 1 then ok = false end
end
print("random [0,1)", ok)
ok = true
local seen = {}
for _ = 1, 2000 do
  local x = math.random(6)
  if x < 1 or x > 6 or x ~= math.floor(x) then ok = false end
  seen[x] = true
end
print("random(6) range", ok, #seen)
ok = true
for _ = 1, 2000 do
  local x = math.random(-3, 3)
  if x < -3 or x > 3 or x ~= math.floor(x) then ok = false end
end
print("random(m,n) range", ok, math.random(5, 5), math.random(1))
print("random(0) quirk", math.random(0))
math.randomseed(42)
local s1 = {math.random(100), math.random(100), math.random(100)}
math.randomseed(42)
local s2 = {math.random(100), math.random(100), math.random(100)}
print("randomseed repeatable", s1[1] == s2[1] and s1[2] == s2[2] and s1[3] == s2[3])
print("randomseed returns", select("#", math.randomseed(1)))
print("random bad arg", pcall(math.random, "x"))

-- select / unpack
print("select #", select("#"), select("#", nil, nil), select("#", unpack({1, 2, 3})))
print("select n", select(2, "a", "b", "c"), select(3, "a", "b", "c"))
print("select neg", select(-1, "a", "b", "c"), select(-2, "a", "b", "c"))
print("select past", select(4, "a", "b", "c"))
print("select errs", pcall(select, 0), pcall(select, -5, 1))
print("select float", select(2.9, "a", "b", "c"))
print("unpack", unpack({1, 2, 3}), unpack({1, 2, 3}, 2), unpack({1, 2, 3}, 2, 2))
print("unpack explicit n", unpack({1, nil, 3}, 1, 3))
print("unpack empty", select("#", unpack({})), select("#", unpack({}, 1, 2)))
print("unpack string index", unpack({"a", "b"}, "1", "2"))

-- getfenv / setfenv
print("getfenv", getfenv() == _G, getfenv(0) == _G, getfenv(1) == _G, getfenv(print) == _G)
local function sandboxed()
  setfenv(1, {print = print, tostring = tostring})
  newglobal = 10
  print("in sandbox", newglobal, tostring(math))
end
sandboxed()
print("global untouched", newglobal)
local function readz() return zz end
local env = {zz = "from env"}
print("setfenv fn", setfenv(readz, env) == readz, readz(), getfenv(readz) == env)
local function level2() return getfenv(2) end
print("getfenv 2", level2() == _G)
print("setfenv C fn", pcall(setfenv, print, {}))
print("getfenv bad level", pcall(getfenv, 100))
print("setfenv bad env", pcall(setfenv, readz, 1))
local chunk = loadstring("a_global = 5; return a_global")
local cenv = {}
setfenv(chunk, cenv)
print("chunk env", chunk(), cenv.a_global, a_global)
local inherit = setmetatable({}, {__index = _G})
local function usesprint() return type(print), type(undefined_here) end
setfenv(usesprint, inherit)
print("inherit env", usesprint())

-- load / loadstring
print("loadstring", loadstring("return 1 + 2")())
print("loadstring args", loadstring("return ...")(1, 2))
print("loadstring globals", loadstring("lsg = 7")(), lsg)
print("syntax err =name", loadstring("return 1 +", "=mychunk"))
print("syntax err @name", loadstring("x = = 1", "@file.lua"))
print("syntax err string", loadstring("local x = 'abc"))
print("syntax err load", load("return 2+"))
print("syntax err long src", loadstring("local a = 1\nlocal b = 2\nreturn a +* b -- a rather long chunk source text here"))
print("syntax err line", loadstring("local a = 1\n\n\nlocal = 2", "=lines"))
print("syntax err eof", loadstring("if true then", "=eof"))
print("syntax err unexpected end", loadstring("end", "=kw"))
print("syntax err number", loadstring("x = 3e", "=num"))
print("syntax err goto", loadstring("goto nowhere", "=g"))
print("syntax err break", loadstring("break", "=b"))
print("syntax err long string", loadstring("x = [[abc", "=ls"))
print("syntax err escape", loadstring([[x = "\q"]], "=esc"))
print("runtime err chunkname", pcall(loadstring("error('oops')", "=named")))
print("runtime err chunkname @", pcall(loadstring("local t = nil; return t.x", "@some/file.lua")))
print("runtime err default name", pcall(loadstring("error('oops')")))
print("loadstring nil", pcall(loadstring, nil))
local parts = {"return ", "10 ", "* ", "4", nil}
local idx = 0
local reader = function() idx = idx + 1; return parts[idx] end
local fn, err = load(reader, "=reader")
print("load reader", type(fn), err, fn and fn())
idx = 0
local empty_reader = function() return nil end
print("load empty reader", type(load(empty_reader)), load(empty_reader)())
local pieces = {"ret", "urn 'sp", "lit'"}
idx = 0
print("load split tokens", load(function() idx = idx + 1; return pieces[idx] end)())
print("load reader err", load(function() return "return +" end, "=bad"))
print("load reader empty string", type(load(function() return "" end)))

-- string.dump roundtrip
local dumped = string.dump(function(a, b) local c = a * b; return c + 1, "dumped" end)
print("dump", type(dumped), #dumped > 0)
local restored = loadstring(dumped)
print("dump roundtrip", restored(6, 7))
local upv = 5
local dumped2 = string.dump(function() return upv end)
print("dump upvalue nil", loadstring(dumped2)())
print("dump C fn", pcall(string.dump, print))

-- misc globals
print("version", _VERSION, _G._G == _G, _G.print == print, type(_G))
print("tostring/tonumber roundtrip", tonumber(tostring(1 / 3)) == 1 / 3, tonumber(tostring(0.1)) == 0.1)
print("type errs", pcall(type))
print("rawlen", rawlen)
