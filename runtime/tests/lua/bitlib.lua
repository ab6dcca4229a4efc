-- The bit library (luajit 2.1 semantics, numbers only).
local bit = bit
local fnames = {"tobit","tohex","bnot","band","bor","bxor","lshift","rshift",
  "arshift","rol","ror","bswap"}
for _, n in ipairs(fnames) do print(n, type(bit[n])) end

local vals = {0, 1, -1, 1.5, 2.5, -1.5, -2.5, 0.5, -0.5, 0.49999999999999994,
  2^31, 2^31-1, -2^31, -2^31-1, 2^32, 2^32+5, -2^32-5, 2^52, 2^52+1, 2^53, 2^60+3,
  2^64, -2^63, 0xffffffff, 0x7fffffff, 0x80000000, 0x12345678, 0xdeadbeef,
  1/0, -1/0, 0/0, -0.0, 1e300, -1e-300, 4294967295.5, 4294967296.5,
  "10", " 0x10 ", "1e2", "-7", "0x7fffffff", "0xffffffff", "2.5", "1e10"}
for _, v in ipairs(vals) do
  print("tobit", v, bit.tobit(v), bit.bnot(v), bit.bswap(v), bit.tohex(v))
end

local ops = {0, 1, -1, 0x12345678, 0xdeadbeef, 0x80000000, 7, 255, -256, 2^32+3, 1.5}
for _, a in ipairs(ops) do
  for _, b in ipairs(ops) do
    print(a, b, bit.band(a, b), bit.bor(a, b), bit.bxor(a, b))
  end
end
print(bit.band(1), bit.bor(2), bit.bxor(3), bit.band(-1.5))
print(bit.band(0xff, 0xf0f, 0xff0f, "0x3c"), bit.bor(1, 2, 4, 8, 16, 2^31),
  bit.bxor(1, 3, 7, 15, 31, 63, 127))
local many = {}
for i = 1, 100 do many[i] = 2^(i % 32) end
print(bit.bor(unpack(many)), bit.band(unpack(many)), bit.bxor(unpack(many)))

local shifts = {0, 1, 4, 8, 16, 31, 32, 33, 36, -1, -4, 63, 64, 2^32+1, 1.5, 2.5, "3"}
for _, x in ipairs{1, -1, 0x12345678, 0x80000000, -256, 0xdeadbeef} do
  for _, n in ipairs(shifts) do
    print(x, n, bit.lshift(x, n), bit.rshift(x, n), bit.arshift(x, n),
      bit.rol(x, n), bit.ror(x, n))
  end
end

local ns = {0, 1, 2, 3, 4, 7, 8, 9, 12, 15, 16, 17, 20, 30, 100, 254, 255, 256,
  257, 300, 511, 512, -1, -2, -4, -8, -9, -16, -17, -255, -256, -300,
  2^31-1, -2^31, 2^32, 2^32+3, 0.5, 1.5, 2.5, -0.5, -1.5, "4", "-4"}
for _, x in ipairs{0, 1, -1, -2, 255, 0x12345678, 0xabcdef, 0x80000000} do
  for _, n in ipairs(ns) do
    print("tohex", x, n, bit.tohex(x, n))
  end
end
print(bit.tohex(0xdeadbeef), bit.tohex(-1), bit.tohex("255"), bit.tohex(2^32+10))

-- Errors (non-tail calls so luajit names the function).
local function try(f, ...)
  local ok, e = pcall(f, ...)
  print(ok, e)
end
try(function() local r = bit.band() return r end)
try(function() local r = bit.bor() return r end)
try(function() local r = bit.bxor(1, 2, nil) return r end)
try(function() local r = bit.band(1, "x") return r end)
try(function() local r = bit.band(1, 2, 3, {}) return r end)
try(function() local r = bit.tobit() return r end)
try(function() local r = bit.tobit("abc") return r end)
try(function() local r = bit.tobit("1LL") return r end)
try(function() local r = bit.tobit("1i") return r end)
try(function() local r = bit.tobit(true) return r end)
try(function() local r = bit.tobit(nil) return r end)
try(function() local r = bit.bnot({}) return r end)
try(function() local r = bit.bswap(print) return r end)
try(function() local r = bit.lshift(1) return r end)
try(function() local r = bit.rshift(nil, 1) return r end)
try(function() local r = bit.arshift(1, "z") return r end)
try(function() local r = bit.rol(1, false) return r end)
try(function() local r = bit.ror() return r end)
try(function() local r = bit.tohex() return r end)
try(function() local r = bit.tohex(1, nil) return r end)
try(function() local r = bit.tohex(1, "a") return r end)
try(function() local r = bit.tohex({}, 2) return r end)
try(function() local r = bit:band(1) return r end)
try(function() local r = bit:tohex() return r end)
try(bit.band)
try(bit.tohex, 1, {})
try(bit.lshift, "x", 1)
print(select("#", bit.band(1, 2)), select("#", bit.tohex(1)))
