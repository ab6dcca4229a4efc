-- 64-bit integer cdata: arithmetic, edge cases, comparisons, literals, tostring,
-- tonumber, the bit library, pointer arithmetic (compared with luajit's output).
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

local MIN, MAX = -9223372036854775807LL - 1, 9223372036854775807LL
show(MIN, MAX, 0xffffffffffffffffULL, 9223372036854775808LL, -1ULL, 0b101LL, 12i, -2.5i)
show(1LL + 2, 2 - 5LL, 3LL * -4, 7LL / 2, -7LL / 2, 7LL % 3, -7LL % 3, 7LL % -3, 2LL ^ 10, 3LL ^ 40, 2LL ^ 64)
show(MIN / -1, MIN % -1, 7LL / 0, 7LL % 0, -7LL / 0, 0LL / 0, MAX + 1, MIN - 1, MAX * 2, -MIN)
show(7ULL / 0, 7ULL % 0, 0ULL - 1, 5ULL - 6, 1ULL + -1, 2ULL ^ 63, 2ULL ^ 64, -(1ULL))
show(0LL ^ -1, 1LL ^ -1, (-1LL) ^ -1, (-1LL) ^ -2, 2LL ^ -1, 0ULL ^ -1, 2ULL ^ -1)
show(1LL + 0.9, 1LL - 0.9, 1LL * 2.9, 1LL + 2^63, 1ULL + 2^64, 1LL + -0.5)
show(ffi.new("int", 5) + 1, ffi.new("double", 1.5) + 1, ffi.new("uint32_t", 5) - 6, ffi.new("uint8_t", 200) * 2, ffi.new("bool", true) + 1, ffi.new("int8_t", -3) + 0)
show(1LL == 1, 1LL == 1.5, 1LL == 1ULL, -1LL == -1ULL, 1LL ~= 2, 1LL < 2, 2 <= 2LL, -1LL < 1ULL, -1LL < 1, 1ULL > 0, MIN < MAX)
show(1LL == nil, 1LL == "1", 1LL == {}, ffi.new("int", 3) == 3LL)
show(tonumber(MAX), tonumber(-1ULL), tonumber(ffi.new("float", 0.5)), tonumber(ffi.new("int *")), tonumber(ffi.new("complex", 1, 2)), tonumber(ffi.typeof("int")))
show(tostring(-0LL), tostring(1e3 + 0LL), string.format("%d %x %u %5d|", -1LL, -1LL, -1LL, 42ULL))
show(type(1LL), ffi.typeof(1LL), ffi.typeof(1ULL), ffi.typeof(1i), ffi.istype("int64_t", 1LL), ffi.istype("uint64_t", 1LL))

-- bit library on 64-bit cdata.
show(bit.band(1LL, 3), bit.bor(1, 2LL), bit.bxor(-1LL, 1), bit.bnot(0ULL), bit.bnot(0LL))
show(bit.lshift(1LL, 63), bit.lshift(1LL, 64), bit.rshift(-1LL, 60), bit.arshift(-16LL, 2), bit.rol(1ULL, 65), bit.ror(1LL, 1))
show(bit.tobit(0xfedcba9876543210LL), bit.tohex(1LL), bit.tohex(-1LL, 4), bit.tohex(255LL, -20), bit.bswap(1LL), bit.lshift(1, 40LL))
try[[return bit.band(1LL, {})]]
try[[return bit.band(ffi.new("int *"))]]

-- Arithmetic errors.
try[[return 1LL + {}]]
try[[return "10" + 1LL]]
try[[return 1LL + true]]
try[[return 1 + 1i]]
try[[return 1LL < "x"]]
try[[return #1LL]]
try[[return 1LL .. ""]]
try[[local x = (1LL)() return x]]
try[[return (1LL).x]]
try[[return (1LL)[0] ]]
try[[return math.max(1LL, 2)]]

-- Pointer arithmetic and comparison.
do
  local a = ffi.new("int[10]")
  local p, q = a + 7, a + 2
  show(p - q, q - p, p > q, p >= q, p == a + 7, (p - 3) == a + 4, (a + 1)[0], ffi.typeof(a + 1))
  local s = ffi.new("struct { int x, y; }[3]")
  show((s + 2) - s, ffi.cast("char *", s + 1) - ffi.cast("char *", s))
  show(ffi.new("int *") == nil, ffi.cast("void *", 0) == nil, ffi.new("int *") == ffi.cast("double *", 0), a == a, a == p)
end
try[[return ffi.new("void *") + 1]]
try[[return ffi.new("int *") - ffi.new("double *")]]
try[[return ffi.new("int *") < ffi.new("double *")]]
try[[return ffi.new("int *") * 2]]
try[[return ffi.new("int *") < 1]]
try[[return -ffi.new("int *")]]

-- cdata as table keys: by identity, never unified with numbers.
do
  local t, k = {}, 1LL
  t[1LL] = "a"; t[1] = "b"; t[k] = "c"
  show(t[1LL], t[1], t[k])
end
