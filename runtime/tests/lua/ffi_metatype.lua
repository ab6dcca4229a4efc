-- ffi.metatype metamethods and finalizers (ffi.gc and __gc), compared with luajit.
ffi = require("ffi")

local function show(...)
  local out = {}
  for i = 1, select("#", ...) do
    out[#out + 1] = (tostring((select(i, ...))):gsub("0x%x+", "ADDR"))
  end
  print(table.concat(out, " | "))
end

local function try(src)
  local r = { pcall(assert(loadstring(src))) }
  io.write(src, " => ")
  show(unpack(r, 1, table.maxn(r)))
end

ffi.cdef[[
typedef struct { double x, y; } mt_point;
typedef struct { int n; } mt_box;
typedef struct { int id; } mt_res;
]]

point = ffi.metatype("mt_point", {
  __add = function(a, b) return point(a.x + b.x, a.y + b.y) end,
  __sub = function(a, b) return point(a.x - b.x, a.y - b.y) end,
  __unm = function(a) return point(-a.x, -a.y) end,
  __len = function(a) return math.sqrt(a.x * a.x + a.y * a.y) end,
  __tostring = function(a) return "P(" .. a.x .. "," .. a.y .. ")" end,
  __eq = function(a, b) return a.x == b.x and a.y == b.y end,
  __lt = function(a, b) return #a < #b end,
  __le = function(a, b) return #a <= #b end,
  __concat = function(a, b) return tostring(a) .. "~" .. tostring(b) end,
  __call = function(self, k) return self.x * k end,
  __index = { area = function(a) return a.x * a.y end, K = 42 },
  __newindex = function(p, k, v) LAST_NEWINDEX = k .. "=" .. tostring(v) end,
})

local a, b = point(3, 4), point(1, 2)
show(a, #a, a + b, a - b, -a, a == point(3, 4), a == b, a ~= b, b < a, a <= b, a .. b, a .. "s", "s" .. a)
show(a(10), a:area(), a.K, point.K, a.x, a.y)
a.x = 6
a.q = 7
show(a.x, LAST_NEWINDEX)
local p = ffi.new("mt_point *", a)
show(p.x, p:area(), tostring(p), p == a, p + a)
try[[return point(1, 2).zz]]
try[[return ffi.metatype("mt_point", {})]]
try[[return ffi.metatype("int", {})]]
try[[return ffi.metatype("mt_box", 1)]]
try[[return getmetatable(point(1, 2))]]

box = ffi.metatype("mt_box", {
  __new = function(ct, n) return ffi.new(ct, n * 2) end,
  __index = function(s, k) return k .. "!" end,
})
show(box(21).n, box(1).anything, ffi.new(box, 3).n, ffi.istype(box, box(1)))

-- Finalizers: ffi.gc, removing them, __gc of a metatype.
local finalized = {}
local res = ffi.metatype("mt_res", { __gc = function(r) finalized[#finalized + 1] = "gc " .. r.id end })
do
  local keep = {}
  for i = 1, 5 do keep[i] = res(i) end
  for i = 1, 5 do
    local x = ffi.gc(ffi.new("int[1]", 100 + i), function(c) finalized[#finalized + 1] = "fin " .. c[0] end)
    if i % 2 == 0 then ffi.gc(x, nil) end
  end
  local y = ffi.gc(res(9), function(r) finalized[#finalized + 1] = "replaced " .. r.id end)
  keep = nil
end
collectgarbage()
collectgarbage()
table.sort(finalized)
show(#finalized, table.concat(finalized, ","))
try[[return ffi.gc(1LL, print)]]
try[[return ffi.gc(ffi.new("int"), print)]]
try[[return ffi.gc(1, print)]]
try[[return ffi.gc(ffi.new("int *"))]]
try[[return ffi.gc(ffi.new("int *"), nil) ~= nil]]
