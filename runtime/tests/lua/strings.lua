-- strings.lua: string library (non-pattern functions), format, number printing

local function bytes(s)
  local out = {}
  for i = 1, #s do out[i] = s:byte(i) end
  return table.concat(out, " ")
end

-- byte / char
print("byte", ("abc"):byte(), ("abc"):byte(2), ("abc"):byte(-1), ("abc"):byte(1, -1))
print("byte range", ("hello"):byte(2, 4))
print("byte out", select("#", ("abc"):byte(10)), select("#", ("abc"):byte(0)), select("#", (""):byte()))
print("byte neg range", ("hello"):byte(-3, -2))
print("byte clamp", ("abc"):byte(-10, 2))
print("char", string.char(72, 101, 108, 108, 111), "[" .. string.char() .. "]", #string.char(0, 0))
print("char err", pcall(string.char, 256))
print("char err2", pcall(string.char, -1))
print("char err3", pcall(string.char, "x"))
print("char coerce", string.char("65", 66.0))

-- sub
local s = "abcdef"
print("sub", s:sub(2, 4), s:sub(2), s:sub(-3), s:sub(-3, -2), s:sub(0), s:sub(1, 0))
print("sub out", "[" .. s:sub(10) .. "]", s:sub(-100, 2), s:sub(3, 100), "[" .. s:sub(4, 3) .. "]")
print("sub edge", s:sub(6, 6), s:sub(-1, -1), "[" .. s:sub(7, 7) .. "]", s:sub(0, 0) == "")
print("sub float idx", s:sub(2.0, 3.0))
print("sub str idx", s:sub("2", "3"))

-- upper/lower/len/reverse
print("case", ("MiXeD 123"):upper(), ("MiXeD 123"):lower(), string.upper(""))
print("len", ("abc"):len(), string.len(""), #"a\0b\0", ("\0"):len())
print("reverse", ("hello"):reverse(), "[" .. (""):reverse() .. "]", bytes(("a\0b"):reverse()))
print("upper nul", bytes(("a\0b"):upper()))

-- rep
print("rep", ("x"):rep(3), ("ab"):rep(3, ","), "[" .. ("ab"):rep(0) .. "]", "[" .. ("ab"):rep(-1) .. "]")
print("rep sep", ("ab"):rep(1, ","), "[" .. ("ab"):rep(0, ",") .. "]", ("a"):rep(4, ""), (""):rep(3, "-"))
print("rep big", #("abc"):rep(1000), #("abc"):rep(1000, "--"))
print("rep float", ("z"):rep(2.9))

-- format: integers
print("fmt d", string.format("%d %d %d", 0, -5, 123456789))
print("fmt d float", string.format("%d %d %d", 3.5, -3.7, 2 ^ 31))
print("fmt d big", string.format("%d %d", 2 ^ 53, -2 ^ 63))
print("fmt i u", string.format("%i %u", 42, 42))
print("fmt pad", string.format("[%5d] [%-5d] [%05d] [%+d] [% d] [%.3d]", 42, 42, -42, 5, 5, 7))
print("fmt x", string.format("%x %X %o %x", 255, 255, 8, 3.9))
print("fmt x neg", string.format("%x", -1))
print("fmt x alt", string.format("%#x %#o %#X", 255, 8, 171))
print("fmt x pad", string.format("[%08x] [%-6X]", 48879, 2748))

-- format: floats
print("fmt f", string.format("%f %.2f %5.1f %-8.3f| %08.2f", 1.5, 3.14159, 2.25, 2.5, -3.14159))
print("fmt f round", string.format("%.0f %.0f %.0f %.0f %.1f %.2f", 0.5, 1.5, 2.5, 3.5, 0.35, 1.005))
print("fmt e", string.format("%e %.2e %E %+.1e", 12345.678, 0.000123, 1e100, 12345.678))
print("fmt g", string.format("%g %g %g %g %g %g", 1e20, 0.0001, 0.00001, 100000, 1000000, 1 / 3))
print("fmt g prec", string.format("%.3g %.10g %g %.14g %.17g", 3.14159, 1 / 3, 2 ^ 53, 0.1, 0.1))
print("fmt a", string.format("%a %a %A %a", 1, 0.5, 255.5, 0))
print("fmt special", string.format("%f %e %g %.1f", 1 / 0, -1 / 0, 1 / 0, -1 / 0))
print("fmt negzero", string.format("%d %.3f %g", -0, -0.0, -0.0))

-- format: strings and chars
print("fmt s", string.format("%s %s %s %s", 1, 2.5, "x", true))
print("fmt s pad", string.format("[%-10s] [%10s] [%.2s] [%5.1s]", "ab", "cd", "xyz", "abc"))
print("fmt s long", string.format("[%5s] [%-5s]", "toolongvalue", "x"))
print("fmt s nul", #string.format("%s", "a\0b"), #string.format("x%sy", "\0"))
print("fmt s tostring", string.format("%s", setmetatable({}, {__tostring = function() return "TS" end})))
print("fmt c", string.format("%c%c%c", 76, 117, 97), bytes(string.format("%c", 0)), string.format("[%3c]", 65))
print("fmt pct", string.format("100%%"), string.format("%%d"))
print("fmt q", string.format("%q", 'he said "hi"\\'))
print("fmt q ctl", string.format("%q", "tab\tnl\ncr\rnul\0one\1del\127"))
print("fmt q digit", string.format("%q", "a\0001"), string.format("%q", "\0019"))
print("fmt q num", string.format("%q", 1 / 3), string.format("%q", 42))
print("fmt q high", bytes(string.format("%q", "\200\255")))
print("fmt many", string.format("%s=%d (%5.1f%%)", "x", 7, 12.345))
print("fmt extra args", string.format("%d", 1, 2, 3))
print("fmt no args", string.format("plain"))

-- format errors
print("fmt err1", pcall(string.format, "%d", "x"))
print("fmt err2", pcall(string.format, "%y", 1))
print("fmt err3", pcall(string.format, "%5%"))
print("fmt err4", pcall(string.format, "%10.123f", 1))
print("fmt err5", pcall(function() local r = string.format("%d"); return r end))
print("fmt err6", pcall(function() local r = string.format("%s"); return r end))
print("fmt err7", pcall(function() local r = string.format("%s %s", 1); return r end))
print("fmt str num", string.format("%d %5.1f", "10", "2.25"))

-- tostring of numbers in many magnitudes
local mags = {0, 1, -1, 0.5, 1 / 3, 10, 123.456, 1e5, 1e14, 1e15, 1e16, 1e17, 123456789012345,
  1234567890123456, 2 ^ 31, 2 ^ 32, 2 ^ 52, 2 ^ 63, 2 ^ 64, 1e300, 1e308, 1.7976931348623157e308,
  1e-1, 1e-4, 1e-5, 1e-10, 2 ^ -1074, 2.5e-310, -123.25, 3.14159265358979, 100 / 7, 1e14 + 0.5,
  99999999999999.9, 999999999999999, 0.1 + 0.7, 1e-320, 3e-315, 1e-323, 7e-322, 2.2250738585072014e-308}
local outs = {}
for i, v in ipairs(mags) do outs[i] = tostring(v) end
print("mags", table.concat(outs, " "))
print("num concat", 1 .. "", 1.0 .. "", -0.5 .. "", 1e300 .. "", 2 ^ 63 .. "")

-- methods via string metatable
print("methods", ("x"):rep(3), ("%d-%d"):format(1, 2), ("abc"):upper():lower(), #("ab"):rep(5))
local str = "method"
print("method var", str:len(), str:sub(1, 3), str:byte(1))
print("string index", ("abc").len == string.len, ("abc").nope)
print("number method", pcall(function() local n = 5; return n:rep(2) end))

-- comparisons
print("cmp", "a" < "b", "a" < "B", "abc" < "abd", "ab" < "abc", "" < "a", "b" > "abc")
print("cmp nul", "a\0b" < "a\0c", "a\0" > "a", "a" < "a\0", "\0" < "", "a\0b" == "a\0b", "a\0b" == "a\0c")
print("cmp le", "x" <= "x", "x\0" <= "x", "x" >= "x\0", "\0\0" > "\0")
print("cmp digits", "10" < "9", "10" < "10.0", "-1" < "0")
print("cmp high", "\127" < "\128", "\255" > "a", "z" < "\200")
print("cmp err", pcall(function() return "a" < 1 end))

-- concat of many pieces, and long strings
local parts = {}
for i = 1, 50 do parts[i] = string.char(64 + (i % 26) + 1) end
local joined = table.concat(parts)
print("joined", #joined, joined:sub(1, 10), joined:sub(-5))
local long = ("0123456789"):rep(1000)
print("long", #long, long:sub(9995, 10000), long:byte(10000))
