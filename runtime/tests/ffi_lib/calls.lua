-- C calls into tests/ffi_lib/testlib.c (built by the test; its path is LIBPATH).
-- Every check is an assert; the last line prints "ok".
local ffi = require("ffi")
ffi.cdef[[
typedef struct { int32_t a, b; } pair_i;
typedef struct { double x; int32_t n; } dbl_int;
typedef struct { float x, y, z; } vec3f;
typedef struct { double x, y; } vec2d;
typedef struct { int64_t a, b, c; double d; } big;
typedef struct { char tag; int16_t s; uint8_t bytes[5]; } odd;
typedef union { int64_t i; double d; } num_u;
typedef struct { char name[20]; } name20;
typedef enum { RED = 1, GREEN = 2, BLUE = 4 } colour;
int8_t widen_i8(int8_t x); uint8_t widen_u8(uint8_t x);
int16_t widen_i16(int16_t x); uint16_t widen_u16(uint16_t x);
int32_t neg_i32(int32_t x); uint32_t not_u32(uint32_t x);
int64_t mul_i64(int64_t a, int64_t b); uint64_t add_u64(uint64_t a, uint64_t b);
bool is_even(int x); bool both(bool a, bool b); float half_f(float x);
double mix(int8_t a, uint16_t b, float c, double d, int64_t e, const char *s);
double many(int a1, int a2, int a3, int a4, int a5, int a6, int a7, int a8, int a9, int a10,
            double d1, double d2, double d3, double d4, double d5, double d6, double d7,
            double d8, double d9, double d10);
colour next_colour(colour c);
int sum_ptr(const int *p, int n); void fill_out(int *out, int v);
pair_i make_pair(int a, int b); int pair_diff(pair_i p);
dbl_int make_dbl_int(double x, int n); double dbl_int_prod(dbl_int v);
vec3f scale3(vec3f v, float k); vec2d add2(vec2d a, vec2d b);
big make_big(int64_t a, double d); double big_sum(big b);
odd make_odd(char tag, int16_t s); int odd_sum(odd o);
num_u as_union(double d); int64_t union_bits(num_u u);
name20 make_name(const char *s); int name_len(name20 n);
int64_t late_pair(int a, int b, int c, int d, int e, vec2d v, int f);
complex double cmul(complex double a, complex double b);
complex float cconjf_(complex float a);
double vsum(const char *fmt, ...);
typedef int (*int_fn)(int);
typedef double (*mix_fn)(int8_t, uint32_t, float, double, int64_t, const char *);
typedef void (*void_fn)(void);
int apply_n(int_fn f, int n); double call_mix(mix_fn f);
void save_fn(int_fn f); int call_saved(int x); int call_saved_in_thread(void);
void call_void(void_fn f, int times);
]]
local L = ffi.load(LIBPATH)

-- Integers: narrow types come back sign- or zero-extended.
assert(L.widen_i8(-1) == -1 and L.widen_i8(200) == -56)
assert(L.widen_u8(-1) == 255 and L.widen_i16(-2) == -2 and L.widen_u16(70000) == 4464)
assert(L.neg_i32(5) == -5 and L.not_u32(0) == 4294967295)
assert(L.mul_i64(3000000000LL, 3) == 9000000000LL)
assert(tostring(L.add_u64(-1LL, 2)) == "1ULL")
assert(L.is_even(4) == true and L.is_even(3) == false)
assert(L.both(true, true) == true and L.both(true, false) == false)
assert(L.half_f(3) == 1.5)
assert(L.mix(-3, 65535, 0.5, 0.25, 1000000000000LL, "four") == -3 + 65535 + 0.75 + 1e12 + 4)
assert(L.many(1,2,3,4,5,6,7,8,9,10, 1,2,3,4,5,6,7,8,9,10) == 770)
assert(tonumber(L.next_colour(L.RED)) == 2 and tonumber(L.next_colour("BLUE")) == 1)
local arr = ffi.new("int[4]", 1, 2, 3, 4)
assert(L.sum_ptr(arr, 4) == 10)
local out = ffi.new("int[1]")
L.fill_out(out, 42); assert(out[0] == 42)

-- Structs and unions by value, both ways.
local p = L.make_pair(7, 3)
assert(p.a == 7 and p.b == 3 and L.pair_diff(p) == 4)
assert(L.pair_diff(ffi.new("pair_i", 10, 4)) == 6 and L.pair_diff({20, 5}) == 15)
local di = L.make_dbl_int(2.5, 4)
assert(di.x == 2.5 and di.n == 4 and L.dbl_int_prod(di) == 10)
local v = L.scale3(ffi.new("vec3f", 1, 2, 3), 2)
assert(v.x == 2 and v.y == 4 and v.z == 6)
local s2 = L.add2(ffi.new("vec2d", 1, 2), ffi.new("vec2d", 10, 20))
assert(s2.x == 11 and s2.y == 22)
local b = L.make_big(100, 0.5)
assert(b.a == 100 and b.b == 101 and b.c == 102 and b.d == 0.5 and L.big_sum(b) == 303.5)
local o = L.make_odd(65, -300)
assert(o.tag == 65 and o.s == -300 and o.bytes[4] == 5 and L.odd_sum(o) == 65 - 300 + 15)
local u = L.as_union(1.0)
assert(u.i == 0x3ff0000000000000LL and L.union_bits(u) == 0x3ff0000000000000LL)
local n = L.make_name("hello")
assert(ffi.string(n.name) == "hello" and L.name_len(n) == 5)
assert(L.late_pair(1, 2, 3, 4, 5, ffi.new("vec2d", 6, 7), 8) == 15 + 67 + 8000)
local c = L.cmul(ffi.new("complex double", 1, 2), ffi.new("complex double", 3, 4))
assert(c.re == -5 and c.im == 10)
local cf = L.cconjf_(ffi.new("complex float", 1.5, 2))
assert(cf.re == 1.5 and cf.im == -2)

-- Varargs: numbers pass as double, strings as const char *, int64 as int64.
assert(L.vsum("ddd", 1, 2.5, 3) == 6.5)
assert(L.vsum("idls", ffi.new("int", 5), 0.5, 10LL, "abc") == 18.5)
assert(L.vsum("dddddddddd", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10) == 55)
assert(L.vsum("") == 0)

-- Callbacks: implicit, cast, free and set.
assert(L.apply_n(function(i) return i * i end, 4) == 14)
local got
local r = L.call_mix(function(a, b, c, d, e, s)
  got = { a, b, c, d, e, ffi.string(s) }
  return 0.5
end)
assert(r == 0.5 and got[1] == -5 and got[2] == 4000000000 and got[3] == 1.5 and got[4] == 2.25)
assert(got[5] == -123456789012LL and got[6] == "hey")
local cb = ffi.cast("int_fn", function(x) return x + 1 end)
L.save_fn(cb)
assert(L.call_saved(41) == 42)
cb:set(function(x) return x * 2 end)
assert(L.call_saved(21) == 42)
local calls = 0
L.call_void(function() calls = calls + 1 end, 3)
assert(calls == 3)

-- An error in a callback is raised where the C call was made; C gets 0 meanwhile.
local ok, err = pcall(L.apply_n, function(i) if i == 2 then error("boom at " .. i) end return 1 end, 5)
assert(not ok and err:match("boom at 2$"), err)
ok, err = pcall(L.apply_n, function(i) return "not a number" end, 1)
assert(not ok and err:match("cannot convert 'string' to 'int'$"), err)
-- A call from another thread is refused and reported.
ok, err = pcall(L.call_saved_in_thread)
assert(not ok and err:match("foreign thread"), err)
assert(L.call_saved(5) == 10)   -- the state is fine afterwards
-- A freed callback is "bad callback", for Lua and for C.
cb:free()
ok, err = pcall(cb.free, cb)
assert(not ok and err:match("bad callback"), err)
ok, err = pcall(L.call_saved, 1)
assert(not ok and err == "bad callback", err)

-- Argument errors.
ok, err = pcall(L.neg_i32, "x")
assert(not ok and err:match("bad argument #1 to '%?' %(cannot convert 'string' to 'int'%)"), err)
ok, err = pcall(L.neg_i32)
assert(not ok and err:match("wrong number of arguments for function call"), err)
ok, err = pcall(L.neg_i32, 1, 2)
assert(not ok and err:match("wrong number of arguments for function call"), err)
-- A missing symbol and a missing library are errors.
ffi.cdef "int no_such_function_here(int);"
ok, err = pcall(function() return L.no_such_function_here end)
assert(not ok and err:match("undefined symbol: no_such_function_here"), err)
ok, err = pcall(ffi.load, "moonjet_no_such_library")
assert(not ok and err:match("libmoonjet_no_such_library.so: cannot open shared object file"), err)
print("ok")
