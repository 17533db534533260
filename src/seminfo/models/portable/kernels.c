/* Fused CPU kernels of seminfo's portable (integer) models.

   Each function is the exact translation of a sequence of numpy operations in fixed.py, llama.py
   and gpt2.py, computing the same integers: int64 arithmetic (GCC's >> on negative numbers is
   arithmetic, as numpy's; floor division is written out), and IEEE-754 double operations only
   where fixed.py uses them, one correctly rounded operation at a time and in the same order
   (compile with -ffp-contract=off and without -ffast-math: no fused multiply-add, no reordering).
   Sums of doubles are sums of integers below 2^53, exact in any order. The Python side
   (fast.py) checks every kernel against the numpy path in the tests; the numpy path stays the
   reference and the fallback when no C compiler is present.

   Layouts: row-major, contiguous unless strides are passed (in elements).  */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

typedef int64_t i64;
typedef int32_t i32;
typedef int8_t i8;

#define FBITS 16

static inline i64 bitlen(i64 v)              /* frexp exponent of (double) v, v >= 0 */
{
    int ex;
    frexp((double) v, &ex);
    return (i64) ex;
}

static inline i64 floordiv(i64 a, i64 b)     /* b > 0 */
{
    i64 q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static inline i64 rsr_row(i64 x, i64 s)      /* rshift_round with an array shift: ((2x >> s) + 1) >> 1 */
{
    return (((x * 2) >> s) + 1) >> 1;
}

static inline i64 clip64(i64 x, i64 lo, i64 hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

static inline i64 isqrt64(i64 v)
{
    i64 r = (i64) sqrt((double) v);
    r -= (r * r > v);
    r += ((r + 1) * (r + 1) <= v);
    return r;
}

/* Sums whose every partial sum is an integer below 2^53 in magnitude are exact in any order: four
   accumulators instead of one chain (the latency of one addition per term). */
static inline double dot_exact(const double *a, const double *b, i64 n)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    i64 i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

static inline void dot2_exact(const double *a, const double *b0, const double *b1, i64 n, double *r0,
                              double *r1)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0, t0 = 0.0, t1 = 0.0, t2 = 0.0, t3 = 0.0;
    i64 i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b0[i];
        t0 += a[i] * b1[i];
        s1 += a[i + 1] * b0[i + 1];
        t1 += a[i + 1] * b1[i + 1];
        s2 += a[i + 2] * b0[i + 2];
        t2 += a[i + 2] * b1[i + 2];
        s3 += a[i + 3] * b0[i + 3];
        t3 += a[i + 3] * b1[i + 3];
    }
    for (; i < n; i++) {
        s0 += a[i] * b0[i];
        t0 += a[i] * b1[i];
    }
    *r0 = (s0 + s1) + (s2 + s3);
    *r1 = (t0 + t1) + (t2 + t3);
}

static inline void axpy(double *restrict y, double a, const double *restrict x, i64 n)
{                                                  /* y += a x elementwise (multiply, then add) */
    for (i64 i = 0; i < n; i++) y[i] += a * x[i];
}

static inline i64 floor_i64(double y)              /* floor of |y| < 2^63, without libm */
{
    i64 i = (i64) y;
    return ((double) i > y) ? i - 1 : i;
}

static inline double sum_exact(const double *a, i64 n)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    i64 i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i];
        s1 += a[i + 1];
        s2 += a[i + 2];
        s3 += a[i + 3];
    }
    for (; i < n; i++) s0 += a[i];
    return (s0 + s1) + (s2 + s3);
}

/* _exp_weights_: u[i] <- tab[trunc(min(max + 1/2 - u[i], L))] (exp(u - max) in Q30, 0 beyond the
   table); returns their sum (exact: integers below 2^53). */
static inline double exp_weights(double *u, i64 n, double mx, const double *tab, double L)
{
    mx += 0.5;
    for (i64 i = 0; i < n; i++) {
        double dist = mx - u[i];
        if (dist > L) dist = L;
        u[i] = tab[(i64) dist];
    }
    return sum_exact(u, n);
}

/* _split_product's input side: rows of x (M, K) clipped to +-lim, scaled per row to 15 bits
   (quantize_rows(., 14)) and split a = 128 hi + lo; ab (2M, K) int8 = [hi; lo], e (M).
   Returns 1 when some |x| > lim (QStack's fallback test), else 0. */
int si_split(const i64 *x, i64 M, i64 K, i64 lim, i8 *ab, i64 *e)
{
    int over = 0;
    for (i64 r = 0; r < M; r++) {
        const i64 *xr = x + r * K;
        i64 amax = 0;
        for (i64 k = 0; k < K; k++) {
            i64 v = xr[k];
            if (v > lim || v < -lim) over = 1;
            v = clip64(v, -lim, lim);
            v = v < 0 ? -v : v;
            if (v > amax) amax = v;
        }
        i64 er = bitlen(amax) - 14;
        if (er < 0) er = 0;
        e[r] = er;
        i8 *hi = ab + r * K, *lo = ab + (M + r) * K;
        for (i64 k = 0; k < K; k++) {
            i64 a = rsr_row(clip64(xr[k], -lim, lim), er);
            if (a > (1 << 14) - 1) a = (1 << 14) - 1;
            hi[k] = (i8) (a >> 7);
            lo[k] = (i8) (a & 127);
        }
    }
    return over;
}

/* _finish over columns c0 .. c0 + n - 1 of acc (2M, N) int32:
   y = ((((128 hi + lo) m2_c) >> (sh_c - e_r)) + b1_c) >> 1; written to out (M, n) (add: added). */
void si_finish(const i32 *acc, i64 M, i64 N, i64 c0, i64 n, const i64 *e, const i64 *m2,
               const i64 *b1, const i64 *sh, i64 *out, int add)
{
    for (i64 r = 0; r < M; r++) {
        const i32 *hi = acc + r * N + c0, *lo = acc + (M + r) * N + c0;
        i64 *o = out + r * n;
        for (i64 c = 0; c < n; c++) {
            i64 y = ((i64) hi[c] * 128 + lo[c]) * m2[c];
            y >>= sh[c] - e[r];
            y = (y + b1[c]) >> 1;
            if (add) o[c] += y; else o[c] = y;
        }
    }
}

/* norm_rows (LayerNorm if center, else RMSNorm) then the affine map (n g + c0) >> G. */
void si_norm(const i64 *x, i64 M, i64 d, const i64 *eps_tab, int center, const i64 *g,
             const i64 *c0, i64 G, i64 *out, i64 *tmp)
{
    for (i64 r = 0; r < M; r++) {
        const i64 *xr = x + r * d;
        i64 *c = tmp;
        i64 s = 0;
        if (center)
            for (i64 k = 0; k < d; k++) s += xr[k];
        i64 amax = 0;
        for (i64 k = 0; k < d; k++) {
            c[k] = center ? xr[k] * d - s : xr[k];
            i64 a = c[k] < 0 ? -c[k] : c[k];
            if (a > amax) amax = a;
        }
        i64 er = bitlen(amax) - 20;
        if (er < 0) er = 0;
        i64 V = 0;
        for (i64 k = 0; k < d; k++) {
            c[k] >>= er;
            V += c[k] * c[k];
        }
        V <<= 8;
        V /= d;                                           /* V >= 0: floor */
        V += eps_tab[er];
        i64 D = isqrt64(V);
        if (D < 1) D = 1;
        i64 *o = out + r * d;
        for (i64 k = 0; k < d; k++) {
            i64 n = floordiv(c[k] * ((i64) 1 << (FBITS + 5)) + D, D * 2);
            o[k] = (n * g[k] + c0[k]) >> G;
        }
    }
}

/* lookup(x, table) in place: linear interpolation on a 2^-8 grid over [-R, R], identity above. */
void si_act(i64 *x, i64 n, const i64 *t, const i64 *dt, i64 R)
{
    const i64 s = FBITS - 8, top = (2 * R) << FBITS, lim = R << FBITS;
    for (i64 k = 0; k < n; k++) {
        i64 v = x[k];
        i64 u = clip64(v + lim, 0, top - 1);
        i64 i = u >> s;
        u &= ((i64) 1 << s) - 1;
        i64 y = ((dt[i] * u + ((i64) 1 << (s - 1))) >> s) + t[i];
        if (v >= lim) y = v;
        else if (t[0] != 0 && v < -lim) y = 0;
        x[k] = y;
    }
}

/* SwiGLU middle of rows gu (M, 2I) = [gate | up]: round((clip(silu(gate)) clip(up)) / 2^16) -> out (M, I). */
void si_swiglu(const i64 *gu, i64 M, i64 I, const i64 *t, const i64 *dt, i64 R, i64 clampv, i64 *out)
{
    for (i64 r = 0; r < M; r++) {
        const i64 *gate = gu + r * 2 * I, *up = gate + I;
        i64 *o = out + r * I;
        for (i64 k = 0; k < I; k++) o[k] = gate[k];
        si_act(o, I, t, dt, R);
        for (i64 k = 0; k < I; k++) {
            i64 y = clip64(o[k], -clampv, clampv) * clip64(up[k], -clampv, clampv);
            o[k] = (y + ((i64) 1 << (FBITS - 1))) >> FBITS;
        }
    }
}

static inline void rope_pair(i64 *x, i64 half, const i64 *cs, const i64 *sn, i64 clampv)
{
    for (i64 i = 0; i < half; i++) {
        i64 x1 = clip64(x[i], -clampv, clampv), x2 = clip64(x[half + i], -clampv, clampv);
        i64 r1 = x1 * cs[i] - x2 * sn[i];
        i64 r2 = x2 * cs[i] + x1 * sn[i];
        x[i] = (r1 + ((i64) 1 << 27)) >> 28;
        x[half + i] = (r2 + ((i64) 1 << 27)) >> 28;
    }
}

/* One attention call for T new tokens of B rows (positions n_old .. n_old + T - 1):
   optional rotary embedding of q and k (cos/sin tables (n_pos, hs/2) at Q28, clamp rclamp),
   prepare_kv of the new keys/values into the caches ck, cv (B, Hk, cap, hs) float64 at n_old..,
   then causal attention of every query head h (kv head h / (H / Hk)) over keys 0 .. its position.
   q, k, v: int64 with strides (b, h, t) in elements, the last axis contiguous.
   out: (B, T, H * hs) int64. tab: the exp table as float64 (tablen entries). */
int si_attend(const i64 *q, i64 qsb, i64 qsh, i64 qst, const i64 *k, const i64 *v, i64 ksb, i64 ksh,
              i64 kst, i64 B, i64 H, i64 Hk, i64 T, i64 hs, double *ck, double *cv, i64 cap,
              i64 n_old, const i64 *cosv, const i64 *sinv, i64 rclamp, i64 cmul, i64 R,
              const double *tab, i64 tablen, i64 *out)
{
    const i64 rep = H / Hk, half = hs / 2, Tk = n_old + T;
    const i64 QK_CLAMP = ((i64) 1 << 35) - 1, K_CLAMP = (i64) 1 << 24, V_CLAMP = (i64) 1 << 27;
    i64 *row = malloc(sizeof(i64) * hs);
    double *u = malloc(sizeof(double) * Tk), *qa = malloc(sizeof(double) * hs);
    if (!row || !u || !qa) { free(row); free(u); free(qa); return -1; }
    const double L = (double) (tablen - 1);
    for (i64 b = 0; b < B; b++) {
        for (i64 g = 0; g < Hk; g++) {                              /* the new keys and values */
            for (i64 t = 0; t < T; t++) {
                const i64 *kr = k + b * ksb + g * ksh + t * kst, *vr = v + b * ksb + g * ksh + t * kst;
                for (i64 d = 0; d < hs; d++) row[d] = kr[d];
                if (cosv) rope_pair(row, half, cosv + (n_old + t) * half, sinv + (n_old + t) * half, rclamp);
                double *kc = ck + ((b * Hk + g) * cap + n_old + t) * hs, *vc = cv + ((b * Hk + g) * cap + n_old + t) * hs;
                for (i64 d = 0; d < hs; d++) {
                    kc[d] = (double) clip64((row[d] + 8) >> 4, -K_CLAMP, K_CLAMP);
                    vc[d] = (double) clip64(vr[d], -V_CLAMP, V_CLAMP);
                }
            }
        }
        for (i64 h = 0; h < H; h++) {
            const i64 g = h / rep;
            const double *kc = ck + (b * Hk + g) * cap * hs, *vc = cv + (b * Hk + g) * cap * hs;
            for (i64 t = 0; t < T; t++) {
                const i64 *qr = q + b * qsb + h * qsh + t * qst;
                for (i64 d = 0; d < hs; d++) row[d] = qr[d];
                if (cosv) rope_pair(row, half, cosv + (n_old + t) * half, sinv + (n_old + t) * half, rclamp);
                i64 amax = 0;
                for (i64 d = 0; d < hs; d++) {
                    row[d] = clip64(row[d], -QK_CLAMP, QK_CLAMP);
                    i64 a = row[d] < 0 ? -row[d] : row[d];
                    if (a > amax) amax = a;
                }
                i64 eq = bitlen(amax) - 17;
                if (eq < 0) eq = 0;
                for (i64 d = 0; d < hs; d++) {
                    i64 a = rsr_row(row[d], eq);
                    if (a > ((i64) 1 << 17) - 1) a = ((i64) 1 << 17) - 1;
                    qa[d] = (double) a;
                }
                double s = ldexp(1.0, (int) (eq - (FBITS + R)));
                s *= (double) cmul;
                const i64 nvis = n_old + t + 1;
                double mx = -INFINITY;
                i64 j = 0;
                for (; j + 2 <= nvis; j += 2) {                 /* two keys at once: 8 chains */
                    double acc0, acc1;
                    dot2_exact(qa, kc + j * hs, kc + (j + 1) * hs, hs, &acc0, &acc1);
                    acc0 *= s;
                    acc1 *= s;
                    u[j] = acc0;
                    u[j + 1] = acc1;
                    if (acc0 > mx) mx = acc0;
                    if (acc1 > mx) mx = acc1;
                }
                for (; j < nvis; j++) {
                    double acc = dot_exact(qa, kc + j * hs, hs);
                    acc *= s;
                    u[j] = acc;
                    if (acc > mx) mx = acc;
                }
                double total = exp_weights(u, nvis, mx, tab, L);
                i64 *o = out + (b * T + t) * (H * hs) + h * hs;
                for (i64 d = 0; d < hs; d++) qa[d] = 0.0;
                for (i64 j = 0; j < nvis; j++) {
                    double p = u[j];
                    p *= 16777216.0;
                    p /= total;
                    p = (double) (i64) p;                       /* floor: p >= 0 */
                    axpy(qa, p, vc + j * hs, hs);
                }
                for (i64 d = 0; d < hs; d++) {
                    double y = qa[d] * 0x1p-24;
                    y += 0.5;
                    o[d] = floor_i64(y);
                }
            }
        }
    }
    free(row); free(u); free(qa);
    return 0;
}

/* head_freqs from the int8 products acc (2M, N) of si_split: rows (M, N) int64,
   floor(exp(z - max) 2^30 / sum) + 1. */
int si_head(const i32 *acc, i64 M, i64 N, const i64 *e, const double *md, i64 shift, const double *tab,
            i64 tablen, i64 *out)
{
    double *z = malloc(sizeof(double) * N);
    if (!z) return -1;
    const double L = (double) (tablen - 1);
    for (i64 r = 0; r < M; r++) {
        const i32 *hi = acc + r * N, *lo = acc + (M + r) * N;
        const double p2 = ldexp(1.0, (int) (e[r] + (12 - FBITS - shift)));
        double mx = -INFINITY;
        for (i64 c = 0; c < N; c++) {
            double v = (double) ((i64) hi[c] * 128 + lo[c]);
            v *= md[c];
            v *= p2;
            z[c] = v;
            if (v > mx) mx = v;
        }
        double total = exp_weights(z, N, mx, tab, L);
        i64 *o = out + r * N;
        for (i64 c = 0; c < N; c++) {
            double w = z[c];
            w *= 1073741824.0;
            w /= total;
            o[c] = (i64) w + 1;                                 /* floor: w >= 0 */
        }
    }
    free(z);
    return 0;
}
