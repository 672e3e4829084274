/* SPDX-License-Identifier: GPL-2.0-or-later */
/* QUIRK(x87-libm): Unicorn (QEMU 5.0's x87 helpers) computes the guest's
 * FSIN, FCOS, FSINCOS, FPTAN, FPATAN, FYL2X, FYL2XP1 and F2XM1 by converting
 * the operand to a double and calling the host C library's sin, cos, sincos,
 * tan, atan2, log and pow(2.0, x). Those are not the same everywhere: glibc on
 * x86_64 picks an FMA or a non-FMA variant by the CPU it runs on, and the two
 * differ in the last bit for about one argument in 2500 (sin, cos, 2^x; fewer
 * for the others), so two x86_64 hosts can disagree; another glibc release or
 * architecture may round otherwise,
 * and an invalid operation's NaN has another sign on arm64. The guest would
 * see its host.
 *
 * lbvm defines these functions itself, so the dynamic linker binds Unicorn's
 * calls (and every other caller in the process) to them: one algorithm in
 * plain IEEE double arithmetic (this file is built with -ffp-contract=off, so
 * no compiler fuses a multiply and an add on one host and not another),
 * integers for the argument reduction, constants from
 * scripts/x87math-constants.py. Accuracy is within about one unit in the last
 * place (Unicorn's doubles are already less precise than a real x87); what
 * matters is that the result is a function of the argument alone.
 * pow() is only lbvm's for base 2.0 (all Unicorn uses); other bases go to the
 * C library's. x87math_check() makes sure the binding happened;
 * tests/unit/test_x87math.c pins results bit for bit and runs the x87
 * instructions through Unicorn. */
#include "emu/x87math.h"
#include "base/platform.h"

#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#if FLT_EVAL_METHOD != 0
#error "emu/x87math.c needs double arithmetic without excess precision (SSE2 on x86)"
#endif

#include "emu/x87math_tables.h"

typedef unsigned __int128 u128;

/* The NaN an invalid operation makes, as on x86 (and a real x87): negative,
 * quiet. arm64's FPU would make a positive one. */
#define NAN_INVALID 0xfff8000000000000ull
#define QUIET_BIT 0x0008000000000000ull

static inline uint64_t bits_of(double x)
{
    uint64_t u;
    memcpy(&u, &x, 8);
    return u;
}

static inline double from_bits(uint64_t u)
{
    double x;
    memcpy(&x, &u, 8);
    return x;
}

static inline int is_nan(uint64_t u) { return (u & 0x7fffffffffffffffull) > 0x7ff0000000000000ull; }
static inline double quiet(uint64_t u) { return from_bits(u | QUIET_BIT); }
/* 2^e, -1022 <= e <= 1023, exactly */
static inline double pow2i(int e) { return from_bits((uint64_t)(e + 1023) << 52); }

/* ---- sin, cos, tan ---------------------------------------------------------- */

/* sin(x + y), |x| <= pi/4 (about), y the tail of x: Taylor series to x^17. */
static double ksin(double x, double y)
{
    double z = x * x, v = z * x;
    double r = sin_c[1] + z * (sin_c[2] + z * (sin_c[3] + z * (sin_c[4] + z * (sin_c[5] + z * (sin_c[6] + z * sin_c[7])))));
    return x - ((z * (0.5 * y - v * r) - y) - v * sin_c[0]);
}

/* cos(x + y), likewise: Taylor series to x^16, 1 - x^2/2 compensated. */
static double kcos(double x, double y)
{
    double z = x * x;
    double r = z * z * (cos_c[0] + z * (cos_c[1] + z * (cos_c[2] + z * (cos_c[3] + z * (cos_c[4] + z * (cos_c[5] + z * cos_c[6]))))));
    double hz = 0.5 * z, w = 1.0 - hz;
    return w + (((1.0 - w) - hz) + (r - x * y));
}

static uint64_t get64(const uint64_t p[5], int off)
{
    int w = off >> 6, b = off & 63;
    uint64_t lo = w < 5 ? p[w] : 0, hi = w + 1 < 5 ? p[w + 1] : 0;
    return b ? (lo >> b) | (hi << (64 - b)) : lo;
}

/* x = n pi/2 + (*hi + *lo) with |hi + lo| <= pi/4, for finite |x| > pi/4;
 * returns n mod 4. Payne-Hanek in integers: |x| = m 2^e (m < 2^53), and
 * m 2^e 2/pi mod 4 from 256 bits of 2/pi at the right place (the bits
 * before contribute multiples of 4), 128 bits of fraction kept; that
 * fraction times pi/2 (128 bits) as a pair of doubles. */
static int reduce(double x, double *rhi, double *rlo)
{
    uint64_t u = bits_of(x);
    int neg = (int)(u >> 63);
    int ex = (int)((u >> 52) & 0x7ff);
    uint64_t m = (u & ((1ull << 52) - 1)) | (1ull << 52);
    int e = ex - 1075;
    int j0 = e > 2 ? (e - 2) / 64 : 0;
    uint64_t p[5];
    u128 c = 0;
    for (int k = 3; k >= 0; k--) {
        c += (u128)m * two_over_pi[j0 + k];
        p[3 - k] = (uint64_t)c;
        c >>= 64;
    }
    p[4] = (uint64_t)c;
    int s = 64 * j0 + 256 - e;  /* fraction bits of p */
    unsigned q = (unsigned)get64(p, s) & 3;
    uint64_t fhi = get64(p, s - 64), flo = get64(p, s - 128);
    int fneg = 0;
    if (fhi >> 63) {            /* fraction >= 1/2: the next multiple, from below */
        q = (q + 1) & 3;
        fneg = 1;
        flo = ~flo + 1;
        fhi = ~fhi + (flo == 0);
    }
    double hi = 0, lo = 0;
    if (fhi | flo) {
        u128 p00 = (u128)flo * pio2_fix_lo, p01 = (u128)flo * pio2_fix_hi;
        u128 p10 = (u128)fhi * pio2_fix_lo, p11 = (u128)fhi * pio2_fix_hi;
        uint64_t mm[4];
        mm[0] = (uint64_t)p00;
        u128 t = (p00 >> 64) + (uint64_t)p01 + (uint64_t)p10;
        mm[1] = (uint64_t)t;
        t = (t >> 64) + (p01 >> 64) + (p10 >> 64) + (uint64_t)p11;
        mm[2] = (uint64_t)t;
        t = (t >> 64) + (p11 >> 64);
        mm[3] = (uint64_t)t;
        /* the product is r * 2^255: normalise its top 128 bits */
        int lz = 0, top = 3;
        while (top > 0 && mm[top] == 0) {
            top--;
            lz += 64;
        }
        lz += __builtin_clzll(mm[top]);
        /* shift the 256-bit product left by lz, keep the top 128 bits */
        uint64_t sh[4];
        int ws = lz >> 6, bs = lz & 63;
        for (int i = 3; i >= 0; i--) {
            uint64_t a = i - ws >= 0 ? mm[i - ws] : 0, b = i - ws - 1 >= 0 ? mm[i - ws - 1] : 0;
            sh[i] = bs ? (a << bs) | (b >> (64 - bs)) : a;
        }
        u128 w = ((u128)sh[3] << 64) | sh[2];
        uint64_t a53 = (uint64_t)(w >> 75), next = (uint64_t)(w >> 11);
        hi = (double)a53 * pow2i(-lz - 52);
        lo = (double)next * pow2i(-lz - 52 - 64);
        double sum = hi + lo;
        lo = lo - (sum - hi);
        hi = sum;
    }
    if (fneg != neg) {
        hi = -hi;
        lo = -lo;
    }
    if (neg)
        q = (4 - q) & 3;
    *rhi = hi;
    *rlo = lo;
    return (int)q;
}

#define PIO4_BITS 0x3fe921fb54442d18ull  /* pi/4 rounded */

double x87math_sin(double x)
{
    uint64_t u = bits_of(x), a = u & 0x7fffffffffffffffull;
    if (a <= PIO4_BITS)
        return ksin(x, 0.0);
    if (a >= 0x7ff0000000000000ull)
        return is_nan(u) ? quiet(u) : from_bits(NAN_INVALID);
    double hi, lo;
    switch (reduce(x, &hi, &lo)) {
    case 0: return ksin(hi, lo);
    case 1: return kcos(hi, lo);
    case 2: return -ksin(hi, lo);
    default: return -kcos(hi, lo);
    }
}

double x87math_cos(double x)
{
    uint64_t u = bits_of(x), a = u & 0x7fffffffffffffffull;
    if (a <= PIO4_BITS)
        return kcos(x, 0.0);
    if (a >= 0x7ff0000000000000ull)
        return is_nan(u) ? quiet(u) : from_bits(NAN_INVALID);
    double hi, lo;
    switch (reduce(x, &hi, &lo)) {
    case 0: return kcos(hi, lo);
    case 1: return -ksin(hi, lo);
    case 2: return -kcos(hi, lo);
    default: return ksin(hi, lo);
    }
}

void x87math_sincos(double x, double *s, double *c)
{
    uint64_t u = bits_of(x), a = u & 0x7fffffffffffffffull;
    if (a <= PIO4_BITS) {
        *s = ksin(x, 0.0);
        *c = kcos(x, 0.0);
        return;
    }
    if (a >= 0x7ff0000000000000ull) {
        *s = *c = is_nan(u) ? quiet(u) : from_bits(NAN_INVALID);
        return;
    }
    double hi, lo, ks, kc;
    int n = reduce(x, &hi, &lo);
    ks = ksin(hi, lo);
    kc = kcos(hi, lo);
    switch (n) {
    case 0: *s = ks; *c = kc; break;
    case 1: *s = kc; *c = -ks; break;
    case 2: *s = -ks; *c = -kc; break;
    default: *s = -kc; *c = ks; break;
    }
}

double x87math_tan(double x)
{
    uint64_t u = bits_of(x), a = u & 0x7fffffffffffffffull;
    if (a <= PIO4_BITS) {
        if (a < 0x3e40000000000000ull)   /* |x| < 2^-27: tan x = x to double precision */
            return x;
        return ksin(x, 0.0) / kcos(x, 0.0);
    }
    if (a >= 0x7ff0000000000000ull)
        return is_nan(u) ? quiet(u) : from_bits(NAN_INVALID);
    double hi, lo;
    int n = reduce(x, &hi, &lo);
    double s = ksin(hi, lo), c = kcos(hi, lo);
    return n & 1 ? -c / s : s / c;
}

/* ---- atan2 --------------------------------------------------------------------- */

/* atan(t), 0 <= t <= 1: atan(k/16) from the table plus atan of the rest,
 * t' = (t - k/16) / (1 + t k/16), |t'| <= 1/32, by its series to t'^15. */
static double katan(double t)
{
    int k = (int)(t * 16.0 + 0.5);
    double ck = k * 0.0625;
    double d = (t - ck) / (1.0 + t * ck);
    double z = d * d;
    double p = z * (atan_c[0] + z * (atan_c[1] + z * (atan_c[2] + z * (atan_c[3] + z * (atan_c[4] + z * (atan_c[5] + z * atan_c[6]))))));
    return atan_tab[k][0] + (atan_tab[k][1] + (d + d * p));
}

double x87math_atan2(double y, double x)
{
    uint64_t uy = bits_of(y), ux = bits_of(x);
    if (is_nan(ux))
        return quiet(ux);
    if (is_nan(uy))
        return quiet(uy);
    int sy = (int)(uy >> 63), sx = (int)(ux >> 63);
    uint64_t ay = uy & 0x7fffffffffffffffull, ax = ux & 0x7fffffffffffffffull;
    double r;
    if (ay == 0) {                              /* atan2(+-0, x) */
        r = sx ? pi_hi : 0.0;
    } else if (ax == 0) {                       /* atan2(y, +-0), y != 0 */
        r = pio2_hi;
    } else if (ax == 0x7ff0000000000000ull) {
        if (ay == 0x7ff0000000000000ull)
            r = sx ? 3.0 * (0.5 * pio2_hi) : 0.5 * pio2_hi;   /* 3pi/4 or pi/4 */
        else
            r = sx ? pi_hi : 0.0;
    } else if (ay == 0x7ff0000000000000ull) {
        r = pio2_hi;
    } else {
        double fy = from_bits(ay), fx = from_bits(ax), z;
        int ey = (int)(ay >> 52), exx = (int)(ax >> 52);
        if (ey - exx > 60)                      /* |y/x| > 2^60 */
            z = pio2_hi + pio2_lo;
        else if (sx && ey - exx < -60)          /* |y/x| < 2^-60, x < 0 */
            z = 0.0;
        else if (fy <= fx)
            z = katan(fy / fx);
        else                                    /* atan t = pi/2 - atan(1/t) */
            z = pio2_hi - (katan(fx / fy) - pio2_lo);
        r = sx ? pi_hi - (z - pi_lo) : z;
    }
    return sy ? -r : r;
}

/* ---- log, 2^x --------------------------------------------------------------------- */

/* log x = k ln 2 + log(1 + f), 1 + f in [sqrt(2)/2, sqrt(2)), with
 * log(1 + f) = 2 atanh(s), s = f / (2 + f), written f - (f^2/2 - s (f^2/2 + R)),
 * R = 2s^2/3 + 2s^4/5 + ... to s^24. */
double x87math_log(double x)
{
    uint64_t u = bits_of(x);
    if (is_nan(u))
        return quiet(u);
    if ((u & 0x7fffffffffffffffull) == 0)
        return from_bits(0xfff0000000000000ull);   /* -inf */
    if (u >> 63)
        return from_bits(NAN_INVALID);
    if (u == 0x7ff0000000000000ull)
        return x;
    int k = 0;
    if (u < 0x0010000000000000ull) {            /* subnormal */
        x *= pow2i(54);
        u = bits_of(x);
        k = -54;
    }
    k += (int)(u >> 52) - 1023;
    uint64_t mant = u & ((1ull << 52) - 1);
    if (mant > 0x6a09e667f3bcdull) {            /* 1 + f >= sqrt(2): halve it */
        k++;
        u = mant | 0x3fe0000000000000ull;
    } else {
        u = mant | 0x3ff0000000000000ull;
    }
    double f = from_bits(u) - 1.0;
    double s = f / (2.0 + f), z = s * s, hfsq = 0.5 * f * f;
    double R = z * (log_c[0] + z * (log_c[1] + z * (log_c[2] + z * (log_c[3] + z * (log_c[4] + z * (log_c[5] + z * (log_c[6] + z * (log_c[7] + z * (log_c[8] + z * (log_c[9] + z * (log_c[10] + z * log_c[11])))))))))));
    double dk = (double)k;
    return dk * ln2_hi - ((hfsq - (s * (hfsq + R) + dk * ln2_lo)) - f);
}

/* 2^x = 2^k 2^(j/16) 2^g, |g| <= 1/32: the table, then e^(g ln 2) by its
 * series to the 7th power. */
double x87math_exp2(double x)
{
    uint64_t u = bits_of(x);
    if (is_nan(u))
        return quiet(u);
    if (x >= 1024.0)
        return x * pow2i(1023);                 /* +inf */
    if (x < -1076.0)
        return 0.0;
    double big = 0x1.8p52;
    double n = (x * 16.0 + big) - big;          /* nearest integer to 16x, ties to even */
    int ni = (int)n;
    int k = ni >> 4, j = ni & 15;               /* arithmetic shift: floor */
    double g = x - n * 0.0625;
    double t = g * ln2;
    double p = t + t * t * (exp_c[0] + t * (exp_c[1] + t * (exp_c[2] + t * (exp_c[3] + t * (exp_c[4] + t * exp_c[5])))));
    double v = exp2_tab[j][0] + (exp2_tab[j][1] + exp2_tab[j][0] * p);
    if (k > 1023)
        return v * pow2i(1023) * 2.0;
    if (k < -1022)                              /* subnormal: one rounding */
        return (v * pow2i(k + 1022)) * pow2i(-1022);
    return v * pow2i(k);
}

/* ---- the C library's names ------------------------------------------------------ */

double sin(double x) { return x87math_sin(x); }
double cos(double x) { return x87math_cos(x); }
double tan(double x) { return x87math_tan(x); }
void sincos(double x, double *s, double *c) { x87math_sincos(x, s, c); }
double atan2(double y, double x) { return x87math_atan2(y, x); }
double log(double x) { return x87math_log(x); }

double pow(double x, double y)
{
    static double (*libc_pow)(double, double);
    if (x == 2.0)
        return x87math_exp2(y);
    double (*f)(double, double) = __atomic_load_n(&libc_pow, __ATOMIC_ACQUIRE);
    if (!f) {
        void *p = host_next_symbol("pow");
        memcpy(&f, &p, sizeof f);
        __atomic_store_n(&libc_pow, f, __ATOMIC_RELEASE);
    }
    return f ? f(x, y) : from_bits(NAN_INVALID);
}

int x87math_check(char *err, size_t errlen)
{
    static const char *const names[] = { "sin", "cos", "tan", "sincos", "atan2", "log", "pow" };
    void *ours[7];
    double (*f1[])(double) = { sin, cos, tan };
    for (int i = 0; i < 3; i++)
        memcpy(&ours[i], &f1[i], sizeof ours[i]);
    void (*f2)(double, double *, double *) = sincos;
    double (*f3)(double, double) = atan2, (*f4)(double) = log, (*f5)(double, double) = pow;
    memcpy(&ours[3], &f2, sizeof ours[3]);
    memcpy(&ours[4], &f3, sizeof ours[4]);
    memcpy(&ours[5], &f4, sizeof ours[5]);
    memcpy(&ours[6], &f5, sizeof ours[6]);
    for (int i = 0; i < 7; i++) {
        void *p = host_global_symbol(names[i]);
        if (p != ours[i]) {
            snprintf(err, errlen, "the C library's %s, not lbvm's, would compute the guest's x87 instructions "
                     "(host-dependent results): is %s exported from the program?", names[i], names[i]);
            return -1;
        }
    }
    return 0;
}
