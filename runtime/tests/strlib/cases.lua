-- cases.lua: string library edge cases (argument conversion, limits, errors); the
-- output luajit 2.1 printed for it is cases.expected (luajit -joff cases.lua).
local function show(...)
  local n = select("#", ...)
  local t = {}
  for i = 1, n do
    local v = select(i, ...)
    t[i] = type(v) == "string" and string.format("%q", v) or tostring(v)
  end
  print(n .. ": " .. table.concat(t, ", "))
end
local function try(...) show(pcall(...)) end
-- index conversions (32-bit truncation, NaN and out of range are -2^31)
try(string.sub, "abc", 2^32) try(string.sub, "abc", 1, 2^32) try(string.sub, "abc", -2^32)
try(string.sub, "abc", 0/0) try(string.sub, "abc", 2, 1/0) try(string.sub, "abc", -1/0, 2)
try(string.sub, "abc", 2.9, -1.9) try(string.sub, "abc", "2", "3") try(string.sub, "abc", "x")
try(string.sub) try(string.sub, "x") try(string.sub, "hello", 2, nil) try(string.sub, 12345, 2, 3)
try(string.byte, "abc", 2^32) try(string.byte, "abc", 1, 2^31) try(string.byte, "abc", -1, 1/0)
try(string.byte, "abc", 0, 0) try(string.byte, "") try(string.byte) try(string.byte, "abc", "x")
try(string.byte, string.rep("a", 9000), 1, 8000 + 1) show(select("#", string.byte(string.rep("a", 9000), 1, 8000)))
-- char
try(string.char) try(string.char, 65.9, "66", 255) try(string.char, 256) try(string.char, -1)
try(string.char, 2^32 + 65) try(string.char, 1, nil) try(string.char, {})
-- rep
try(string.rep, "x", 2^31 - 1) try(string.rep, "x", 0x7fffff01) try(string.rep, "ab", 0x40000000)
try(string.rep, "x", 2^31) try(string.rep, "x", 1e10) try(string.rep, "x", 3, 5) try(string.rep, 5, 3)
try(string.rep, "", 1e9, "") try(string.rep, "ab", 3, "") try(string.rep, "ab", 1, "--")
try(string.rep, "", 4, "-") try(string.rep, "x", "y") try(string.rep, "x", 2, {}) try(string.rep)
show(#string.rep("abc", 100000), #string.rep("abc", 99999, "xy"), string.rep("ab", 5, "|"))
try(string.rep, "x", 1e9, string.rep("y", 10))
-- len, case, reverse
try(string.len, 123) try(string.len, {}) try(string.upper, 1.5) try(string.lower, "MiXeD\0Z")
try(string.reverse, "a\0bc") try(string.reverse) try(string.upper)
-- find/match init and plain
try(string.find, "abc", "b", 2^32) try(string.find, "abc", "b", -2^32) try(string.find, "abc", "", 100)
try(string.find, "", "", 100) try(string.match, "abc", "", 100) try(string.match, "abc", "()", 100)
try(string.find, "a\0.", "a\0.") try(string.find, "a.b", ".", 1, 1) try(string.find, "a.b", ".", 1, false)
try(string.find, "ab") try(string.find, "ab", nil) try(string.find, "abc", "(a") try(string.match, "abc", "(a")
try(string.find, "abc", "b()") try(string.find, "aXb", "%u") try(string.find, 12345, 34)
-- gmatch
local it = string.gmatch("k=v, x=y", "(%w+)=(%w+)")
show(it()) show(it()) show(it()) show(it())
it = string.gmatch("abc", "") show(it()) show(it()) show(it()) show(it()) show(it())
try(string.gmatch, "ab") try(string.gmatch, nil, "x")
-- gsub
try(string.gsub, "a\0b", "", "x") try(string.gsub, "abc", "", "x", 2^32) try(string.gsub, "abc", "", "x", 2^32 + 1)
try(string.gsub, "abc", "", "x", "y") try(string.gsub, "abc", "", "x", "2") try(string.gsub, "abc", ".", "%0", -2^31)
try(string.gsub, "abc", "(", function() end) try(string.gsub, "abc", "(", "x") try(string.gsub, "ab", "%w")
try(string.gsub, "ab", "%w", nil) try(string.gsub, "ab", "%w", true) try(string.gsub, "ab")
try(string.gsub, "hello world", "o", "0") try(string.gsub, "hello world", "o", "0", 1)
try(string.gsub, "hello", "l+", "%%%0%%") try(string.gsub, "abc", "b", "%") try(string.gsub, "abc", "b", "%2")
try(string.gsub, "x = 1 + 2", "%d", {["1"] = "one", ["2"] = 2.5}) try(string.gsub, "abc", "%w", {a = 1, b = false, c = {}})
try(string.gsub, "ab", "()", {[1] = "one", [2] = "two"})
local t = setmetatable({}, {__index = function(t, k) return k .. "!" end})
try(string.gsub, "ab", "%w", t)
try(string.gsub, "abc", "%w", function(c) return c:byte() end)
try(string.gsub, "abc", "(%w)()", function(c, p) if p == 3 then return nil end return p .. c end)
try(string.gsub, "abc", "^%w", "X") try(string.gsub, "abc", "^", "X") try(string.gsub, "abc", "$", "X")
try(string.gsub, "aaa", "a*", "-") try(string.gsub, "", "x*", "-") try(string.gsub, 123, 2, 9)
-- format
try(string.format, "%d") try(string.format, "%s %s", 1) try(string.format) try(string.format, {})
try(string.format, "%q", 1/0) try(string.format, "%q", -1/0) try(string.format, "%q", 0/0) try(string.format, "%q", nil)
try(string.format, "%q", true) try(string.format, "%q", "a\0b\r\n\"\\\1272") try(string.format, "%5.1q|", "a")
try(string.format, "%p", 1) try(string.format, "%p", nil) try(string.format, "%p", true)
try(string.format, "%5.2s|%-4s|%.0s|", "abc", "x", "zzz") try(string.format, "%d", nil) try(string.format, "%c", "x")
try(string.format, "%c%c", 2^40, 256 + 65) try(string.format, "%d", "0x10") try(string.format, "%x", -0.5)
try(string.format, "%-+05d|", 3) try(string.format, "%", 1) try(string.format, "abc%") try(string.format, "%-")
try(string.format, "%.", 1) try(string.format, "%100d", 1) try(string.format, "%s", 1e15) try(string.format, "%s", -0.0)
try(string.format, "%.3s", 1/3) try(string.format, "%10.4s|", 2^53) try(string.format, "%i", 3.99)
try(string.format, "%5.2f%%", 99.555) try(string.format, "%s %s %s", nil, true, false)
try(string.format, "%d %d %d %d", 2^31, -2^31, 2^53, -2^53) try(string.format, "%d", 1e300)
local T = setmetatable({}, {__tostring = function() return "TT" end})
local N = setmetatable({}, {__tostring = function() return 42 end})
local B = setmetatable({}, {__tostring = function() return true end})
try(string.format, "%s|%q|%5s|%-5s|", T, T, T, T) try(string.format, "%s %s", N, B) try(string.format, "%q", N)
try(string.format, "%s", setmetatable({}, {__tostring = function() error("inner") end}))
try(string.format, "%s", setmetatable({}, {__tostring = function() return ("%s"):format(T) .. "!" end}))
try(string.format, "%s%s", "a\0b", "\0") try(string.format, "a\0%db", 5) try(string.format, "%y", 1)
try(string.format, "%5%") try(string.format, "%10.123f", 1) try(string.format, "%s")
-- method calls and the metatable
show(("x"):rep(3, ","), ("%d"):format(7), ("abc"):len(), ("abc"):upper():lower())
show(getmetatable("").__index == string, getmetatable("abc") == getmetatable(""))
try(function() return ("x"):nope() end)
try(function() local s = "x" return s:rep() end)
local keys = {} for k in pairs(string) do keys[#keys + 1] = k end table.sort(keys) show(table.concat(keys, " "))
-- dump
local function f(a, ...) local t = {1, 2, x = "y"} return a + select("#", ...) + #t, t.x end
show(loadstring(string.dump(f))(10, 1, 2)) show(loadstring(string.dump(f, true))(10))
try(string.dump, print) try(string.dump) try(string.dump, 1) try(string.dump, string.gmatch("", ""))
