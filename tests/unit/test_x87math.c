/* SPDX-License-Identifier: GPL-2.0-or-later */
/* QUIRK(x87-libm), emu/x87math.c: the maths behind the guest's FSIN, FCOS,
 * FSINCOS, FPTAN, FPATAN, FYL2X, FYL2XP1 and F2XM1 is lbvm's, the same bits on
 * every host.
 *  - Results pinned bit for bit (from the x86_64 build; the arm64 build of
 *    scripts/cross-arm64.sh must give the same: a compiler that fused a
 *    multiply and an add would not), and a digest over 20000 arguments per
 *    function, from tiny to 2^70 and the hardest argument reduction known.
 *  - Special values: the NaN an invalid operation makes is the negative one
 *    on every host (arm64's FPU makes a positive one); NaNs pass quieted.
 *  - Within 1 unit in the last place of the C library for sin, cos, log and
 *    2^x, 2 for tan and atan2 (random arguments).
 *  - The whole process uses them (x87math_check), and Unicorn's x87
 *    instructions compute exactly what x87math_* compute; pow() of another
 *    base is the C library's.
 *  - QUIRK(fprem-fused), not fixed: Unicorn computes FPREM and FPREM1 as
 *    st0 - st1 * q in doubles, inside libunicorn; Debian's arm64 build fuses
 *    that into one multiply-add (GCC's default there), its amd64 build does
 *    not, so the remainder differs when st1 * q is inexact. lbvm cannot reach
 *    code inside the library; this pins the two known answers, says which
 *    this build gives, and fails on a third. */
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unicorn/unicorn.h>

#include "check.h"
#include "emu/x87math.h"

static double d(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }
static uint64_t b(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }

/* x, sin x, cos x, tan x, log |x|, atan2(x, 0.3) */
static const uint64_t pinned[][6] = {
    { 0x3fe0000000000000ull, 0x3fdeaee8744b05f0ull, 0x3fec1528065b7d50ull, 0x3fe17b4f5bf3474aull, 0xbfe62e42fefa39efull, 0x3ff07c6c6947a6a8ull },
    { 0xbfe8000000000000ull, 0xbfe5cffc16bf8f0dull, 0x3fe769fec655211full, 0xbfedcfa36110eeebull, 0xbfd269621134db92ull, 0xbff30b6d796a4da8ull },
    { 0x3fe921fb54442d18ull, 0x3fe6a09e667f3bccull, 0x3fe6a09e667f3bcdull, 0x3fefffffffffffffull, 0xbfceeb95b094c193ull, 0x3ff34b7a85467ddbull },
    { 0x3fe921fb54442d19ull, 0x3fe6a09e667f3bcdull, 0x3fe6a09e667f3bccull, 0x3ff0000000000001ull, 0xbfceeb95b094c18eull, 0x3ff34b7a85467ddcull },
    { 0x3ff0000000000000ull, 0x3feaed548f090ceeull, 0x3fe14a280fb5068cull, 0x3ff8eb245cbee3a5ull, 0x0000000000000000ull, 0x3ff4782cbabc8157ull },
    { 0x3ff921fb54442d18ull, 0x3ff0000000000000ull, 0x3c91a62633145c07ull, 0x434d02967c31cdb5ull, 0x3fdce6bb25aa1315ull, 0x3ff61d03090f6048ull },
    { 0xc000000000000000ull, 0xbfed18f6ead1b446ull, 0xbfdaa22657537205ull, 0x40017af62e0950f8ull, 0x3fe62e42fefa39efull, 0xbff6c020e7493378ull },
    { 0x400921fb54442d18ull, 0x3ca1a62633145c07ull, 0xbff0000000000000ull, 0xbca1a62633145c07ull, 0x3ff250d048e7a1bdull, 0x3ff79c0667f9f29bull },
    { 0x4024000000000000ull, 0xbfe1689ef5f34f52ull, 0xbfead9ac890c6b1full, 0x3fe4bf5f34be3782ull, 0x40026bb1bbb55516ull, 0x3ff8a7237b339feaull },
    { 0x4059000000000000ull, 0xbfe03425b78c4db8ull, 0x3feb981dbf665fdfull, 0xbfe2ca74d62b5d38ull, 0x40126bb1bbb55516ull, 0x3ff915b19c5070abull },
    { 0x40c81cd6c8b43958ull, 0xbfe687d5890974a5ull, 0x3fe6b94c3bbe24b8ull, 0xbfefba5836323a4dull, 0x4022d79559791e31ull, 0x3ff921e1d948c13full },
    { 0xc12e848000000000ull, 0x3fd6664b2568d867ull, 0x3fedf9df9906d32cull, 0x3fd7e9768ab734c0ull, 0x402ba18a998fffa0ull, 0xbff921fb03bc5548ull },
    { 0x430c6bf526340004ull, 0x3fe03ab66600ec7aull, 0xbfeb9441c6fa0530ull, 0xbfe2d4b412fb6879ull, 0x404144f69ff9ffc4ull, 0x3ff921fb54442d17ull },
    { 0x43d0000000000000ull, 0xbfe67e57355f0147ull, 0xbfe6c2b1f820c708ull, 0x3fef9fe5be664fa7ull, 0x40457cd0e7026820ull, 0x3ff921fb54442d18ull },
    { 0xc3dfffffffffffffull, 0xbfefa7299b17573dull, 0xbfc2ccaf641d4262ull, 0x401af0792001f856ull, 0x4045d589f2fe5107ull, 0xbff921fb54442d18ull },
    { 0x4480f0cf064dd592ull, 0xbfeb453ab76bf397ull, 0x3fe0be2cef01c8f4ull, 0xbffa0f79c1b6b257ull, 0x40495414621954feull, 0x3ff921fb54442d18ull },
    { 0x7506ac5b262ca1ffull, 0x3ff0000000000000ull, 0xbc214ae72e6ba22full, 0xc3bd9ba9a7975636ull, 0x408266a4f98a7d3full, 0x3ff921fb54442d18ull },
    { 0x7e37e43c8800759cull, 0xbfea2c16b010e385ull, 0xbfe2699022adc4c1ull, 0x3ff6be411f37ac76ull, 0x4085963447f87fb5ull, 0x3ff921fb54442d18ull },
    { 0x0000000000000001ull, 0x0000000000000001ull, 0x3ff0000000000000ull, 0x0000000000000001ull, 0xc0874385446d71c3ull, 0x0000000000000003ull },
    { 0xbe10000000000000ull, 0xbe10000000000000ull, 0x3ff0000000000000ull, 0xbe10000000000000ull, 0xc034cb5ecf0a9650ull, 0xbe2aaaaaaaaaaaabull },
    { 0x0000000000000000ull, 0x0000000000000000ull, 0x3ff0000000000000ull, 0x0000000000000000ull, 0xfff0000000000000ull, 0x0000000000000000ull },
    { 0x8000000000000000ull, 0x8000000000000000ull, 0x3ff0000000000000ull, 0x8000000000000000ull, 0xfff0000000000000ull, 0x8000000000000000ull },
};
/* x, 2^x */
static const uint64_t pinned_exp2[][2] = {
    { 0x3fe0000000000000ull, 0x3ff6a09e667f3bcdull },
    { 0xbfd0000000000000ull, 0x3feae89f995ad3adull },
    { 0x3fb999999999999aull, 0x3ff125fbee250664ull },
    { 0xc00a666666666666ull, 0x3fb9fdf8bcce533eull },
    { 0x4024000000000000ull, 0x4090000000000000ull },
    { 0x408fff3333333333ull, 0x7feddb680117aa8eull },
    { 0x4090000000000000ull, 0x7ff0000000000000ull },
    { 0xc08ff40000000000ull, 0x000b504f333f9de6ull },
    { 0xc090ca0000000000ull, 0x0000000000000001ull },
    { 0xc090cc0000000000ull, 0x0000000000000000ull },
    { 0xc090ce0000000000ull, 0x0000000000000000ull },
    { 0x3c30000000000000ull, 0x3ff0000000000000ull },
    { 0x8000000000000000ull, 0x3ff0000000000000ull },
};
/* digests of sin, cos, tan, atan2, log, 2^x over digest_args() */
static const uint64_t pinned_digest[6] = {
    0x04b07177bf1117ecull, 0x4df491b3dd70e542ull, 0xa7434a5360a74a4full,
    0x12f5448fdba509dbull, 0x858a6670ef55b2d5ull, 0x086a45681638e02cull,
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
/* a random double of either sign with exponent in [lo, lo + span) */
static double rnd_double(int lo, int span)
{
    return d((rnd() & 0x800fffffffffffffull) | ((uint64_t)(1023 + lo + (int)(rnd() % (uint64_t)span)) << 52));
}

static void digests(void)
{
    uint64_t h[6] = { 0 };
    rng = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 20000; i++) {
        double x = rnd_double(-40, 110), y = rnd_double(-40, 110), ax = x < 0 ? -x : x;
        uint64_t r[6] = { b(x87math_sin(x)), b(x87math_cos(x)), b(x87math_tan(x)), b(x87math_atan2(y, x)),
                          b(x87math_log(ax)), b(x87math_exp2(x / 64)) };
        for (int k = 0; k < 6; k++)
            h[k] = (h[k] ^ r[k]) * 0x100000001b3ull;
    }
    for (int k = 0; k < 6; k++) {
        if (h[k] != pinned_digest[k])
            fprintf(stderr, "digest %d: %#llx\n", k, (unsigned long long)h[k]);
        CHECK_EQ(h[k], pinned_digest[k]);
    }
}

static void pinned_values(void)
{
    for (size_t i = 0; i < sizeof pinned / sizeof pinned[0]; i++) {
        double x = d(pinned[i][0]), ax = x < 0 ? -x : x, s, c;
        CHECK_EQ(b(x87math_sin(x)), pinned[i][1]);
        CHECK_EQ(b(x87math_cos(x)), pinned[i][2]);
        CHECK_EQ(b(x87math_tan(x)), pinned[i][3]);
        CHECK_EQ(b(x87math_log(ax)), pinned[i][4]);
        CHECK_EQ(b(x87math_atan2(x, 0.3)), pinned[i][5]);
        x87math_sincos(x, &s, &c);
        CHECK_EQ(b(s), pinned[i][1]);
        CHECK_EQ(b(c), pinned[i][2]);
    }
    for (size_t i = 0; i < sizeof pinned_exp2 / sizeof pinned_exp2[0]; i++)
        CHECK_EQ(b(x87math_exp2(d(pinned_exp2[i][0]))), pinned_exp2[i][1]);
}

static void special_values(void)
{
    const uint64_t nan_invalid = 0xfff8000000000000ull, inf = 0x7ff0000000000000ull;
    const uint64_t snan = 0x7ff0000000000123ull, qnan = 0x7ff8000000000456ull;
    CHECK_EQ(b(x87math_sin(d(inf))), nan_invalid);
    CHECK_EQ(b(x87math_cos(d(inf | 1ull << 63))), nan_invalid);
    CHECK_EQ(b(x87math_tan(d(inf))), nan_invalid);
    CHECK_EQ(b(x87math_log(-1.0)), nan_invalid);
    CHECK_EQ(b(x87math_log(0.0)), inf | 1ull << 63);
    CHECK_EQ(b(x87math_log(-0.0)), inf | 1ull << 63);
    CHECK_EQ(b(x87math_log(d(inf))), inf);
    CHECK_EQ(b(x87math_log(1.0)), 0);
    CHECK_EQ(b(x87math_log(2.0)), 0x3fe62e42fefa39efull);      /* ln 2 rounded */
    CHECK_EQ(b(x87math_sin(d(snan))), snan | 0x0008000000000000ull);
    CHECK_EQ(b(x87math_log(d(qnan))), qnan);
    CHECK_EQ(b(x87math_exp2(d(qnan))), qnan);
    CHECK_EQ(b(x87math_exp2(d(inf))), inf);
    CHECK_EQ(b(x87math_exp2(d(inf | 1ull << 63))), 0);
    CHECK_EQ(b(x87math_atan2(d(qnan), d(snan))), snan | 0x0008000000000000ull);   /* x's NaN first, as glibc on x86 */
    CHECK_EQ(b(x87math_atan2(0.0, -0.0)), 0x400921fb54442d18ull);                /* pi */
    CHECK_EQ(b(x87math_atan2(-0.0, 1.0)), 1ull << 63);
    CHECK_EQ(b(x87math_atan2(d(inf), d(inf | 1ull << 63))), 0x4002d97c7f3321d2ull); /* 3 pi/4 */
    CHECK_EQ(b(x87math_atan2(-1.0, 0.0)), 0xbff921fb54442d18ull);                /* -pi/2 */
    for (int k = -1074; k < 1024; k += 7)                        /* integer powers of 2 are exact */
        CHECK_EQ(x87math_exp2(k), k < -1022 ? d(1ull << (k + 1074)) : d((uint64_t)(k + 1023) << 52));
}

static int64_t ordered(double x)
{
    int64_t i;
    memcpy(&i, &x, 8);
    return i < 0 ? INT64_MIN - i : i;
}
static uint64_t ulps(double a, double b)
{
    int64_t x = ordered(a) - ordered(b);
    return (uint64_t)(x < 0 ? -x : x);
}

static void accuracy(void)
{
    void *lm = dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL);
    CHECK(lm != NULL);
    if (!lm)
        return;
    double (*f[5])(double);
    double (*atan2_c)(double, double);
    const char *names[5] = { "sin", "cos", "tan", "log", "exp2" };
    for (int k = 0; k < 5; k++) {
        void *p = dlsym(lm, names[k]);
        memcpy(&f[k], &p, sizeof p);
        CHECK(p != NULL);
    }
    void *p = dlsym(lm, "atan2");
    memcpy(&atan2_c, &p, sizeof p);
    CHECK(p != NULL);
    uint64_t worst[6] = { 0 };
    rng = 12345;
    for (int i = 0; i < 30000; i++) {
        double x = rnd_double(i % 3 == 0 ? -30 : i % 3 == 1 ? -2 : 10, i % 3 == 2 ? 1000 : 30);
        double y = rnd_double(-20, 60), ax = x < 0 ? -x : x;
        double e = (double)(int64_t)(rnd() % 2100) - 1075 + (double)(rnd() >> 11) * 0x1p-53;
        uint64_t u[6] = { ulps(x87math_sin(x), f[0](x)), ulps(x87math_cos(x), f[1](x)), ulps(x87math_tan(x), f[2](x)),
                          ulps(x87math_log(ax), f[3](ax)), ulps(x87math_exp2(e), f[4](e)),
                          ulps(x87math_atan2(y, x), atan2_c(y, x)) };
        for (int k = 0; k < 6; k++)
            if (u[k] > worst[k])
                worst[k] = u[k];
    }
    printf("largest distance from the C library (ulp): sin %llu cos %llu tan %llu log %llu exp2 %llu atan2 %llu\n",
           (unsigned long long)worst[0], (unsigned long long)worst[1], (unsigned long long)worst[2],
           (unsigned long long)worst[3], (unsigned long long)worst[4], (unsigned long long)worst[5]);
    CHECK(worst[0] <= 1 && worst[1] <= 1 && worst[3] <= 1 && worst[4] <= 1);
    CHECK(worst[2] <= 2 && worst[5] <= 2);
    dlclose(lm);
}

/* One x87 instruction through Unicorn: ST1 = b, ST0 = a, the instruction,
 * then the stack stored back as two doubles (ST0 to out[0], ST1 to out[1]). */
static void x87(uc_engine *uc, const uint8_t op[2], double a, double bv, double out[2])
{
    static const uint8_t pre[] = { 0xdb, 0xe3,                          /* fninit */
                                   0xdd, 0x05, 0x08, 0x20, 0x00, 0x00,  /* fld qword [0x2008] */
                                   0xdd, 0x05, 0x00, 0x20, 0x00, 0x00 };/* fld qword [0x2000] */
    static const uint8_t post[] = { 0xdd, 0x1d, 0x10, 0x20, 0x00, 0x00,  /* fstp qword [0x2010] */
                                    0xdd, 0x1d, 0x18, 0x20, 0x00, 0x00 };/* fstp qword [0x2018] */
    uint8_t code[sizeof pre + 2 + sizeof post];
    memcpy(code, pre, sizeof pre);
    memcpy(code + sizeof pre, op, 2);
    memcpy(code + sizeof pre + 2, post, sizeof post);
    double in[2] = { a, bv };
    uc_mem_write(uc, 0x1000, code, sizeof code);
    uc_mem_write(uc, 0x2000, in, sizeof in);
    uc_err e = uc_emu_start(uc, 0x1000, 0x1000 + sizeof code, 0, 0);
    CHECK(e == UC_ERR_OK);
    uc_mem_read(uc, 0x2010, out, 16);
}

static void through_unicorn(void)
{
    uc_engine *uc;
    CHECK(uc_open(UC_ARCH_X86, UC_MODE_32, &uc) == UC_ERR_OK);
    CHECK(uc_mem_map(uc, 0x1000, 0x2000, UC_PROT_ALL) == UC_ERR_OK);
    static const uint8_t fsin[2] = { 0xd9, 0xfe }, fcos[2] = { 0xd9, 0xff }, fsincos[2] = { 0xd9, 0xfb },
                         fptan[2] = { 0xd9, 0xf2 }, fpatan[2] = { 0xd9, 0xf3 }, fyl2x[2] = { 0xd9, 0xf1 },
                         fyl2xp1[2] = { 0xd9, 0xf9 }, f2xm1[2] = { 0xd9, 0xf0 };
    rng = 777;
    int n = 0;
    for (int i = 0; i < 300; i++) {
        double x = rnd_double(-8, 70), y = rnd_double(-8, 20), r[2], s, c;
        x87(uc, fsin, x, y, r);
        n += b(r[0]) == b(x87math_sin(x));
        x87(uc, fcos, x, y, r);
        n += b(r[0]) == b(x87math_cos(x));
        x87(uc, fsincos, x, y, r);              /* ST0 cos, ST1 sin */
        x87math_sincos(x, &s, &c);
        n += b(r[0]) == b(c) && b(r[1]) == b(s);
        x87(uc, fptan, x, y, r);                /* ST0 1.0, ST1 tan */
        n += b(r[0]) == b(1.0) && b(r[1]) == b(x87math_tan(x));
        x87(uc, fpatan, x, y, r);               /* ST0 atan2(ST1, ST0) */
        n += b(r[0]) == b(x87math_atan2(y, x));
        double ax = x < 0 ? -x : x;
        x87(uc, fyl2x, ax, y, r);               /* ST0 ST1 log2 ST0 */
        n += b(r[0]) == b(y * (x87math_log(ax) / x87math_log(2.0)));
        double small = x / (ax + 1.0) * 0.25;   /* |small| < 1/4 */
        x87(uc, fyl2xp1, small, y, r);
        n += b(r[0]) == b(y * (x87math_log(small + 1.0) / x87math_log(2.0)));
        x87(uc, f2xm1, small * 4, y, r);
        n += b(r[0]) == b(x87math_exp2(small * 4) - 1.0);
    }
    printf("Unicorn's x87 instructions matched lbvm's maths in %d of %d cases\n", n, 300 * 8);
    CHECK_EQ(n, 300 * 8);
    uc_close(uc);
}

/* QUIRK(fprem-fused): fprem of 12345678.9 by 0.7 (the true remainder,
 * rounded, is the fused answer). */
static void fprem_quirk(void)
{
    uc_engine *uc;
    CHECK(uc_open(UC_ARCH_X86, UC_MODE_32, &uc) == UC_ERR_OK);
    CHECK(uc_mem_map(uc, 0x1000, 0x2000, UC_PROT_ALL) == UC_ERR_OK);
    static const uint8_t fprem[2] = { 0xd9, 0xf8 };
    double r[2];
    x87(uc, fprem, 12345678.9, 0.7, r);
    const uint64_t split = 0x3fb99999a0000000ull, fused = 0x3fb999999e905dc0ull;
    printf("QUIRK(fprem-fused): this Unicorn build's FPREM is %s\n",
           b(r[0]) == split ? "split (a product, then a difference: as Debian's amd64 build)"
           : b(r[0]) == fused ? "fused (one multiply-add: as Debian's arm64 build)" : "neither known form");
    CHECK(b(r[0]) == split || b(r[0]) == fused);
    uc_close(uc);
}

int main(void)
{
    char err[256] = "";
    CHECK(x87math_check(err, sizeof err) == 0);
    if (err[0])
        fprintf(stderr, "%s\n", err);
    pinned_values();
    digests();
    special_values();
    accuracy();
    through_unicorn();
    fprem_quirk();
    /* other bases: the C library's pow */
    CHECK_EQ(b(pow(3.0, 2.0)), b(9.0));
    CHECK_EQ(b(pow(2.0, 0.5)), b(x87math_exp2(0.5)));
    return check_done();
}
