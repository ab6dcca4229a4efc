-- FFI conversions between Lua values and C types, and their errors (compared with
-- luajit's output).
ffi = require("ffi")

local function show(...)
  local out = {}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    local s = tostring(v)
    -- Addresses differ between runs: keep the type.
    s = s:gsub("0x%x+", "ADDR")
    out[#out + 1] = s
  end
  print(table.concat(out, " | "))
end

local function try(src)
  local f = assert(loadstring(src))
  local r = { pcall(f) }
  io.write(src, " => ")
  show(unpack(r, 1, table.maxn(r)))
end

ffi.cdef[[
typedef enum { RED, GREEN = 5, BLUE } color_t;
typedef enum { NEG = -1, POS = 1 } signed_t;
typedef struct { int x, y; } conv_pt;
typedef struct { uint8_t a; int16_t b; float c; double d; bool e; uint32_t f; int64_t g; uint64_t h; color_t col; const int k; } conv_all;
]]

-- Lua numbers to C integers: truncation, wrapping, x86-64's out-of-range results.
for _, tp in ipairs{"int8_t", "uint8_t", "int16_t", "uint16_t", "int32_t", "uint32_t", "int64_t", "uint64_t"} do
  local vals = {}
  for _, x in ipairs{0, 1.9, -1.9, 300, -300, 2^31, -2^31 - 1, 2^32 + 5, 2^40 + 7.5, 2^63, -2^63, 2^64, -1, 1/0, -1/0, 0/0} do
    local a = ffi.new(tp .. "[1]")
    a[0] = x
    vals[#vals + 1] = tostring(a[0])
  end
  print(tp, table.concat(vals, " "))
end

-- Floats and doubles, bool.
do
  local a = ffi.new("float[1]")
  a[0] = 0.1
  local b = ffi.new("bool[3]")
  b[0], b[1], b[2] = 0, 0.5, true
  show(a[0], b[0], b[1], b[2], ffi.new("double", 2^53 + 1) == 2^53 + 1)
end

-- C to C: integers, floats, complex, enums.
show(tonumber(ffi.new("int", ffi.new("double", -7.9))), tonumber(ffi.new("double", 3LL)),
  ffi.new("complex", ffi.new("int", 5)), tonumber(ffi.new("int", ffi.new("complex", 2.5, 1))),
  ffi.new("double", -1ULL), tonumber(ffi.new("uint8_t", ffi.new("int", 511))))

-- Struct fields: reads give numbers, booleans, boxed 64-bit integers, enums.
do
  local s = ffi.new("conv_all", 200, -5, 0.1, 0.2, true, 4e9, -3, -3, "BLUE", 7)
  show(s.a, s.b, s.c, s.d, s.e, s.f, s.g, s.h, s.col, s.k)
  s.col = GREEN or 5
  s.col = "RED"
  show(s.col, ffi.C.GREEN, ffi.C.BLUE, ffi.C.NEG, tonumber(ffi.new("signed_t", -1)))
end

-- Initializers.
try[[local s = ffi.new("conv_pt", 1, 2) return s.x, s.y]]
try[[local s = ffi.new("conv_pt", {3, 4}) return s.x, s.y]]
try[[local s = ffi.new("conv_pt", {y = 6}) return s.x, s.y]]
try[[local s = ffi.new("conv_pt", 7) return s.x, s.y]]
try[[local a = ffi.new("int[4]", 9) return a[0], a[3] ]]
try[[local a = ffi.new("int[4]", {9}) return a[0], a[3] ]]
try[[local a = ffi.new("int[4]", {1, 2}) return a[0], a[1], a[2] ]]
try[[local a = ffi.new("int[3]", {[0] = 5, 6, 7}) return a[0], a[1], a[2] ]]
try[[local a = ffi.new("conv_pt[2]", {{1, 2}, {3, 4}}) return a[1].x, a[1].y]]
try[[local a = ffi.new("char[4]", "abcdef") return a[0], a[3] ]]
try[[local a = ffi.new("char[8]", "ab") return ffi.string(a), a[2], a[7] ]]
try[[local a = ffi.new("int[?]", 5, 3) return ffi.sizeof(a), a[4] ]]
try[[local s = ffi.new("struct { int n; double d[?]; }", 3, 1, {1.5, 2.5, 3.5}) return ffi.sizeof(s), s.n, s.d[2] ]]
try[[local c = ffi.new("complex", 1, 2) return c, c.re, c.im, c[0], c[1] ]]
try[[local c = ffi.new("complex float", {3, -4}) return c]]
try[[local u = ffi.new("union { int i; float f; }", {f = 1}) return u.i]]
try[[return ffi.new("int[2]", 1, 2, 3)]]
try[[return ffi.new("int[2]", {1, 2, 3})]]
try[[return ffi.new("conv_pt", 1, 2, 3)]]
try[[return ffi.new("int", 1, 2)]]
try[[return ffi.new("int[?]")]]
try[[return ffi.new("int[?]", -1)]]
try[[return ffi.new("int[?]", 2^31)]]
try[[return ffi.new("struct conv_unknown")]]
try[[return ffi.new("void")]]

-- Conversion errors.
try[[return ffi.new("int", "x")]]
try[[return ffi.new("int", nil)]]
try[[return ffi.new("int", {})]]
try[[return ffi.new("char *", "x")]]
try[[return ffi.new("void *", 1)]]
try[[return ffi.new("int *", ffi.new("double *"))]]
try[[return ffi.new("int *", ffi.new("const int *"))]]
try[[return ffi.new("const int *", ffi.new("int *"))]]
try[[return ffi.new("unsigned int *", ffi.new("int *"))]]
try[[return ffi.new("int **", ffi.new("const int **"))]]
try[[return ffi.new("int *", ffi.new("int[3]")) ~= nil]]
try[[return ffi.new("double *", ffi.new("int[3]"))]]
try[[return ffi.new("int64_t", ffi.new("void *"))]]
try[[return ffi.new("color_t", "PURPLE")]]
try[[local a = ffi.new("conv_pt[1]") a[0] = ffi.new("struct { int x, y; }") ]]
try[[local a = ffi.new("int[2][2]") a[0] = ffi.new("int[3]") ]]
try[[local a = ffi.new("int[2][2]") a[1] = {7, 8} return a[1][1] ]]
try[[local s = ffi.new("conv_all") s.k = 1]]
try[[local a = ffi.new("const int[2]") a[0] = 1]]
try[[local c = ffi.new("complex") c.re = 1]]
try[[local s = ffi.new("conv_pt") return s.z]]
try[[local s = ffi.new("conv_pt") s.z = 1]]
try[[local a = ffi.new("int[2]") return a.x]]
try[[local a = ffi.new("int[2]") return a[{}] ]]
try[[local a = ffi.new("int[2]") return a["0"] ]]
try[[return ffi.new("int")[0] ]]

-- Casts.
try[[return ffi.cast("int", 3.9), ffi.cast("uint8_t", 511), ffi.cast("int64_t", ffi.cast("void *", 16)), ffi.cast("int *", -1)]]
try[[return ffi.cast("conv_pt", 1)]]
try[[return ffi.cast("int", {})]]
try[[return ffi.cast("double *", ffi.new("int *")) == nil]]

-- ffi.string, ffi.copy, ffi.fill.
try[[return ffi.string("abc", 2), ffi.string(ffi.new("char[4]", "xyz")), ffi.string(ffi.new("int[1]", 0x41424344), 4)]]
try[[return ffi.string(ffi.new("char *"), 0)]]
try[[return ffi.string(1)]]
try[[local a = ffi.new("char[8]") ffi.copy(a, "hello") ffi.fill(a, 2, 65) return ffi.string(a)]]
try[[local a = ffi.new("int[4]", 1, 2, 3, 4) ffi.copy(a + 1, a, 8) return a[0], a[1], a[2], a[3] ]]
try[[ffi.copy(ffi.new("int[1]"), ffi.new("int[1]"))]]
try[[ffi.fill(ffi.new("int[1]"), "x")]]
