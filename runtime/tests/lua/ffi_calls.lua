-- C calls into libc and libm: every argument class, structs by value, varargs,
-- callbacks (qsort with a Lua comparator, and one that raises an error), errno.
local ffi = require("ffi")
ffi.cdef[[
int abs(int); long labs(long); long long llabs(long long);
int toupper(int); size_t strlen(const char *); int strcmp(const char *, const char *);
char *strchr(const char *, int); void *memset(void *, int, size_t);
int memcmp(const void *, const void *, size_t);
long strtol(const char *, char **, int); double strtod(const char *, char **);
int snprintf(char *, size_t, const char *, ...);
typedef struct { int quot, rem; } div_t;
typedef struct { long quot, rem; } ldiv_t;
div_t div(int, int); ldiv_t ldiv(long, long);
void qsort(void *, size_t, size_t, int (*)(const void *, const void *));
double sqrt(double); float sqrtf(float); double ldexp(double, int);
double frexp(double, int *); double fma(double, double, double); double pow(double, double);
double cabs(complex double); complex double csqrt(complex double);
]]
local C = ffi.C
local M = ffi.load("m")

print(C.abs(-7), C.labs(-8), C.llabs(-9000000000LL))
print(C.toupper(string.byte("q")), C.strlen("hello"), C.strcmp("a", "b") < 0)
print(ffi.string(C.strchr("find the dot.here", 46)))
print(C.strchr("abc", 120) == nil)
local buf = ffi.new("char[8]")
C.memset(buf, 65, 7)
print(ffi.string(buf), C.memcmp("abc", "abd", 3) < 0)
local endp = ffi.new("char *[1]")
print(C.strtol("  123xyz", endp, 10), ffi.string(endp[0]))
print(C.strtod("2.5e3rest", nil))
ffi.errno(0)
print(C.strtol("99999999999999999999", nil, 10), ffi.errno())

local d = C.div(17, 5)
print(d.quot, d.rem, ffi.typeof(d))
local ld = C.ldiv(-17, 5)
print(ld.quot, ld.rem)

local out = ffi.new("char[64]")
local n = C.snprintf(out, 64, "%d|%5.2f|%s|%lld|%c|%g", ffi.new("int", 42), 3.14159, "str",
  -5LL, ffi.new("int", 90), 1e100)
print(n, ffi.string(out))
n = C.snprintf(out, 64, "%.1f %.1f %.1f %.1f %.1f %.1f %.1f %.1f %.1f", 1, 2, 3, 4, 5, 6, 7, 8, 9)
print(n, ffi.string(out))

print(M.sqrt(2), M.sqrtf(2), M.ldexp(0.75, 4), M.pow(2, 0.5) == M.sqrt(2))
local e = ffi.new("int[1]")
print(M.frexp(48, e), e[0])
print(M.fma(2, 3, 4))
print(M.cabs(ffi.new("complex double", 3, 4)))
local z = M.csqrt(ffi.new("complex double", -4, 0))
print(z.re, z.im)

-- qsort with a Lua comparator.
local arr = ffi.new("int[10]", 5, 3, 9, 1, 7, 2, 8, 6, 0, 4)
C.qsort(arr, 10, 4, function(a, b)
  local x, y = ffi.cast("const int *", a)[0], ffi.cast("const int *", b)[0]
  return x < y and -1 or (x > y and 1 or 0)
end)
local t = {}
for i = 0, 9 do t[#t + 1] = arr[i] end
print(table.concat(t, " "))
-- A descending sort through a callback made with ffi.cast, then freed.
local desc = ffi.cast("int (*)(const void *, const void *)", function(a, b)
  return ffi.cast("const int *", b)[0] - ffi.cast("const int *", a)[0]
end)
C.qsort(arr, 10, 4, desc)
desc:free()
t = {}
for i = 0, 9 do t[#t + 1] = arr[i] end
print(table.concat(t, " "))
-- An error in the comparator comes out of qsort.
print(pcall(C.qsort, arr, 10, 4, function(a, b) error("no comparisons today") end))
print(pcall(C.abs, "x"))
print(pcall(C.abs))
print(pcall(ffi.load, "moonjet_missing_library"))
