/* Declarations whose layouts tests/gcc_layouts.rs checks against GCC's. Parsed both by
 * gcc (through gen.c) and by moonjet-ffi's cdef (the test reads this file). */
struct t01 { char a; int b; short c; };
struct t02 { char a; double b; char c; };
struct t03 { short a; char b[3]; long long c; };
struct t04 { char a; struct { short x; char y; } in; char b; };
struct t05 { int a; union { char c; double d; } u; char e; };
struct t06 { char a; struct { int x; }; char b; };
union t07 { char a; int b; short c[3]; };
struct t08 { int n; int items[]; };
struct t09 { char c; double d[]; };
struct t10 { char a; long double b; };
struct t11 { enum { T11A, T11B } e; char c; enum t11e { T11C = 300 } f; };
struct t12 { void (*cb)(int); char a; int (*fp[2])(double, ...); };
struct t13 { struct t01 arr[3]; char tail; };
struct t14 { unsigned a:1, b:2, c:3; };
struct t15 { unsigned a:17, b:16, c:17; };
struct t16 { char a:7; int b:7; char c:7; int d:10; };
struct t17 { short a:9; int b:9; char c; };
struct t18 { char a; int b:7; int c:30; };
struct t19 { int a:3; unsigned b:5; signed char c:4; unsigned short d:12; };
struct t20 { _Bool a:1, b:1; char c; _Bool d:1; };
struct t21 { unsigned a:16, :16, c:16; };
struct t22 { unsigned a:20, :0, c:4; };
struct t23 { char a; int :0; char b; };
struct t24 { char a; int :3; char b; };
union t25 { char a:3; int b:9; };
struct __attribute__((packed)) t26 { char a; int b; short c; };
struct t27 { char a; int b; } __attribute__((packed));
struct t28 { char a; int b __attribute__((packed)); short c; };
struct __attribute__((packed)) t29 { char a:7; int b:7; char c:7; int d:10; };
struct __attribute__((packed)) t30 { char a[3]; int b:26; };
struct t31 { char a; int b __attribute__((aligned(16))); };
struct __attribute__((aligned(16))) t32 { char a; int b; };
struct t33 { char a; int b; } __attribute__((aligned(8)));
struct __attribute__((packed, aligned(2))) t34 { char a; int b; };
struct t35 { _Bool a:1; int b __attribute__((aligned(8))); };
struct __attribute__((packed)) t36 { _Bool a:1; _Bool b:1 __attribute__((aligned(2))); };
#pragma pack(push, 1)
struct t37 { char a; int b; short c; };
#pragma pack(pop)
#pragma pack(push, 2)
struct t38 { char a; int b; double c; };
struct t39 { char a; int y __attribute__((aligned(8))); };
struct t40 { char a; int b:7; int c:30; };
#pragma pack(pop)
#pragma pack(4)
struct t41 { char a; double b; char c; };
#pragma pack()
struct t42 { char a; _Complex double z; float _Complex f; };
struct t43 { char a; float __attribute__((vector_size(16))) v; };
typedef int int_al8 __attribute__((aligned(8)));
struct t44 { char a; int_al8 b; char c; };
struct t45 { char a; struct t32 s; char b; };
struct t46 { unsigned char a:4; unsigned short b:10; unsigned c:20; unsigned long long d; };
