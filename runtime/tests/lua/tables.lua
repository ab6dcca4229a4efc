-- tables.lua: constructors, length, table library, keys, raw access

local function show(t, n)
  local out = {}
  for i = 1, n or #t do out[#out + 1] = tostring(t[i]) end
  return table.concat(out, ",")
end

local function sortedkeys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = tostring(k) end
  table.sort(ks)
  return table.concat(ks, " ")
end

-- constructors
local function three() return 1, 2, 3 end
local function none() end
local t = {10, 20, x = "x", 30, [100] = "h", ["y z"] = 5}
print("ctor", t[1], t[2], t[3], t.x, t[100], t["y z"], #t)
print("ctor trailing call", #{three()}, #{three(), three()}, #{(three())}, #{three(), 10})
print("ctor call then field", #{three(), three(), k = 1})
print("ctor none", #{none()}, #{1, none()}, #{none(), 1})
local function packva(...) return {...} end
print("ctor varargs", #packva(), #packva(1, 2, 3), show(packva("a", "b")))
local function packva2(...) return {..., "last"} end
print("ctor varargs middle", show(packva2(1, 2, 3)))
print("ctor explicit index", show({[1] = "a", [2] = "b", "c"}, 2))
print("ctor semicolon", show({1; 2; 3,}))
local nested = {{1, 2}, {3, {4, 5}}}
print("nested", nested[2][2][2], #nested[2])
print("keys", sortedkeys({a = 1, b = 2, [1] = 1, [2.5] = 3, [true] = 1}))

-- length (well defined: no holes)
print("len", #{}, #{1}, #{1, 2, 3}, #{n = 3}, #"", #{nil} == 0)
local grow = {}
for i = 1, 100 do grow[i] = i end
print("len grow", #grow)
for i = 100, 51, -1 do grow[i] = nil end
print("len shrink", #grow)
local tn = {1, 2, 3, nil}
print("len trailing nil", #tn)

-- float keys that are integral
local fk = {}
fk[1.0] = "one"; fk[2] = "two"
print("float keys", fk[1], fk[2.0], #fk, fk[3 / 3 + 1])
fk[2 ^ 53] = "big"
print("big key", fk[2 ^ 53], fk[9007199254740992])
fk[0.5] = "half"
print("frac key", fk[0.5], fk[1 / 2])
fk[-0.0] = "zero"
print("neg zero key", fk[0], fk[-0.0])
print("string vs number key", fk["1"], ({["1"] = "s"})[1])

-- table.insert
local a = {}
table.insert(a, "a")
table.insert(a, "c")
table.insert(a, 2, "b")
table.insert(a, 1, "z")
table.insert(a, #a + 1, "end")
print("insert", show(a))
print("insert err", pcall(table.insert, {}, 1, 2, 3))
print("insert err2", pcall(table.insert, {}))
print("insert err3", pcall(table.insert, nil, 1))
local gap = {}
table.insert(gap, 3, "x")
print("insert past end", gap[3], gap[1])

-- table.remove
local r = {1, 2, 3, 4, 5}
print("remove last", table.remove(r), show(r))
print("remove first", table.remove(r, 1), show(r))
print("remove mid", table.remove(r, 2), show(r))
print("remove empty", table.remove({}), select("#", table.remove({})))
print("remove past", select("#", table.remove({1, 2}, 5)), select("#", table.remove({1, 2}, -1)))
print("remove zero", select("#", table.remove({}, 0)), select("#", table.remove({1}, 0)))
local r2 = {1, 2, 3}
print("remove n+1", table.remove(r2, 4), #r2)

-- table.concat
print("concat", table.concat({1, 2, 3}), table.concat({1, 2, 3}, ", "), table.concat({}, "x"))
print("concat nums", table.concat({1, 2.5, -3, 1e20, "s"}, "|"))
print("concat range", table.concat({"a", "b", "c", "d"}, "-", 2, 3), "[" .. table.concat({"a"}, "-", 2, 1) .. "]")
print("concat i only", table.concat({"a", "b", "c"}, "", 2))
print("concat err", pcall(table.concat, {{}}))
print("concat err2", pcall(table.concat, {1, 2}, ",", 1, 3))
print("concat err3", pcall(table.concat, {1, true}))
print("concat sep num", table.concat({1, 2}, 0))

-- table.sort
local nums = {5, 2, 8, 1, 9, 3, 7, 4, 6, 0}
table.sort(nums)
print("sort nums", show(nums))
local strs = {"pear", "apple", "fig", "Banana", "apple2", ""}
table.sort(strs)
print("sort strs", show(strs))
table.sort(nums, function(x, y) return x > y end)
print("sort desc", show(nums))
local recs = {{n = "b", v = 2}, {n = "a", v = 3}, {n = "c", v = 1}}
table.sort(recs, function(x, y) return x.v < y.v end)
print("sort recs", recs[1].n, recs[2].n, recs[3].n)
local big = {}
for i = 1, 200 do big[i] = (i * 37) % 101 end
table.sort(big)
local ok = true
for i = 2, #big do if big[i - 1] > big[i] then ok = false end end
print("sort big", ok, big[1], big[200])
local one = {42}
table.sort(one)
print("sort one", one[1])
print("sort bad cmp", pcall(table.sort, {5, 3, 1, 4, 2}, function() return true end))
print("sort mixed", pcall(table.sort, {1, "x"}))
print("sort floats", show((function() local f = {0.5, -1, 1e10, -0.25} table.sort(f) return f end)()))

-- unpack
print("unpack", unpack({1, 2, 3}))
print("unpack range", unpack({1, 2, 3, 4}, 2, 3))
print("unpack i", unpack({1, 2, 3}, 2))
print("unpack nils", unpack({1, nil, 3}, 1, 3))
print("unpack neg", unpack({[0] = "z", [-1] = "m"}, -1, 1))
print("unpack empty", select("#", unpack({}, 1, 0)), select("#", unpack({}, 3, 5)))
print("unpack big", pcall(unpack, {}, 1, 1e8))

-- maxn
print("maxn", table.maxn({}), table.maxn({1, 2, 3}), table.maxn({[10] = 1, [2.5] = 1, x = 1}))
print("maxn neg", table.maxn({[-5] = 1}), table.maxn({[1.5] = 1}))

-- ipairs stops at nil
local ip = {1, 2, nil, 4}
local c = 0
for _ in ipairs(ip) do c = c + 1 end
print("ipairs stop", c)
c = 0
for i, v in ipairs({[1] = "a", [2] = "b", [4] = "d"}) do c = c + 1 end
print("ipairs stop2", c)
c = 0
for i, v in ipairs({[0] = "z", "a"}) do c = c + 1 end
print("ipairs zero", c)

-- next
print("next empty", next({}))
local k, v = next({"only"})
print("next one", k, v)
print("next after last", next({"only"}, 1))
print("next bad key", pcall(next, {}, "nope"))
local cnt = 0
local h = {a = 1, b = 2, c = 3, 1, 2}
for k2 in next, h do cnt = cnt + 1 end
print("next loop", cnt)
-- clearing fields during traversal is allowed
for k2 in pairs(h) do h[k2] = nil end
print("cleared", next(h))

-- rawget/rawset/rawequal
local mt = {__index = function() return "meta" end, __newindex = function() end}
local p = setmetatable({}, mt)
print("raw", p.x, rawget(p, "x"))
p.y = 1
print("newindex", rawget(p, "y"))
rawset(p, "y", 2)
print("rawset", p.y, rawget(p, "y"), rawset(p, "z", 3) == p)
print("rawequal", rawequal(p, p), rawequal(p, {}), rawequal(1, 1.0), rawequal("a", "a"))
print("rawget err", pcall(rawget, "str", 1))

-- nil and NaN keys
print("nil key", pcall(function() local tt = {}; tt[nil] = 1 end))
print("nan key", pcall(function() local tt = {}; tt[0 / 0] = 1 end))
print("rawset nil", pcall(rawset, {}, nil, 1))
print("ctor nil key", pcall(function() return {[nil] = 1} end))
print("read nil/nan", ({})[nil], ({})[0 / 0])

-- select
print("select", select("#"), select("#", nil), select(2, "a", "b", "c"))
print("select neg", select(-1, "a", "b", "c"), select(-3, "a", "b", "c"))
print("select err", pcall(select, -4, 1, 2, 3))
print("select big", select(5, 1, 2))

-- table as set / counting
local words = {"x", "y", "x", "z", "y", "x"}
local freq = {}
for _, w in ipairs(words) do freq[w] = (freq[w] or 0) + 1 end
print("freq", freq.x, freq.y, freq.z, sortedkeys(freq))
