/* A C library for moonjet's FFI tests: every argument and result class of the
   x86-64 and AArch64 C ABIs, varargs, and functions that call back into Lua. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <complex.h>
#include <pthread.h>

typedef struct { int32_t a, b; } pair_i;             /* one INTEGER eightbyte */
typedef struct { double x; int32_t n; } dbl_int;     /* SSE + INTEGER */
typedef struct { float x, y, z; } vec3f;             /* SSE, SSE; an HFA of 3 */
typedef struct { double x, y; } vec2d;               /* SSE, SSE; an HFA of 2 */
typedef struct { int64_t a, b, c; double d; } big;   /* memory (32 bytes) */
typedef struct { char tag; int16_t s; uint8_t bytes[5]; } odd; /* 10 bytes, packed-ish */
typedef union { int64_t i; double d; } num_u;
typedef struct { char name[20]; } name20;            /* 20 bytes: memory / by reference */
typedef enum { RED = 1, GREEN = 2, BLUE = 4 } colour;

int8_t widen_i8(int8_t x) { return x; }
uint8_t widen_u8(uint8_t x) { return x; }
int16_t widen_i16(int16_t x) { return x; }
uint16_t widen_u16(uint16_t x) { return x; }
int32_t neg_i32(int32_t x) { return -x; }
uint32_t not_u32(uint32_t x) { return ~x; }
int64_t mul_i64(int64_t a, int64_t b) { return a * b; }
uint64_t add_u64(uint64_t a, uint64_t b) { return a + b; }
bool is_even(int x) { return x % 2 == 0; }
bool both(bool a, bool b) { return a && b; }
float half_f(float x) { return x / 2; }
double mix(int8_t a, uint16_t b, float c, double d, int64_t e, const char *s) {
  return a + b + c + d + (double)e + (double)strlen(s);
}
/* More arguments than registers: 10 integers and 10 doubles. */
double many(int a1, int a2, int a3, int a4, int a5, int a6, int a7, int a8, int a9, int a10,
            double d1, double d2, double d3, double d4, double d5, double d6, double d7,
            double d8, double d9, double d10) {
  return a1 + 2*a2 + 3*a3 + 4*a4 + 5*a5 + 6*a6 + 7*a7 + 8*a8 + 9*a9 + 10*a10
       + d1 + 2*d2 + 3*d3 + 4*d4 + 5*d5 + 6*d6 + 7*d7 + 8*d8 + 9*d9 + 10*d10;
}
colour next_colour(colour c) { return c == BLUE ? RED : (colour)(c * 2); }
int sum_ptr(const int *p, int n) { int s = 0; for (int i = 0; i < n; i++) s += p[i]; return s; }
void fill_out(int *out, int v) { *out = v; }

pair_i make_pair(int a, int b) { pair_i p = { a, b }; return p; }
int pair_diff(pair_i p) { return p.a - p.b; }
dbl_int make_dbl_int(double x, int n) { dbl_int r = { x, n }; return r; }
double dbl_int_prod(dbl_int v) { return v.x * v.n; }
vec3f scale3(vec3f v, float k) { vec3f r = { v.x * k, v.y * k, v.z * k }; return r; }
vec2d add2(vec2d a, vec2d b) { vec2d r = { a.x + b.x, a.y + b.y }; return r; }
big make_big(int64_t a, double d) { big r = { a, a + 1, a + 2, d }; return r; }
double big_sum(big b) { return (double)(b.a + b.b + b.c) + b.d; }
odd make_odd(char tag, int16_t s) { odd r = { tag, s, { 1, 2, 3, 4, 5 } }; return r; }
int odd_sum(odd o) { int s = o.tag + o.s; for (int i = 0; i < 5; i++) s += o.bytes[i]; return s; }
num_u as_union(double d) { num_u u; u.d = d; return u; }
int64_t union_bits(num_u u) { return u.i; }
name20 make_name(const char *s) { name20 n; memset(&n, 0, sizeof n); strncpy(n.name, s, 19); return n; }
int name_len(name20 n) { return (int)strlen(n.name); }
/* A struct that no longer fits in registers after five integer arguments. */
int64_t late_pair(int a, int b, int c, int d, int e, vec2d v, int f) {
  return a + b + c + d + e + (int64_t)(v.x * 10 + v.y) + f * 1000;
}
double complex cmul(double complex a, double complex b) { return a * b; }
float complex cconjf_(float complex a) { return conjf(a); }

/* Varargs: `count` values of the kinds `fmt` names ('i' int, 'd' double, 'l' int64,
   's' string), summed (strings count their length). */
double vsum(const char *fmt, ...) {
  va_list ap; double s = 0;
  va_start(ap, fmt);
  for (const char *f = fmt; *f; f++) {
    switch (*f) {
      case 'i': s += va_arg(ap, int); break;
      case 'd': s += va_arg(ap, double); break;
      case 'l': s += (double)va_arg(ap, int64_t); break;
      case 's': s += (double)strlen(va_arg(ap, const char *)); break;
    }
  }
  va_end(ap);
  return s;
}

/* Callbacks. */
typedef int (*int_fn)(int);
typedef double (*mix_fn)(int8_t, uint32_t, float, double, int64_t, const char *);
typedef void (*void_fn)(void);
int apply_n(int_fn f, int n) { int s = 0; for (int i = 0; i < n; i++) s += f(i); return s; }
double call_mix(mix_fn f) { return f(-5, 4000000000u, 1.5f, 2.25, -123456789012LL, "hey"); }
static int_fn saved;
void save_fn(int_fn f) { saved = f; }
int call_saved(int x) { return saved(x); }
static void *thread_main(void *arg) { (void)arg; return (void *)(intptr_t)saved(7); }
int call_saved_in_thread(void) {
  pthread_t t; void *r;
  if (pthread_create(&t, 0, thread_main, 0) != 0) return -1;
  pthread_join(t, &r);
  return (int)(intptr_t)r;
}
void call_void(void_fn f, int times) { for (int i = 0; i < times; i++) f(); }
