/* Records GCC's layouts of the declarations in cases.h as the Rust table in
 * ../gcc_layouts.rs. Regenerate with:
 *     gcc -std=gnu11 -o /tmp/gen gen.c && /tmp/gen
 * and paste the output over the EXPECTED table (on x86-64 Linux; the values also hold
 * for aarch64 Linux except where char signedness shows, which no case depends on).
 * A member's position is printed in bits from the start of the struct, with its width
 * in bits for bitfields (0 for ordinary members). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "cases.h"

/* The bits a bitfield occupies: set it to all ones in a zeroed object, find the run. */
#define BITS(K, T, f)                                                                    \
    do {                                                                              \
        union { K T s; unsigned char b[sizeof(K T)]; } u;                             \
        memset(&u, 0, sizeof u);                                                      \
        u.s.f = -1;                                                                   \
        int first = -1, last = -1;                                                    \
        for (int i = 0; i < (int)sizeof(K T) * 8; i++)                                 \
            if (u.b[i / 8] >> (i % 8) & 1) { if (first < 0) first = i; last = i; }    \
        printf("(\"%s\", %d, %d), ", #f, first, last - first + 1);                    \
    } while (0)
#define FIELD(K, T, f) printf("(\"%s\", %zu, 0), ", #f, offsetof(K T, f) * 8)
#define BEGIN(K, T) printf("    (\"%s %s\", %zu, %zu, &[", #K, #T, sizeof(K T), _Alignof(K T))
#define END() printf("]),\n")

int main(void) {
    BEGIN(struct, t01); FIELD(struct, t01, a); FIELD(struct, t01, b); FIELD(struct, t01, c); END();
    BEGIN(struct, t02); FIELD(struct, t02, a); FIELD(struct, t02, b); FIELD(struct, t02, c); END();
    BEGIN(struct, t03); FIELD(struct, t03, a); FIELD(struct, t03, b); FIELD(struct, t03, c); END();
    BEGIN(struct, t04); FIELD(struct, t04, a); FIELD(struct, t04, in); FIELD(struct, t04, b); END();
    BEGIN(struct, t05); FIELD(struct, t05, a); FIELD(struct, t05, u); FIELD(struct, t05, e); END();
    BEGIN(struct, t06); FIELD(struct, t06, a); FIELD(struct, t06, x); FIELD(struct, t06, b); END();
    BEGIN(union, t07); FIELD(union, t07, a); FIELD(union, t07, b); FIELD(union, t07, c); END();
    BEGIN(struct, t08); FIELD(struct, t08, n); FIELD(struct, t08, items); END();
    BEGIN(struct, t09); FIELD(struct, t09, c); FIELD(struct, t09, d); END();
    BEGIN(struct, t10); FIELD(struct, t10, a); FIELD(struct, t10, b); END();
    BEGIN(struct, t11); FIELD(struct, t11, e); FIELD(struct, t11, c); FIELD(struct, t11, f); END();
    BEGIN(struct, t12); FIELD(struct, t12, cb); FIELD(struct, t12, a); FIELD(struct, t12, fp); END();
    BEGIN(struct, t13); FIELD(struct, t13, arr); FIELD(struct, t13, tail); END();
    BEGIN(struct, t14); BITS(struct, t14, a); BITS(struct, t14, b); BITS(struct, t14, c); END();
    BEGIN(struct, t15); BITS(struct, t15, a); BITS(struct, t15, b); BITS(struct, t15, c); END();
    BEGIN(struct, t16); BITS(struct, t16, a); BITS(struct, t16, b); BITS(struct, t16, c); BITS(struct, t16, d); END();
    BEGIN(struct, t17); BITS(struct, t17, a); BITS(struct, t17, b); FIELD(struct, t17, c); END();
    BEGIN(struct, t18); FIELD(struct, t18, a); BITS(struct, t18, b); BITS(struct, t18, c); END();
    BEGIN(struct, t19); BITS(struct, t19, a); BITS(struct, t19, b); BITS(struct, t19, c); BITS(struct, t19, d); END();
    BEGIN(struct, t20); BITS(struct, t20, a); BITS(struct, t20, b); FIELD(struct, t20, c); BITS(struct, t20, d); END();
    BEGIN(struct, t21); BITS(struct, t21, a); BITS(struct, t21, c); END();
    BEGIN(struct, t22); BITS(struct, t22, a); BITS(struct, t22, c); END();
    BEGIN(struct, t23); FIELD(struct, t23, a); FIELD(struct, t23, b); END();
    BEGIN(struct, t24); FIELD(struct, t24, a); FIELD(struct, t24, b); END();
    BEGIN(union, t25); BITS(union, t25, a); BITS(union, t25, b); END();
    BEGIN(struct, t26); FIELD(struct, t26, a); FIELD(struct, t26, b); FIELD(struct, t26, c); END();
    BEGIN(struct, t27); FIELD(struct, t27, a); FIELD(struct, t27, b); END();
    BEGIN(struct, t28); FIELD(struct, t28, a); FIELD(struct, t28, b); FIELD(struct, t28, c); END();
    BEGIN(struct, t29); BITS(struct, t29, a); BITS(struct, t29, b); BITS(struct, t29, c); BITS(struct, t29, d); END();
    BEGIN(struct, t30); FIELD(struct, t30, a); BITS(struct, t30, b); END();
    BEGIN(struct, t31); FIELD(struct, t31, a); FIELD(struct, t31, b); END();
    BEGIN(struct, t32); FIELD(struct, t32, a); FIELD(struct, t32, b); END();
    BEGIN(struct, t33); FIELD(struct, t33, a); FIELD(struct, t33, b); END();
    BEGIN(struct, t34); FIELD(struct, t34, a); FIELD(struct, t34, b); END();
    BEGIN(struct, t35); BITS(struct, t35, a); FIELD(struct, t35, b); END();
    BEGIN(struct, t36); BITS(struct, t36, a); BITS(struct, t36, b); END();
    BEGIN(struct, t37); FIELD(struct, t37, a); FIELD(struct, t37, b); FIELD(struct, t37, c); END();
    BEGIN(struct, t38); FIELD(struct, t38, a); FIELD(struct, t38, b); FIELD(struct, t38, c); END();
    BEGIN(struct, t39); FIELD(struct, t39, a); FIELD(struct, t39, y); END();
    BEGIN(struct, t40); FIELD(struct, t40, a); BITS(struct, t40, b); BITS(struct, t40, c); END();
    BEGIN(struct, t41); FIELD(struct, t41, a); FIELD(struct, t41, b); FIELD(struct, t41, c); END();
    BEGIN(struct, t42); FIELD(struct, t42, a); FIELD(struct, t42, z); FIELD(struct, t42, f); END();
    BEGIN(struct, t43); FIELD(struct, t43, a); FIELD(struct, t43, v); END();
    BEGIN(struct, t44); FIELD(struct, t44, a); FIELD(struct, t44, b); FIELD(struct, t44, c); END();
    BEGIN(struct, t45); FIELD(struct, t45, a); FIELD(struct, t45, s); FIELD(struct, t45, b); END();
    BEGIN(struct, t46); BITS(struct, t46, a); BITS(struct, t46, b); BITS(struct, t46, c); FIELD(struct, t46, d); END();
    return 0;
}
