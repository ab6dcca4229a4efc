-- metatables.lua: metamethods and metatable protection

-- __index with a table, and chains
local base = {greet = "hello", kind = "base"}
local mid = setmetatable({kind = "mid"}, {__index = base})
local leaf = setmetatable({}, {__index = mid})
print("index chain", leaf.greet, leaf.kind, leaf.missing, rawget(leaf, "kind"))
base.late = "added later"
print("index live", leaf.late)

-- __index with a function
local log = {}
local fidx = setmetatable({present = 1}, {__index = function(t, k)
  log[#log + 1] = tostring(k)
  return k == "dyn" and "dynamic" or nil
end})
print("index fn", fidx.present, fidx.dyn, fidx.other, fidx[1], table.concat(log, ","))
local defaults = setmetatable({}, {__index = function(t, k) return k * 2 end})
print("index numeric", defaults[21], defaults[1.5])

-- __index function chained through a table
local inner = setmetatable({}, {__index = function(_, k) return "inner:" .. k end})
local outer = setmetatable({}, {__index = inner})
print("index fn via table", outer.x)

-- __newindex with table and function
local store = {}
local proxy = setmetatable({}, {__newindex = store})
proxy.a = 1
print("newindex table", rawget(proxy, "a"), store.a)
local writes = {}
local watched = setmetatable({exists = 0}, {__newindex = function(t, k, v)
  writes[#writes + 1] = k .. "=" .. tostring(v)
  rawset(t, k, v * 10)
end})
watched.x = 1
watched.x = 2
watched.exists = 5
print("newindex fn", watched.x, watched.exists, table.concat(writes, " "))
local ro = setmetatable({}, {__newindex = function(t, k) error("read-only: " .. k, 2) end})
print("newindex error", pcall(function() ro.field = 1 end))
-- __newindex chain: store into a table that itself has __newindex
local sink = {}
local level2 = setmetatable({}, {__newindex = function(t, k, v) sink[k] = v .. "!" end})
local level1 = setmetatable({}, {__newindex = level2})
level1.q = "v"
print("newindex chain", rawget(level1, "q"), rawget(level2, "q"), sink.q)

-- __call
local callable = setmetatable({name = "obj"}, {__call = function(self, a, b)
  return self.name, a, b
end})
print("call", callable(1, 2))
print("call no args", callable())
print("call in pcall", pcall(callable, "x"))
local multi = setmetatable({}, {__call = function(self, ...) return select("#", ...), ... end})
print("call varargs", multi(nil, nil, 3))
local nest = setmetatable({}, {__call = callable})
print("call nested", pcall(nest, "arg"))
local curry = setmetatable({n = 0}, {__call = function(self, x)
  self.n = self.n + x
  return self
end})
print("call chained", curry(1)(2)(3).n)
print("call method style", pcall(function() return callable:name() end))

-- arithmetic metamethods
local V = {}
V.__index = V
local function vec(x) return setmetatable({x = x}, V) end
local function val(o) if type(o) == "table" then return o.x else return o end end
V.__add = function(a, b) return vec(val(a) + val(b)) end
V.__sub = function(a, b) return vec(val(a) - val(b)) end
V.__mul = function(a, b) return vec(val(a) * val(b)) end
V.__div = function(a, b) return vec(val(a) / val(b)) end
V.__mod = function(a, b) return vec(val(a) % val(b)) end
V.__pow = function(a, b) return vec(val(a) ^ val(b)) end
V.__unm = function(a) return vec(-a.x) end
local a, b = vec(7), vec(2)
print("arith", (a + b).x, (a - b).x, (a * b).x, (a / b).x, (a % b).x, (a ^ b).x, (-a).x)
print("arith mixed", (a + 1).x, (1 + a).x, (10 - a).x, (a - 10).x, (2 ^ b).x, ("3" * a).x)
print("arith chain", (a + b * 2 - 1).x)
local order = {}
local L = setmetatable({}, {__add = function(x, y) order[#order + 1] = "L"; return 1 end})
local R = setmetatable({}, {__add = function(x, y) order[#order + 1] = "R"; return 2 end})
print("arith which mm", L + R, R + L, 5 + R, L + 5, table.concat(order, ""))
print("arith missing", pcall(function() return {} + 1 end))
print("arith str coerce", pcall(function() return "10" + "x" end))

-- __concat
local C = setmetatable({}, {__concat = function(x, y)
  local function s(v) return type(v) == "table" and "T" or tostring(v) end
  return s(x) .. "+" .. s(y)
end})
print("concat right", C .. "x")
print("concat left", "x" .. C)
print("concat number", 1 .. C, C .. 2)
print("concat chain mid", "a" .. C .. "b")
print("concat chain long", "a" .. "b" .. C .. "c" .. "d")
print("concat both", C .. C)
print("concat missing", pcall(function() return "a" .. {} end))

-- __eq
local eqcount = 0
local E = {__eq = function(x, y) eqcount = eqcount + 1; return x.id == y.id end}
local e1 = setmetatable({id = 1}, E)
local e2 = setmetatable({id = 1}, E)
local e3 = setmetatable({id = 2}, E)
print("eq", e1 == e2, e1 == e3, e1 ~= e2, e1 ~= e3, eqcount)
print("eq same obj", e1 == e1, eqcount)
print("eq other type", e1 == 1, e1 == "x", e1 == nil, eqcount)
print("eq rawequal", rawequal(e1, e2), rawequal(e1, e1))
local plain = {id = 1}
print("eq one side mm", e1 == plain, plain == e1, eqcount)
local E2 = {__eq = E.__eq}
local e4 = setmetatable({id = 1}, E2)
print("eq same function diff mt", e1 == e4, eqcount)
local E3 = {__eq = function() return true end}
local e5 = setmetatable({id = 9}, E3)
print("eq diff functions", e1 == e5, eqcount)
local truthy = setmetatable({}, {__eq = function() return "yes" end})
local truthy2 = setmetatable({}, getmetatable(truthy))
print("eq result coerced", truthy == truthy2)

-- __lt / __le
local O = {}
O.__lt = function(x, y) return x.v < y.v end
O.__le = function(x, y) return x.v <= y.v end
local function ord(v) return setmetatable({v = v}, O) end
local o1, o2, o3 = ord(1), ord(2), ord(2)
print("lt", o1 < o2, o2 < o1, o2 < o3, o1 > o2, o2 > o1)
print("le", o1 <= o2, o2 <= o3, o2 <= o1, o2 >= o3, o1 >= o2)
local LTONLY = {__lt = function(x, y) return x.v < y.v end}
local p1, p2 = setmetatable({v = 1}, LTONLY), setmetatable({v = 2}, LTONLY)
print("le fallback", p1 <= p2, p2 <= p1, p1 <= p1, p2 >= p1)
print("lt mixed types", pcall(function() return o1 < 1 end))
print("lt no mm", pcall(function() return {} < {} end))
print("le no mm", pcall(function() return {} <= {} end))
local lres = setmetatable({}, {__lt = function() return nil end, __le = function() return 0 end})
print("cmp result coerced", lres < lres, lres <= lres)

-- __len is ignored for tables (5.1 semantics)
local lenobj = setmetatable({1, 2, 3}, {__len = function() return 42 end})
print("len ignored", #lenobj)

-- __tostring
local TS = setmetatable({}, {__tostring = function(self) return "<custom>" end})
print("tostring", tostring(TS), TS)
print("tostring concat", pcall(function() return "x" .. TS end))
local TSn = setmetatable({}, {__tostring = function() return 42 end})
print("tostring number", pcall(tostring, TSn))
local named = setmetatable({}, {__tostring = function() return "n" end, __name = "Named"})
print("tostring name", tostring(named))

-- __metatable
local prot = setmetatable({}, {__metatable = "locked", __index = {k = "v"}})
print("protected get", getmetatable(prot), prot.k)
print("protected set", pcall(setmetatable, prot, {}))
local prot2 = setmetatable({}, {__metatable = false})
print("protected false", getmetatable(prot2), pcall(setmetatable, prot2, nil))
print("setmetatable nil", getmetatable(setmetatable(setmetatable({}, {}), nil)))
print("setmetatable bad", pcall(setmetatable, {}, 5))
print("setmetatable non-table", pcall(setmetatable, 1, {}))

-- setmetatable return value
local ret = {}
print("setmetatable returns", setmetatable(ret, {}) == ret)
local mtab = {}
print("getmetatable", getmetatable(setmetatable({}, mtab)) == mtab, getmetatable({}), getmetatable(1))

-- strings have a metatable with __index = string
local smt = getmetatable("")
print("string mt", type(smt), smt.__index == string, ("abc"):upper(), ("%d"):rep(2))
string.shout = function(s) return s:upper() .. "!" end
print("string ext", ("hey"):shout())
string.shout = nil
print("string index missing", ("x").nothing)

-- weak tables (populated inside a function so no stale registers keep garbage alive)
local weakk = setmetatable({}, {__mode = "k"})
local weakv = setmetatable({}, {__mode = "v"})
local weakkv = setmetatable({}, {__mode = "kv"})
local strong = {}
local function populate()
  for i = 1, 10 do
    local key, val = {}, {}
    weakk[key] = i
    weakv[i] = val
    weakkv[{}] = {}
    -- Hold the strong references before any further allocation: a collection may
    -- run at any allocation (it does at every one under MOONJET_GC_STRESS).
    if i <= 3 then strong[i] = key; strong[10 + i] = val end
  end
  weakv[100] = "string values stay"
  weakv[101] = 42
  weakk["strkey"] = {}
end
populate()
collectgarbage("collect")
collectgarbage("collect")
local function count(t) local n = 0; for _ in pairs(t) do n = n + 1 end; return n end
print("weak counts", count(weakk), count(weakv), count(weakkv), weakv[100], weakv[101])
print("weak survivors", weakk[strong[1]], weakv[2] == strong[12], type(weakk.strkey))
strong = {}
collectgarbage("collect")
collectgarbage("collect")
print("weak after drop", count(weakk), count(weakv))
print("weak mode", getmetatable(weakk).__mode, getmetatable(weakkv).__mode)

-- __gc on newproxy userdata
local function makeproxy(msg)
  local u = newproxy(true)
  getmetatable(u).__gc = function() print("gc finalizer ran: " .. msg) end
  return type(u)
end
print("newproxy", makeproxy("first"))
collectgarbage("collect")
collectgarbage("collect")
print("after gc")
local keep = newproxy(true)
getmetatable(keep).__gc = function() print("kept proxy finalized") end
collectgarbage("collect")
print("kept proxy alive", type(keep))
local u2 = newproxy(true)
local u3 = newproxy(u2)
print("newproxy shared mt", getmetatable(u2) == getmetatable(u3), type(newproxy(false)), getmetatable(newproxy()))
print("newproxy bad arg", pcall(newproxy, 1))

-- __index on a metatable-less value errors
print("index number", pcall(function() local n = 1; return n.x end))

-- rawequal / rawlen-like checks bypass metamethods
print("raw bypass", rawget(leaf, "greet"), rawequal(leaf, leaf))

-- metamethod looked up in metatable at call time
local dyn = setmetatable({}, {})
print("late mm", pcall(function() return dyn + 1 end))
getmetatable(dyn).__add = function() return "now works" end
print("late mm2", dyn + 1)

-- inheritance-style classes
local Animal = {}
Animal.__index = Animal
function Animal.new(name) return setmetatable({name = name}, Animal) end
function Animal:speak() return self.name .. " makes a sound" end
local Dog = setmetatable({}, {__index = Animal})
Dog.__index = Dog
function Dog.new(name) local d = Animal.new(name); return setmetatable(d, Dog) end
function Dog:speak() return self.name .. " barks; " .. Animal.speak(self) end
print("class", Animal.new("cat"):speak())
print("subclass", Dog.new("rex"):speak())

-- drop the kept proxy so its finalizer runs before the program ends
keep = nil
collectgarbage("collect")
collectgarbage("collect")
print("end")
