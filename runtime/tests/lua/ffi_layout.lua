-- Layouts through ffi.sizeof/alignof/offsetof (luajit's answers are gcc's), type names
-- and tostring of ctypes and cdata (compared with luajit's output).
ffi = require("ffi")

local function show(...)
  local out = {}
  for i = 1, select("#", ...) do
    out[#out + 1] = (tostring((select(i, ...))):gsub("0x%x+", "ADDR"))
  end
  print(table.concat(out, " | "))
end

ffi.cdef[[
struct lay_a { char c; int i; short s; double d; char tail; };
struct lay_b { char c; struct { short s; char cc; } inner; long long ll; };
union lay_u { char c[5]; int i; double d; };
struct lay_bits { unsigned a:3; unsigned b:5; int c:7; unsigned d:20; char e; unsigned f:1; };
struct lay_anon { int x; union { int u1; float u2; }; struct { char s1, s2; }; };
struct lay_packed { char c; int i; } __attribute__((packed));
#pragma pack(push, 2)
struct lay_pack2 { char c; double d; };
#pragma pack(pop)
struct lay_aligned { char c; int i __attribute__((aligned(16))); };
struct lay_flex { int n; double d[]; };
struct lay_vls { int n; short s[?]; };
typedef int lay_arr[3][4];
]]

for _, t in ipairs{"struct lay_a", "struct lay_b", "union lay_u", "struct lay_bits", "struct lay_anon",
    "struct lay_packed", "struct lay_pack2", "struct lay_aligned", "struct lay_flex", "lay_arr",
    "bool", "char", "short", "long", "long long", "float", "double", "long double", "void *",
    "complex", "complex float", "size_t", "wchar_t", "int (*)(int)"} do
  show(t, ffi.sizeof(t), ffi.alignof(t))
end
for _, f in ipairs{"c", "i", "s", "d", "tail"} do show("lay_a", f, ffi.offsetof("struct lay_a", f)) end
for _, f in ipairs{"c", "inner", "ll"} do show("lay_b", f, ffi.offsetof("struct lay_b", f)) end
for _, f in ipairs{"a", "b", "c", "d", "e", "f"} do show("lay_bits", f, ffi.offsetof("struct lay_bits", f)) end
for _, f in ipairs{"x", "u1", "u2", "s1", "s2"} do show("lay_anon", f, ffi.offsetof("struct lay_anon", f)) end
show(ffi.offsetof("struct lay_packed", "i"), ffi.offsetof("struct lay_pack2", "d"), ffi.offsetof("struct lay_aligned", "i"), ffi.offsetof("struct lay_flex", "d"), ffi.offsetof("struct lay_a", "nope"))
show(ffi.sizeof("struct lay_vls", 5), ffi.sizeof("int[?]", 10), ffi.sizeof(ffi.new("struct lay_vls", 3)), ffi.sizeof("int[?]", -1))
show(pcall(ffi.sizeof, "int[?]"))

-- Bitfields through a cdata.
do
  local b = ffi.new("struct lay_bits")
  b.a, b.b, b.c, b.d, b.e, b.f = 9, 31, -5, 0xfffff, 65, 1
  show(b.a, b.b, b.c, b.d, b.e, b.f)
  b.c = 64
  show(b.c, b.a, b.b)
  local a = ffi.new("struct lay_anon", {x = 1, u1 = 2, s2 = 3})
  show(a.x, a.u1, a.s1, a.s2)
end

-- Type names and tostring forms.
for _, t in ipairs{"int", "const char *", "int [3]", "int (*)[3]", "int *[3]", "struct lay_a", "struct lay_a *",
    "union lay_u", "lay_arr", "int (*)(int, double)", "void (*[2])(void)", "complex", "complex float",
    "struct { int x; }", "int &", "const int * const", "uint8_t", "unsigned long long", "int64_t"} do
  show(ffi.typeof(t))
end
show(1LL, -1LL, 18446744073709551615ULL, 1i, -1.5i, ffi.new("complex", 1, -0.0), ffi.new("complex", 1/0, 0/0))
show(ffi.new("int *"), ffi.cast("int *", 16), ffi.cast("char *", 2^40), ffi.cast("void *", -1))
show(tostring(ffi.new("int")):match("^cdata<int>: 0x%x+$") ~= nil, tostring(ffi.new("struct lay_a")):match("^cdata<struct lay_a>: ") ~= nil)
do
  local s = ffi.new("struct lay_b[1]")
  show(tostring(s[0]):match("^cdata<struct lay_b &>: ") ~= nil, tostring(s[0].inner):match("^cdata<struct %d+ &>: ") ~= nil, ffi.typeof(s[0]))
end
ffi.cdef"typedef enum { LAY_E0, LAY_E1 } lay_e;"
show(ffi.new("lay_e", 1), ffi.new("lay_e", "LAY_E1") == ffi.new("lay_e", 1), ffi.typeof("lay_e"))
