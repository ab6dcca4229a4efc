-- Random find/match/gsub/gmatch calls (seeded by the global SEED); the output is
-- compared with what luajit prints for the same program.
local seed = SEED or 42
local x = seed
local function rnd(n) x = (x * 16807) % 2147483647; return x % n end
local function pick(s) local i = rnd(#s) + 1; return s:sub(i, i) end
local atoms = {"a","b","c",".","%a","%d","%s","%w","[ab]","[^a]","[a-c]","%%","(",")","()","%b()","%f[%w]","$","^","x","1"," ","%1","[%a%d]","[]","-","*","+","?","%z","\0","%"}
local quants = {"","","","*","+","-","?"}
local function randpat()
  local t = {}
  for i = 1, rnd(5) + 1 do t[#t+1] = atoms[rnd(#atoms)+1] .. quants[rnd(#quants)+1] end
  return table.concat(t)
end
local function randsubj()
  local t = {}
  for i = 1, rnd(12) do t[#t+1] = pick("abcab 1x2()\0%.") end
  return table.concat(t)
end
local function show(...)
  local n = select("#", ...)
  local t = {}
  for i = 1, n do local v = select(i, ...); t[i] = type(v) == "string" and ("%q"):format(v) or tostring(v) end
  return n .. ":" .. table.concat(t, ",")
end
local repls = {"<%0>", "%1", "%2", "x", "%%", "", "%", "[%1|%0]"}
for i = 1, 20000 do
  local s, p = randsubj(), randpat()
  local init = rnd(20) - 8
  io.write(show(pcall(string.find, s, p, init)), " ", show(pcall(string.match, s, p, init)), " ")
  io.write(show(pcall(string.find, s, p, init, true)), " ")
  local r = repls[rnd(#repls)+1]
  io.write(show(pcall(string.gsub, s, p, r)), " ")
  io.write(show(pcall(string.gsub, s, p, function(a, b) return b end, rnd(4))), " ")
  io.write(show(pcall(string.gsub, s, p, {a = "A", [1] = "one", ["("] = false})), " ")
  local ok, e = pcall(function()
    local out = {}
    for a, b in s:gmatch(p) do out[#out+1] = tostring(a) .. "/" .. tostring(b); if #out > 50 then break end end
    return table.concat(out, ";")
  end)
  io.write(show(ok, e), "\n")
end
