-- Random string.format specs and argument kinds, and sub/byte/rep/char/find with odd
-- indices (seeded by the global SEED); compared with luajit.
local seed = SEED or 42
local x = seed
local function rnd(n) x = (x * 16807) % 2147483647; return x % n end
local function pick(t) return t[rnd(#t) + 1] end
local T = setmetatable({}, {__tostring = function() return "T\0x" end})
local N = setmetatable({}, {__tostring = function() return 12.5 end})
local vals = {0, 1, -1, 0.5, -0.0, 1/0, -1/0, 0/0, 2^31, 2^53, -2^63, 2^64, 1e300, 1e-300, 255, 65, 3.7, -3.7,
  "10", "0x1f", " 5 ", "abc", "", "a\0b\"\\\n\r\t\1\0019", true, false, nil, T, N, "1e2", 2^32+65, 4294967295}
local nvals = 34
local convs = {"d","i","o","u","x","X","e","E","f","F","g","G","a","A","c","s","q","%","p","y","l"}
local function spec()
  local f = {"%"}
  for i = 1, rnd(3) do f[#f+1] = pick({"-","+"," ","#","0"}) end
  if rnd(2) == 0 then f[#f+1] = tostring(rnd(25)) end
  if rnd(2) == 0 then f[#f+1] = "." .. (rnd(4) == 0 and "" or tostring(rnd(20))) end
  f[#f+1] = pick(convs)
  return table.concat(f)
end
local function show(...)
  local n = select("#", ...)
  local t = {}
  for i = 1, n do local v = select(i, ...); t[i] = type(v) == "string" and ("%q"):format(v) or tostring(v) end
  return n .. ":" .. table.concat(t, ",")
end
for i = 1, 20000 do
  local f = (rnd(3) == 0 and "<" or "") .. spec() .. (rnd(3) == 0 and spec() or "") .. (rnd(4) == 0 and ">" or "")
  local a, b = vals[rnd(nvals) + 1], vals[rnd(nvals) + 1]
  local nargs = rnd(3)
  local ok, r
  if f:find("p") then f = f:gsub("p", "s") end
  if nargs == 0 then ok, r = pcall(string.format, f)
  elseif nargs == 1 then ok, r = pcall(string.format, f, a)
  else ok, r = pcall(string.format, f, a, b) end
  io.write(("%q"):format(f), " ", show(ok, r), "\n")
end
-- sub/byte/rep/char with odd indices
local idx = {0, 1, 2, 3, 4, 5, -1, -2, -3, -4, -5, 100, -100, 2^31, -2^31, 2^31-1, 2^32, -2^32, 0/0, 1/0, -1/0, 1.5, -1.5, "2", "x", nil}
local nidx = 26
for i = 1, 5000 do
  local s = ("abcdefghij"):sub(1, rnd(11))
  local a, b = idx[rnd(nidx) + 1], idx[rnd(nidx) + 1]
  io.write(show(pcall(string.sub, s, a, b)), show(pcall(string.sub, s, a)), show(pcall(string.byte, s, a, b)), show(pcall(string.byte, s, a)), "\n")
  io.write(show(pcall(string.rep, s, rnd(4) == 0 and a or rnd(5), rnd(2) == 0 and "," or b)), show(pcall(string.char, rnd(300), a)), "\n")
  io.write(show(pcall(string.find, "abcabc", "b", a)), show(pcall(string.match, "abcabc", "()b", a)), show(pcall(string.gsub, "abcabc", "b", "X", a)), "\n")
end
