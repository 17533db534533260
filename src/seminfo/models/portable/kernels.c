/* Fused CPU kernels of seminfo's portable (integer) models.

   Each function is the exact translation of a sequence of numpy operations in fixed.py, llama.py
   and gpt2.py, computing the same integers: int64 arithmetic (GCC's >> on negative numbers is
   arithmetic, as numpy's; floor division is written out), and IEEE-754 double operations only
   where fixed.py uses them, one correctly rounded operation at a time and in the same order
   (compile with -ffp-contract=off and without -ffast-math: no reordering, and fused multiply-adds
   only where written out, on integers whose products and sums stay below 2^53: exact either way).
   Sums of doubles are sums of integers below 2^53, exact in any order. The Python side
   (fast.py) checks every kernel against the numpy path in the tests; the numpy path stays the
   reference and the fallback when no C compiler is present.

   Layouts: row-major, contiguous unless strides are passed (in elements).  */

#define _GNU_SOURCE                                /* syscall (the AMX permission) */
#include <math.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

/* floor(a / D) for D >= 1 and |a / D| < 2^51, given inv = 1 / D (double): the three roundings of
   (double) a * inv are within 3 2^-53 |a / D| < 1 of a / D, so its truncation is within one of the
   floor and one correction step from the remainder gives the exact floor. No integer division:
   loops of it vectorise. */
static inline i64 floor_quot(i64 a, i64 D, double inv)
{
    i64 q = (i64) ((double) a * inv);
    i64 r = a - q * D;
    q -= (r < 0);
    r += (r < 0) ? D : 0;
    q += (r >= D);
    return q;
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

/* Sums whose every partial sum is an integer below 2^53 in magnitude are exact in any order: eight
   lanes of a vector (GCC/Clang vector extensions: AVX-512, AVX or SSE, whatever the target has)
   instead of one chain, added up at the end. */
typedef double v8d __attribute__((vector_size(64)));

static inline v8d load8(const double *p)
{
    v8d v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline v8d load8i(const i32 *p)        /* 8 int32 as doubles (exact) */
{
    return (v8d) {(double) p[0], (double) p[1], (double) p[2], (double) p[3], (double) p[4], (double) p[5],
                  (double) p[6], (double) p[7]};
}

static inline double hsum8(v8d s)
{
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static inline void store8(double *p, v8d v)
{
    memcpy(p, &v, sizeof v);
}

/* o[d] = sum_j p[j] v[j hs + d] for d < hs (terms and partial sums integers below 2^53: exact in any
   order), the sums kept in registers: NV vectors of 8 columns, two sets over alternate rows. */
#define WEIGHTED_ROWS(NV)                                                                          \
    static void weighted_rows_##NV(double *restrict o, const double *restrict p,                   \
                                   const i32 *restrict v, i64 n, i64 hs)                           \
    {                                                                                              \
        v8d a[NV], b[NV];                                                                          \
        for (int i = 0; i < NV; i++) a[i] = b[i] = (v8d) {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0}; \
        i64 j = 0;                                                                                 \
        for (; j + 2 <= n; j += 2) {                                                               \
            const i32 *r = v + j * hs, *s = r + hs;                                                \
            const double w = p[j], x = p[j + 1];                                                   \
            for (int i = 0; i < NV; i++) {                                                         \
                a[i] += w * load8i(r + 8 * i);                                                     \
                b[i] += x * load8i(s + 8 * i);                                                     \
            }                                                                                      \
        }                                                                                          \
        if (j < n)                                                                                 \
            for (int i = 0; i < NV; i++) a[i] += p[j] * load8i(v + j * hs + 8 * i);                \
        for (int i = 0; i < NV; i++) store8(o + 8 * i, a[i] + b[i]);                               \
    }
WEIGHTED_ROWS(4)
WEIGHTED_ROWS(6)
WEIGHTED_ROWS(8)

static void weighted_rows(double *restrict o, const double *restrict p, const i32 *restrict v, i64 n, i64 hs)
{
    switch (hs) {
    case 32: weighted_rows_4(o, p, v, n, hs); return;
    case 48: weighted_rows_6(o, p, v, n, hs); return;
    case 64: weighted_rows_8(o, p, v, n, hs); return;
    default: break;
    }
    i64 d = 0;
    for (; d + 32 <= hs; d += 32) {
        v8d a0 = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0}, a1 = a0, a2 = a0, a3 = a0;
        for (i64 j = 0; j < n; j++) {
            const i32 *r = v + j * hs + d;
            const double w = p[j];
            a0 += w * load8i(r);
            a1 += w * load8i(r + 8);
            a2 += w * load8i(r + 16);
            a3 += w * load8i(r + 24);
        }
        store8(o + d, a0);
        store8(o + d + 8, a1);
        store8(o + d + 16, a2);
        store8(o + d + 24, a3);
    }
    for (; d + 8 <= hs; d += 8) {
        v8d a0 = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
        for (i64 j = 0; j < n; j++) a0 += p[j] * load8i(v + j * hs + d);
        store8(o + d, a0);
    }
    for (; d < hs; d++) {
        double a = 0.0;
        for (i64 j = 0; j < n; j++) a += p[j] * (double) v[j * hs + d];
        o[d] = a;
    }
}

/* u[j] = dot(qa, k[j]) * s for the n rows of k (hs apart); returns their maximum. The dot products
   are exact (integers below 2^53); four rows at a time when hs is a multiple of 8. */
static double scores(const double *restrict qa, const i32 *restrict k, i64 n, i64 hs, double s,
                     double *restrict u)
{
    double mx = -INFINITY;
    i64 j = 0;
    if (hs % 8 == 0) {
        for (; j + 4 <= n; j += 4) {
            const i32 *k0 = k + j * hs, *k1 = k0 + hs, *k2 = k1 + hs, *k3 = k2 + hs;
            v8d a0 = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0}, a1 = a0, a2 = a0, a3 = a0;
            for (i64 d = 0; d < hs; d += 8) {
                const v8d x = load8(qa + d);
                a0 += x * load8i(k0 + d);
                a1 += x * load8i(k1 + d);
                a2 += x * load8i(k2 + d);
                a3 += x * load8i(k3 + d);
            }
            double r[4] = {hsum8(a0), hsum8(a1), hsum8(a2), hsum8(a3)};
            for (int i = 0; i < 4; i++) {
                double acc = r[i];
                acc *= s;
                u[j + i] = acc;
                if (acc > mx) mx = acc;
            }
        }
    }
    for (; j < n; j++) {
        double acc = 0.0;
        for (i64 d = 0; d < hs; d++) acc += qa[d] * (double) k[j * hs + d];
        acc *= s;
        u[j] = acc;
        if (acc > mx) mx = acc;
    }
    return mx;
}

static inline i64 floor_i64(double y)              /* floor of |y| < 2^63, without libm */
{
    i64 i = (i64) y;
    return ((double) i > y) ? i - 1 : i;
}

static inline double sum_exact(const double *a, i64 n)
{
    v8d s = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    i64 i = 0;
    for (; i + 8 <= n; i += 8) s += load8(a + i);
    double t = hsum8(s);
    for (; i < n; i++) t += a[i];
    return t;
}

/* a[i] <- a[i] s for i < n (one rounding each, as numpy's); returns their maximum (-inf for n = 0;
   no NaN here, so the order of the comparisons does not matter). s = 1: the maximum alone. */
static inline double scale_max(double *a, i64 n, double s)
{
    i64 i = 0;
    double r = -INFINITY;
#if defined(__AVX512F__)
    const __m512d vs = _mm512_set1_pd(s);
    __m512d m = _mm512_set1_pd(-INFINITY);
    for (; i + 8 <= n; i += 8) {
        const __m512d x = _mm512_mul_pd(_mm512_loadu_pd(a + i), vs);
        if (s != 1.0) _mm512_storeu_pd(a + i, x);
        m = _mm512_max_pd(m, x);
    }
    r = _mm512_reduce_max_pd(m);
#endif
    for (; i < n; i++) {
        const double x = a[i] * s;
        a[i] = x;
        r = x > r ? x : r;
    }
    return r;
}

static inline double max_of(const double *a, i64 n)          /* -inf for n = 0 (no NaN here) */
{
    return scale_max((double *) a, n, 1.0);                  /* times 1: nothing is written */
}

/* _exp_weights_: u[i] <- tab[trunc(min(max + 1/2 - u[i], L))] (exp(u - max) in Q30, 0 beyond the
   table); returns their sum (exact: integers below 2^53). */
static inline double exp_weights(double *u, i64 n, double mx, const double *tab, double L)
{
    mx += 0.5;
    i64 i = 0;
#if defined(__AVX512F__) && defined(__AVX512DQ__)
    const __m512d vm = _mm512_set1_pd(mx), vL = _mm512_set1_pd(L);
    for (; i + 8 <= n; i += 8) {                             /* min(dist, L) is "if dist > L: L" */
        const __m512d dist = _mm512_min_pd(_mm512_sub_pd(vm, _mm512_loadu_pd(u + i)), vL);
        _mm512_storeu_pd(u + i, _mm512_i64gather_pd(_mm512_cvttpd_epi64(dist), tab, 8));
    }
#endif
    for (; i < n; i++) {
        double dist = mx - u[i];
        if (dist > L) dist = L;
        u[i] = tab[(i64) dist];
    }
    return sum_exact(u, n);
}

/* *lo = min(0, x...), *hi = max(0, x...) of n int64 */
static inline void min_max(const i64 *restrict x, i64 n, i64 *lo, i64 *hi)
{
    i64 a = 0, b = 0, k = 0;
#if defined(__AVX512F__)
    __m512i va = _mm512_setzero_si512(), vb = va;
    for (; k + 8 <= n; k += 8) {
        const __m512i v = _mm512_loadu_si512(x + k);
        va = _mm512_min_epi64(va, v);
        vb = _mm512_max_epi64(vb, v);
    }
    a = _mm512_reduce_min_epi64(va);
    b = _mm512_reduce_max_epi64(vb);
#endif
    for (; k < n; k++) {
        a = x[k] < a ? x[k] : a;
        b = x[k] > b ? x[k] : b;
    }
    *lo = a;
    *hi = b;
}

/* _split_product's input side: rows of x (M, K) clipped to +-lim, scaled per row to 15 bits
   (quantize_rows(., 14)) and split a = 128 hi + lo; e (M) the row shifts. The halves are written to
   ab (2M rows of `stride` bytes) = [hi; lo]: hi as int8 (bias 0, for torch._int_mm) or as hi + 128 in
   an unsigned byte (bias 128, for the u8 x s8 products of si_linear). Returns 1 when some |x| > lim
   (QStack's fallback test), else 0. */
static int split_rows(const i64 *x, i64 M, i64 K, i64 lim, i64 stride, int bias, uint8_t *ab, i64 *e)
{
    int over = 0;
    for (i64 r = 0; r < M; r++) {
        const i64 *restrict xr = x + r * K;
        i64 hi_x, lo_x;                                      /* max(|clip(x)|) from max and min of x */
        min_max(xr, K, &lo_x, &hi_x);
        if (hi_x > lim || lo_x < -lim) over = 1;
        hi_x = clip64(hi_x, -lim, lim);
        lo_x = -clip64(lo_x, -lim, lim);
        const i64 amax = hi_x > lo_x ? hi_x : lo_x;
        i64 er = bitlen(amax) - 14;
        if (er < 0) er = 0;
        e[r] = er;
        uint8_t *restrict hi = ab + r * stride, *restrict lo = ab + (M + r) * stride;
        for (i64 k = 0; k < K; k++) {
            i64 a = rsr_row(clip64(xr[k], -lim, lim), er);
            if (a > (1 << 14) - 1) a = (1 << 14) - 1;
            hi[k] = (uint8_t) ((a >> 7) + bias);
            lo[k] = (uint8_t) (a & 127);
        }
    }
    return over;
}

int si_split(const i64 *x, i64 M, i64 K, i64 lim, i8 *ab, i64 *e)
{
    return split_rows(x, M, K, lim, K, 0, (uint8_t *) ab, e);
}

/* _finish over columns c0 .. c0 + n - 1 of acc (2M, N) int32:
   y = ((((128 hi + lo) m2_c) >> (sh_c - e_r)) + b1_c) >> 1 (m2, b1, sh indexed from c0), written to
   rows of `out` `ostride` apart (add: added). */
static void finish_rows(const i32 *hi, const i32 *lo, i64 istride, i64 rows, i64 n, const i64 *e,
                        const i64 *restrict m2, const i64 *restrict b1, const i64 *restrict sh, i64 *out,
                        i64 ostride, int add)
{
    for (i64 r = 0; r < rows; r++) {
        const i32 *restrict h = hi + r * istride, *restrict l = lo + r * istride;
        i64 *restrict o = out + r * ostride;
        const i64 er = e[r];
        for (i64 c = 0; c < n; c++) {
            i64 y = ((i64) h[c] * 128 + l[c]) * m2[c];
            y >>= sh[c] - er;
            y = (y + b1[c]) >> 1;
            o[c] = add ? o[c] + y : y;
        }
    }
}

static void finish_cols(const i32 *acc, i64 M, i64 N, i64 c0, i64 n, const i64 *e, const i64 *m2,
                        const i64 *b1, const i64 *sh, i64 *out, i64 ostride, int add)
{
    finish_rows(acc + c0, acc + M * N + c0, N, M, n, e, m2, b1, sh, out, ostride, add);
}

void si_finish(const i32 *acc, i64 M, i64 N, i64 c0, i64 n, const i64 *e, const i64 *m2,
               const i64 *b1, const i64 *sh, i64 *out, int add)
{
    finish_cols(acc, M, N, c0, n, e, m2, b1, sh, out, n, add);
}

/* ---------------------------------------------------------------------------------------------
   The int8 products without torch: u8 x s8 dot products (AVX-512 VNNI, or AMX tiles), exact.

   Integer sums are exact in any order, so this product gives the int32 accumulators of
   torch._int_mm bit for bit (acc (2M, N) = [hi rows; lo rows] times the weights), whatever the
   instruction set, the blocking or the number of threads. VNNI and AMX multiply unsigned by signed
   bytes: the hi halves enter as hi + 128 and the product is corrected by 128 times each column's
   weight sum. Weights are packed once (fast.py) as Wp[N/16][Kp/4][16][4]: for 16 output columns, 4
   consecutive inputs each, so one 64-byte load feeds 16 four-term dot products (and 1 KB is an AMX
   B tile). Kp is K rounded up to 64, Np is N rounded up to 16; the padding weights are 0. |terms| <=
   255 * 128 and K < 2^16, so the int32 sums cannot overflow. Built only where the compiler targets
   AVX-512 VNNI (the cache key holds the CPU flags); elsewhere si_qmm_kind() is 0 and fast.py keeps
   torch._int_mm. AMX is used where the compiler targets it and Linux grants the tile state. */

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
#include <immintrin.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#define SI_VNNI 1
#else
#define SI_VNNI 0
#endif

#if SI_VNNI
#if defined(__AMX_TILE__) && defined(__AMX_INT8__) && defined(__linux__)
#include <sys/syscall.h>
#define SI_AMX 1
#else
#define SI_AMX 0
#endif

typedef struct {
    const uint8_t *ab;                         /* (2M (+16), Kp): hi + 128 rows, then lo rows */
    i64 M, Kp, N;
    const i8 *W;                               /* packed (Np / 16, Kp / 4, 16, 4) */
    const i32 *cs;                             /* (Np) column sums */
    i32 *acc;                                  /* (2M, N) */
    int amx;                                   /* tiles (Kp a multiple of 64, ab 16 rows longer) */
    /* with AMX, `out` not NULL: finish each tile at once (finish_cols's numbers) into rows of out,
       ostride apart (add: added), and leave acc alone */
    const i64 *e, *m2, *b1, *sh;
    i64 *out, ostride;
    int add;
} qjob;

static inline i32 load4(const uint8_t *p)
{
    i32 v;
    memcpy(&v, p, 4);
    return v;
}

/* Column blocks nb0 .. nb1 - 1 of the product. */
static void qmm_blocks(const qjob *j, i64 nb0, i64 nb1)
{
    const i64 M = j->M, Kp = j->Kp, N = j->N;
    for (i64 nb = nb0; nb < nb1; nb++) {
        const i8 *w = j->W + nb * Kp * 16;
        const __m512i corr = _mm512_slli_epi32(_mm512_loadu_si512(j->cs + nb * 16), 7);
        const i64 width = N - nb * 16 < 16 ? N - nb * 16 : 16;
        const __mmask16 keep = (__mmask16) ((1u << width) - 1u);
        for (i64 r = 0; r < M; r++) {
            const uint8_t *ah = j->ab + r * Kp, *al = j->ab + (M + r) * Kp;
            __m512i h0 = _mm512_setzero_si512(), h1 = h0, l0 = h0, l1 = h0;
            for (i64 k = 0; k < Kp; k += 8) {
                const __m512i w0 = _mm512_loadu_si512(w + k * 16), w1 = _mm512_loadu_si512(w + (k + 4) * 16);
                h0 = _mm512_dpbusd_epi32(h0, _mm512_set1_epi32(load4(ah + k)), w0);
                l0 = _mm512_dpbusd_epi32(l0, _mm512_set1_epi32(load4(al + k)), w0);
                h1 = _mm512_dpbusd_epi32(h1, _mm512_set1_epi32(load4(ah + k + 4)), w1);
                l1 = _mm512_dpbusd_epi32(l1, _mm512_set1_epi32(load4(al + k + 4)), w1);
            }
            const __m512i hi = _mm512_sub_epi32(_mm512_add_epi32(h0, h1), corr);
            _mm512_mask_storeu_epi32(j->acc + r * N + nb * 16, keep, hi);
            _mm512_mask_storeu_epi32(j->acc + (M + r) * N + nb * 16, keep, _mm512_add_epi32(l0, l1));
        }
    }
}

#if SI_AMX
/* The same product on AMX tiles (tdpbusd: 16 rows x 64 inputs times 64 inputs x 16 columns, u8 x
   s8 into int32, exact). The packed weights are already the B-tile layout: for column block nb and
   inputs 64 kt .. 64 kt + 63, 16 rows of 64 bytes (4 inputs of 16 columns) at W + (nb Kp + 64 kt) 16.
   Rows of ab past the M wanted (up to 16 more) are read and their results dropped. */
typedef struct {
    uint8_t palette, start;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tilecfg;

static int amx_state = 0;                      /* 0 not asked, 1 granted, -1 refused (or switched off) */
static int amx_want = 1;

static int amx_ok(void)
{
    if (!amx_want) return 0;
    if (amx_state == 0) {                      /* permission to use the tile data (Linux >= 5.16) */
        long rc = syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */);
        amx_state = rc == 0 ? 1 : -1;
    }
    return amx_state == 1;
}

static void store_tile_rows(const i32 *t, i32 *acc, i64 rows, i64 N, i64 c0, i64 width)
{
    for (i64 r = 0; r < rows; r++)
        for (i64 c = 0; c < width; c++) acc[r * N + c0 + c] = t[r * 16 + c];
}

typedef struct {
    i64 nb, r0, rows;
    int two, valid;
} tile_pos;

/* The results of one 16-row, 32-column step (tiles stored in t: hi, lo of the first 16 columns, then
   of the second 16): finished into j->out, or copied to acc. */
static void tile_epilogue(const qjob *j, i32 (*t)[256], tile_pos p)
{
    const i64 M = j->M, N = j->N;
    for (int b = 0; b < 1 + p.two; b++) {
        const i64 c0 = (p.nb + b) * 16, width = N - c0 < 16 ? N - c0 : 16;
        if (j->out)                                    /* finished here, from L1 */
            finish_rows(t[2 * b], t[2 * b + 1], 16, p.rows, width, j->e + p.r0, j->m2 + c0, j->b1 + c0, j->sh + c0,
                        j->out + p.r0 * j->ostride + c0, j->ostride, j->add);
        else {
            store_tile_rows(t[2 * b], j->acc + p.r0 * N, p.rows, N, c0, width);
            store_tile_rows(t[2 * b + 1], j->acc + (M + p.r0) * N, p.rows, N, c0, width);
        }
    }
}

static void amx_blocks(const qjob *j, i64 nb0, i64 nb1)
{
    const i64 M = j->M, Kp = j->Kp, N = j->N, nk = Kp / 64;
    tilecfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    _tile_loadconfig(&cfg);
    /* two sets of results: a step's are read back (finished) only after the next step's products are
       under way, so the vector work overlaps the tiles' and never waits for their stores */
    i32 out[2][4][256], corr[2][256];              /* corr: -128 column sums, in every row of a tile */
    tile_pos pend = {0, 0, 0, 0, 0};
    int cur = 0;
    for (i64 nb = nb0; nb < nb1; nb += 2) {
        const int two = nb + 1 < nb1;
        const i8 *w0 = j->W + nb * Kp * 16, *w1 = w0 + Kp * 16;
        for (int b = 0; b < 1 + two; b++)
            for (int c = 0; c < 256; c++) corr[b][c] = -128 * j->cs[(nb + b) * 16 + c % 16];
        /* whole tiles of a product kept as accumulators go straight to acc */
        const int direct = !j->out && nb * 16 + 16 * (1 + two) <= N;
        for (i64 r0 = 0; r0 < M; r0 += 16) {
            const uint8_t *ah = j->ab + r0 * Kp, *al = j->ab + (M + r0) * Kp;
            _tile_loadd(0, corr[0], 64);               /* hi: starts at -128 colsum (the +128 bias) */
            _tile_zero(1);
            _tile_loadd(2, corr[1], 64);
            _tile_zero(3);
            for (i64 kt = 0; kt < nk; kt++) {
                _tile_loadd(4, ah + kt * 64, Kp);
                _tile_loadd(5, al + kt * 64, Kp);
                _tile_loadd(6, w0 + kt * 1024, 64);
                _tile_dpbusd(0, 4, 6);
                _tile_dpbusd(1, 5, 6);
                if (two) {
                    _tile_loadd(7, w1 + kt * 1024, 64);
                    _tile_dpbusd(2, 4, 7);
                    _tile_dpbusd(3, 5, 7);
                }
            }
            if (pend.valid) tile_epilogue(j, out[cur ^ 1], pend);
            pend.valid = 0;
            const i64 rows = M - r0 < 16 ? M - r0 : 16;
            if (direct && rows == 16) {
                i32 *hi = j->acc + r0 * N + nb * 16, *lo = j->acc + (M + r0) * N + nb * 16;
                _tile_stored(0, hi, N * 4);
                _tile_stored(1, lo, N * 4);
                if (two) {
                    _tile_stored(2, hi + 16, N * 4);
                    _tile_stored(3, lo + 16, N * 4);
                }
                continue;
            }
            _tile_stored(0, out[cur][0], 64);
            _tile_stored(1, out[cur][1], 64);
            _tile_stored(2, out[cur][2], 64);
            _tile_stored(3, out[cur][3], 64);
            pend = (tile_pos) {nb, r0, rows, two, 1};
            cur ^= 1;
        }
    }
    if (pend.valid) tile_epilogue(j, out[cur ^ 1], pend);
    _tile_release();
}
#else
static int amx_ok(void)
{
    return 0;
}
#endif

static void product_cols(const qjob *j, i64 nb0, i64 nb1)
{
#if SI_AMX
    if (j->amx) {
        amx_blocks(j, nb0, nb1);
        return;
    }
#endif
    qmm_blocks(j, nb0, nb1);
}

/* A small pool of threads: the caller takes part 0, workers (started on first use, again after a
   fork) take the others; they spin briefly between jobs (decoding calls them back to back) and then
   sleep on a condition variable. A job is a function of (argument, part, parts). */
#define SI_MAX_THREADS 16
#define SI_SPIN_TICKS 4000000ull                /* about 1-2 ms */
#define SI_PARALLEL_BYTES ((i64) 1 << 20)       /* a product's weights from which it is split */
#define SI_PARALLEL_MACS ((i64) 1 << 23)        /* or its multiply-adds */

typedef void (*si_task)(void *arg, int part, int parts);

static pthread_mutex_t pool_busy = PTHREAD_MUTEX_INITIALIZER;   /* one caller at a time uses the pool */

static struct {
    int want, started, parts;
    pid_t pid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_long gen;
    atomic_int left;
    long born;                                 /* gen when the newest workers were started */
    si_task fn;
    void *arg;
} pool = {1, 0, 0, 0, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, NULL, NULL};

static void *pool_worker(void *arg)
{
    const int idx = (int) (intptr_t) arg;
    long seen = pool.born;                     /* not gen: a job may be posted before this thread runs */
    for (;;) {
        long g;
        const unsigned long long t0 = __rdtsc();
        while ((g = atomic_load_explicit(&pool.gen, memory_order_acquire)) == seen) {
            if (__rdtsc() - t0 < SI_SPIN_TICKS) {
                _mm_pause();
                continue;
            }
            pthread_mutex_lock(&pool.mu);
            while ((g = atomic_load(&pool.gen)) == seen) pthread_cond_wait(&pool.cv, &pool.mu);
            pthread_mutex_unlock(&pool.mu);
            break;
        }
        seen = g;
        if (idx < pool.parts) pool.fn(pool.arg, idx, pool.parts);
        atomic_fetch_sub_explicit(&pool.left, 1, memory_order_acq_rel);
    }
    return NULL;
}

static int pool_ready(void)                    /* workers running (the caller not counted) */
{
    if (pool.pid != getpid()) {                /* first use, or a forked child: no workers here */
        pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
        pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
        pool.mu = mu;
        pool.cv = cv;
        pool.started = 0;
        pool.pid = getpid();
    }
    pool.born = atomic_load(&pool.gen);
    while (pool.started < pool.want - 1) {
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&th, &at, pool_worker, (void *) (intptr_t) (pool.started + 1));
        pthread_attr_destroy(&at);
        if (rc != 0) break;                    /* fewer threads: same numbers */
        pool.started++;
    }
    return pool.started;
}

/* fn(arg, p, parts) for p < parts, parts <= max_parts, over the pool's threads; alone (parts 1) when
   the pool has one thread, or another thread of the process (a second decoder) holds it, or this
   is a child forked while one did (trylock never waits), or a job of the pool itself asks. */
static void parallel(si_task fn, void *arg, i64 max_parts)
{
    if (pool.want < 2 || max_parts < 2 || pthread_mutex_trylock(&pool_busy) != 0) {
        fn(arg, 0, 1);
        return;
    }
    int workers = pool_ready();
    if (workers == 0) {
        pthread_mutex_unlock(&pool_busy);
        fn(arg, 0, 1);
        return;
    }
    int parts = workers + 1 < max_parts ? workers + 1 : (int) max_parts;
    pool.fn = fn;
    pool.arg = arg;
    pool.parts = parts;
    atomic_store(&pool.left, workers);
    pthread_mutex_lock(&pool.mu);
    atomic_fetch_add_explicit(&pool.gen, 1, memory_order_release);
    pthread_cond_broadcast(&pool.cv);
    pthread_mutex_unlock(&pool.mu);
    fn(arg, 0, parts);
    while (atomic_load_explicit(&pool.left, memory_order_acquire) > 0) _mm_pause();
    pthread_mutex_unlock(&pool_busy);
}

static void qmm_part(void *arg, int part, int parts)
{
    const qjob *j = arg;
    const i64 nblocks = (j->N + 15) / 16;
    i64 nb0 = nblocks * part / parts, nb1 = nblocks * (part + 1) / parts;
    if (j->amx && parts > 1) {                 /* tiles go two column blocks at a time */
        nb0 = nb0 & ~(i64) 1;
        nb1 = part == parts - 1 ? nblocks : nb1 & ~(i64) 1;
    }
    product_cols(j, nb0, nb1);
}

/* Calls of at most this many rows (decoding) split every product by columns and the attention by
   kv heads over the pool's threads: each thread then keeps reading the same part of the weights and
   of the cache, which stay in its core's cache. */
#define SI_SPLIT_ROWS 16

static void qmm(const qjob *j)
{
    const i64 nblocks = (j->N + 15) / 16;
    if (j->Kp * nblocks * 16 < SI_PARALLEL_BYTES && j->M * j->Kp * nblocks * 16 < SI_PARALLEL_MACS &&
        (j->M > SI_SPLIT_ROWS || nblocks < 4)) {
        product_cols(j, 0, nblocks);
        return;
    }
    parallel(qmm_part, (void *) j, j->amx ? nblocks / 2 : nblocks);
}
#endif

/* 0: the int8 products are torch's; 1: the kernels' (AVX-512 VNNI); 2: calls of SI_AMX_ROWS rows or
   more on AMX tiles too. */
#define SI_AMX_ROWS 16

int si_qmm_kind(void)
{
#if SI_VNNI
    return amx_ok() ? 2 : 1;
#else
    return 0;
#endif
}

/* Switch the AMX tiles off (0) or on again (1, where the CPU and the OS allow); returns si_qmm_kind(). */
int si_set_amx(int on)
{
#if SI_VNNI && SI_AMX
    amx_want = on != 0;
#else
    (void) on;
#endif
    return si_qmm_kind();
}

/* Threads used for large products (1 = the caller only); returns the number set. */
int si_set_threads(int n)
{
#if SI_VNNI
    pool.want = n < 1 ? 1 : (n > SI_MAX_THREADS ? SI_MAX_THREADS : n);
    return pool.want;
#else
    (void) n;
    return 1;
#endif
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
        i64 *restrict o = out + r * d;
        const i64 D2 = D * 2;
        const double inv = 1.0 / (double) D2;
        for (i64 k = 0; k < d; k++) {                         /* |c| <= 2^20: numerators below 2^52 */
            i64 n = floor_quot(c[k] * ((i64) 1 << (FBITS + 5)) + D, D2, inv);
            o[k] = (n * g[k] + c0[k]) >> G;
        }
    }
}

/* lookup(x, table) in place: linear interpolation on a 2^-8 grid over [-R, R], identity above. */
void si_act(i64 *restrict x, i64 n, const i64 *restrict t, const i64 *restrict dt, i64 R)
{
    const i64 s = FBITS - 8, top = (2 * R) << FBITS, lim = R << FBITS, low = t[0] != 0 ? -lim : INT64_MIN;
    i64 k = 0;
#if defined(__AVX512F__) && defined(__AVX512DQ__)
    const __m512i vlim = _mm512_set1_epi64(lim), vtop = _mm512_set1_epi64(top - 1), zero = _mm512_setzero_si512(),
                  vfrac = _mm512_set1_epi64(((i64) 1 << s) - 1), vhalf = _mm512_set1_epi64((i64) 1 << (s - 1)),
                  vlow = _mm512_set1_epi64(low);
    for (; k + 8 <= n; k += 8) {                             /* the loop below, eight at a time */
        const __m512i v = _mm512_loadu_si512(x + k);
        __m512i u = _mm512_min_epi64(_mm512_max_epi64(_mm512_add_epi64(v, vlim), zero), vtop);
        const __m512i i = _mm512_srai_epi64(u, s);
        u = _mm512_and_si512(u, vfrac);
        const __m512i d = _mm512_i64gather_epi64(i, dt, 8), t0 = _mm512_i64gather_epi64(i, t, 8);
        __m512i y = _mm512_add_epi64(_mm512_srai_epi64(_mm512_add_epi64(_mm512_mullo_epi64(d, u), vhalf), s), t0);
        y = _mm512_mask_mov_epi64(y, _mm512_cmplt_epi64_mask(v, vlow), zero);
        y = _mm512_mask_mov_epi64(y, _mm512_cmpge_epi64_mask(v, vlim), v);
        _mm512_storeu_si512(x + k, y);
    }
#endif
    for (; k < n; k++) {
        const i64 v = x[k];
        i64 u = clip64(v + lim, 0, top - 1);
        const i64 i = u >> s;
        u &= ((i64) 1 << s) - 1;
        const i64 y = ((dt[i] * u + ((i64) 1 << (s - 1))) >> s) + t[i];
        x[k] = v >= lim ? v : (v < low ? 0 : y);               /* identity above, 0 below if t[0] != 0 */
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

/* A query row after its rotary embedding, clipped and quantised to 17 bits (quantize_rows): qa
   (doubles, exact); returns the scale s of its scores. `row` is scratch of hs entries. */
static double query_row(const i64 *qr, i64 hs, const i64 *cs, const i64 *sn, i64 rclamp, i64 cmul, i64 R,
                        i64 *row, double *qa)
{
    const i64 QK_CLAMP = ((i64) 1 << 35) - 1;
    for (i64 d = 0; d < hs; d++) row[d] = qr[d];
    if (cs) rope_pair(row, hs / 2, cs, sn, rclamp);
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
    return s;
}

/* The scores u (n) of one query, in place: softmax weights floor(exp(u - max) 2^24 / sum) (exact:
   table values and their integer sum below 2^53). */
static void weights_row(double *u, i64 n, double mx, const double *tab, double L)
{
    const double total = exp_weights(u, n, mx, tab, L);
    for (i64 j = 0; j < n; j++) {
        double p = u[j];
        p *= 16777216.0;
        p /= total;
        u[j] = (double) (i64) p;                    /* floor: p >= 0 */
    }
}

static inline void out_row(const double *acc, i64 hs, i64 *o)     /* round(acc 2^-24), half up */
{
    for (i64 d = 0; d < hs; d++) {
        double y = acc[d] * 0x1p-24;
        y += 0.5;
        o[d] = floor_i64(y);
    }
}

/* a * b + c. Every use multiplies and adds integers whose products and sums stay below 2^53 (exact),
   so a fused multiply-add gives the same doubles as a product and a sum. */
static inline v8d madd(v8d a, v8d b, v8d c)
{
#if defined(__AVX512F__)
    return (v8d) _mm512_fmadd_pd((__m512d) a, (__m512d) b, (__m512d) c);
#else
    return a * b + c;
#endif
}

static inline v8d splat(double x)
{
    return (v8d) {x, x, x, x, x, x, x, x};
}

/* Many queries (encoding): QB consecutive queries of one head at a time against the keys as
   doubles, transposed (kt (hs, ldk): kt[d ldk + j] = key j's d-th entry), 16 keys per step, and
   the values as doubles (vd (ldk, hs)); hs a multiple of 8. u: QB rows of ldk scores. Queries past
   their own position see weight 0 (their terms add exact zeros). */
#define QB 4

static void scores_block(const double *qa, const double *kt, i64 ldk, i64 n, i64 hs, double *u)
{
    for (i64 j = 0; j < n; j += 16) {
        v8d a[QB][2];
        for (int r = 0; r < QB; r++) a[r][0] = a[r][1] = splat(0.0);
        for (i64 d = 0; d < hs; d++) {
            const v8d k0 = load8(kt + d * ldk + j), k1 = load8(kt + d * ldk + j + 8);
            for (int r = 0; r < QB; r++) {
                const v8d x = splat(qa[r * hs + d]);
                a[r][0] = madd(x, k0, a[r][0]);
                a[r][1] = madd(x, k1, a[r][1]);
            }
        }
        for (int r = 0; r < QB; r++) {
            store8(u + r * ldk + j, a[r][0]);
            store8(u + r * ldk + j + 8, a[r][1]);
        }
    }
}

static void weighted_block(const double *p, i64 ldk, const double *vd, i64 n, i64 hs, double *o)
{
    i64 d = 0;
    for (; d + 32 <= hs; d += 32) {
        v8d a[QB][4];
        for (int r = 0; r < QB; r++) a[r][0] = a[r][1] = a[r][2] = a[r][3] = splat(0.0);
        for (i64 j = 0; j < n; j++) {
            const double *vr = vd + j * hs + d;
            const v8d v0 = load8(vr), v1 = load8(vr + 8), v2 = load8(vr + 16), v3 = load8(vr + 24);
            for (int r = 0; r < QB; r++) {
                const v8d w = splat(p[r * ldk + j]);
                a[r][0] = madd(w, v0, a[r][0]);
                a[r][1] = madd(w, v1, a[r][1]);
                a[r][2] = madd(w, v2, a[r][2]);
                a[r][3] = madd(w, v3, a[r][3]);
            }
        }
        for (int r = 0; r < QB; r++)
            for (int i = 0; i < 4; i++) store8(o + r * hs + d + 8 * i, a[r][i]);
    }
    for (; d < hs; d += 8) {
        v8d a[QB];
        for (int r = 0; r < QB; r++) a[r] = splat(0.0);
        for (i64 j = 0; j < n; j++) {
            const v8d v0 = load8(vd + j * hs + d);
            for (int r = 0; r < QB; r++) a[r] = madd(splat(p[r * ldk + j]), v0, a[r]);
        }
        for (int r = 0; r < QB; r++) store8(o + r * hs + d, a[r]);
    }
}

/* One attention call for T new tokens of B rows (positions n_old .. n_old + T - 1):
   optional rotary embedding of q and k (cos/sin tables (n_pos, hs/2) at Q28, clamp rclamp),
   prepare_kv of the new keys/values into the caches ck, cv (B, Hk, cap, hs) int32 at n_old.. (their
   values, |k| <= 2^24 and |v| <= 2^27, in half the bytes of prepare_kv's float64),
   then causal attention of every query head h (kv head h / (H / Hk)) over keys 0 .. its position.
   q, k, v: int64 with strides (b, h, t) in elements, the last axis contiguous.
   out: (B, T, H * hs) int64. tab: the exp table as float64 (tablen entries).
   One query at a time from the int32 cache (decoding), or, for calls of at least QB tokens and hs a
   multiple of 8, QB at a time from a copy of the cache as doubles (encoding): the same integers. */
typedef struct {                               /* si_attend's arguments, for a job of the pool */
    const i64 *q;
    i64 qsb, qsh, qst;
    const i64 *k, *v;
    i64 ksb, ksh, kst, B, H, Hk, T, hs;
    i32 *ck, *cv;
    i64 cap, n_old;
    const i64 *cosv, *sinv;
    i64 rclamp, cmul, R;
    const double *tab;
    i64 tablen;
    i64 *out;
    int kv_only;                               /* store the new keys and values, attend to nothing */
    int rc[16];
} attn_job;

/* si_attend for the kv heads g0 .. g1 - 1 (and their query heads) only. */
static int attend_groups(const attn_job *A, i64 g0, i64 g1)
{
    const i64 *q = A->q, qsb = A->qsb, qsh = A->qsh, qst = A->qst, *k = A->k, *v = A->v, ksb = A->ksb, ksh = A->ksh,
              kst = A->kst, B = A->B, H = A->H, Hk = A->Hk, T = A->T, hs = A->hs, cap = A->cap, n_old = A->n_old,
              *cosv = A->cosv, *sinv = A->sinv, rclamp = A->rclamp, cmul = A->cmul, R = A->R, tablen = A->tablen;
    i32 *ck = A->ck, *cv = A->cv;
    const double *tab = A->tab;
    i64 *out = A->out;
    const i64 rep = H / Hk, half = hs / 2, Tk = n_old + T;
    const i64 K_CLAMP = (i64) 1 << 24, V_CLAMP = (i64) 1 << 27;
    const int blocked = T >= QB && hs % 8 == 0;
    const i64 ldk = (Tk + 15) & ~(i64) 15;                        /* keys padded to 16 (zeros) */
    i64 *row = malloc(sizeof(i64) * hs);
    double *u = malloc(sizeof(double) * (blocked ? QB * ldk : Tk)), *qa = malloc(sizeof(double) * QB * hs);
    double *kt = blocked ? malloc(sizeof(double) * 2 * ldk * hs) : NULL, *vd = kt ? kt + ldk * hs : NULL;
    if (!row || !u || !qa || (blocked && !kt)) { free(row); free(u); free(qa); free(kt); return -1; }
    const double L = (double) (tablen - 1);
    for (i64 b = 0; b < B; b++) {
        for (i64 g = g0; g < g1; g++) {                             /* the new keys and values */
            for (i64 t = 0; t < T; t++) {
                const i64 *kr = k + b * ksb + g * ksh + t * kst, *vr = v + b * ksb + g * ksh + t * kst;
                for (i64 d = 0; d < hs; d++) row[d] = kr[d];
                if (cosv) rope_pair(row, half, cosv + (n_old + t) * half, sinv + (n_old + t) * half, rclamp);
                i32 *kc = ck + ((b * Hk + g) * cap + n_old + t) * hs, *vc = cv + ((b * Hk + g) * cap + n_old + t) * hs;
                for (i64 d = 0; d < hs; d++) {
                    kc[d] = (i32) clip64((row[d] + 8) >> 4, -K_CLAMP, K_CLAMP);
                    vc[d] = (i32) clip64(vr[d], -V_CLAMP, V_CLAMP);
                }
            }
        }
        if (A->kv_only) continue;
        for (i64 h = g0 * rep; h < g1 * rep; h++) {
            const i64 g = h / rep;
            const i32 *kc = ck + (b * Hk + g) * cap * hs, *vc = cv + (b * Hk + g) * cap * hs;
            if (!blocked) {
                for (i64 t = 0; t < T; t++) {
                    const i64 pos = n_old + t, nvis = pos + 1;
                    const double s = query_row(q + b * qsb + h * qsh + t * qst, hs, cosv ? cosv + pos * half : NULL,
                                               sinv ? sinv + pos * half : NULL, rclamp, cmul, R, row, qa);
                    const double mx = scores(qa, kc, nvis, hs, s, u);
                    weights_row(u, nvis, mx, tab, L);
                    weighted_rows(qa, u, vc, nvis, hs);
                    out_row(qa, hs, out + (b * T + t) * (H * hs) + h * hs);
                }
                continue;
            }
            if (h % rep == 0) {                                     /* this kv head as doubles */
                for (i64 j = 0; j < ldk; j++)
                    for (i64 d = 0; d < hs; d++) {
                        const int in = j < Tk;
                        kt[d * ldk + j] = in ? (double) kc[j * hs + d] : 0.0;
                        vd[j * hs + d] = in ? (double) vc[j * hs + d] : 0.0;
                    }
            }
            for (i64 t0 = 0; t0 < T; t0 += QB) {
                double sc[QB];
                i64 nv[QB];
                for (int r = 0; r < QB; r++) {
                    const i64 t = t0 + r < T ? t0 + r : T - 1, pos = n_old + t;   /* past T: a copy, dropped */
                    nv[r] = pos + 1;
                    sc[r] = query_row(q + b * qsb + h * qsh + t * qst, hs, cosv ? cosv + pos * half : NULL,
                                      sinv ? sinv + pos * half : NULL, rclamp, cmul, R, row, qa + r * hs);
                }
                const i64 n = nv[QB - 1], np = (n + 15) & ~(i64) 15;
                scores_block(qa, kt, ldk, np, hs, u);
                for (int r = 0; r < QB; r++) {
                    double *ur = u + r * ldk;
                    const double mx = scale_max(ur, nv[r], sc[r]);    /* as scores(): dot, then times s */
                    weights_row(ur, nv[r], mx, tab, L);
                    for (i64 j = nv[r]; j < n; j++) ur[j] = 0.0;
                }
                weighted_block(u, ldk, vd, n, hs, qa);
                for (int r = 0; r < QB && t0 + r < T; r++)
                    out_row(qa + r * hs, hs, out + (b * T + t0 + r) * (H * hs) + h * hs);
            }
        }
    }
    free(row); free(u); free(qa); free(kt);
    return 0;
}

static void attend_part(void *arg, int part, int parts)
{
    attn_job *A = arg;
    A->rc[part] = attend_groups(A, A->Hk * part / parts, A->Hk * (part + 1) / parts);
}

/* The attention of T new tokens for B rows: see attend_groups; decoding calls (SI_SPLIT_ROWS) split
   the kv heads over the pool's threads. */
static int attend_run(attn_job *A)
{
#if SI_VNNI
    if (A->B * A->T <= SI_SPLIT_ROWS && A->Hk >= 2) {
        parallel(attend_part, A, A->Hk);
        for (int p = 0; p < 16; p++)
            if (A->rc[p] != 0) return A->rc[p];
        return 0;
    }
#endif
    return attend_groups(A, 0, A->Hk);
}

int si_attend(const i64 *q, i64 qsb, i64 qsh, i64 qst, const i64 *k, const i64 *v, i64 ksb, i64 ksh,
              i64 kst, i64 B, i64 H, i64 Hk, i64 T, i64 hs, i32 *ck, i32 *cv, i64 cap,
              i64 n_old, const i64 *cosv, const i64 *sinv, i64 rclamp, i64 cmul, i64 R,
              const double *tab, i64 tablen, i64 *out)
{
    attn_job A = {q, qsb, qsh, qst, k, v, ksb, ksh, kst, B, H, Hk, T, hs, ck, cv, cap, n_old, cosv, sinv, rclamp,
                  cmul, R, tab, tablen, out, 0, {0}};
    return attend_run(&A);
}

/* head_freqs from the int8 products acc (2M, N) of si_split: rows (M, N) int64,
   floor(exp(z - max) 2^30 / sum) + 1. A job of rows r0 .. r1 - 1 (part of parts). */
typedef struct {
    const i32 *acc;
    const i64 *e;
    i64 M, N, shift, tablen;
    const double *md, *tab;
    i64 *out;
    int rc[16];                                /* per part (SI_MAX_THREADS) */
} head_job;

static void head_part(void *arg, int part, int parts)              /* rows r0 .. r1 - 1 of si_head */
{
    head_job *j = arg;
    const i64 M = j->M, N = j->N, r0 = M * part / parts, r1 = M * (part + 1) / parts;
    double *z = malloc(sizeof(double) * N);
    j->rc[part] = z ? 0 : -2;
    if (!z) return;
    const double L = (double) (j->tablen - 1);
    for (i64 r = r0; r < r1; r++) {
        const i32 *hi = j->acc + r * N, *lo = j->acc + (M + r) * N;
        const double p2 = ldexp(1.0, (int) (j->e[r] + (12 - FBITS - j->shift)));
        for (i64 c = 0; c < N; c++) {
            double v = (double) ((i64) hi[c] * 128 + lo[c]);
            v *= j->md[c];
            v *= p2;
            z[c] = v;
        }
        double total = exp_weights(z, N, max_of(z, N), j->tab, L);
        i64 *o = j->out + r * N;
        for (i64 c = 0; c < N; c++) {
            double w = z[c];
            w *= 1073741824.0;
            w /= total;
            o[c] = (i64) w + 1;                                 /* floor: w >= 0 */
        }
    }
    free(z);
}

int si_head(const i32 *acc, i64 M, i64 N, const i64 *e, const double *md, i64 shift, const double *tab,
            i64 tablen, i64 *out)
{
    head_job j = {acc, e, M, N, shift, tablen, md, tab, out, {0}};
    head_part(&j, 0, 1);
    return j.rc[0];
}

/* ---------------------------------------------------------------------------------------------
   Whole layers for decoding: one call per linear layer, per transformer block and for the head,
   with the VNNI product (only built where si_qmm_kind() is 1). */

/* One linear layer (a QLinear, or a QStack: layers side by side) as the kernels take it. */
typedef struct {
    i64 K, N, Kp, lim;
    const i8 *W;                               /* packed (Np / 16, Kp / 4, 16, 4) */
    const i32 *cs;                             /* (Np) column sums */
    const i64 *m2, *b1, *sh;                   /* per column: 2 m_c, 2 b_c + 1, shift */
    i64 nsub;                                  /* layers in a stack (1: a QLinear) */
    const i64 *sub_lim, *sub_end;              /* each layer's input limit and end column */
} si_lin;

#if SI_VNNI
/* Per-thread scratch, grown as needed (never shrunk): [0] the products' split rows, e and
   accumulators; [1] a block's intermediate rows. */
static _Thread_local void *scratch_mem[2] = {NULL, NULL};
static _Thread_local size_t scratch_size[2] = {0, 0};

static void *scratch_get(int which, size_t bytes)
{
    if (bytes > scratch_size[which]) {
        void *p = realloc(scratch_mem[which], bytes);
        if (!p) return NULL;
        scratch_mem[which] = p;
        scratch_size[which] = bytes;
    }
    return scratch_mem[which];
}
#endif

/* The int8 product of rows x (M, K) int64 clipped to +-lim: e (M) and acc (2M, N) exactly as
   si_split followed by torch._int_mm. Returns si_split's flag, -1 when the product is not built
   in, -2 without memory. With `out` (not NULL) and AMX tiles, the product is finished at once into
   rows of out (M, N) (add: added; finish_cols's numbers) and *acc_out is NULL; so is it, with no
   product made, when the input passed the limit of a stack (its layers are then made one by one). */
static int lin_product(const si_lin *L, const i64 *x, i64 M, i64 lim, i64 **e_out, i32 **acc_out, i64 *out,
                       int add)
{
#if SI_VNNI
    const i64 Kp = L->Kp, K = L->K;
    const int amx = M >= SI_AMX_ROWS && Kp % 64 == 0 && amx_ok();
    size_t nab = (size_t) ((2 * M + 16) * Kp + 63) & ~(size_t) 63, ne = (size_t) M * 8, nacc = (size_t) (2 * M * L->N) * 4;
    uint8_t *ab = scratch_get(0, nab + ne + nacc);
    if (!ab) return -2;
    i64 *e = (i64 *) (ab + nab);
    i32 *acc = (i32 *) (ab + nab + ne);
    for (i64 r = 0; r < 2 * M; r++)                                  /* the padding inputs */
        memset(ab + r * Kp + K, r < M ? 128 : 0, (size_t) (Kp - K));
    int over = split_rows(x, M, K, lim, Kp, 128, ab, e);
    *e_out = e;
    *acc_out = acc;
    const int fused = amx && out != NULL;
    if (fused && over && L->nsub > 1) {
        *acc_out = NULL;
        return over;
    }
    qjob j = {ab, M, Kp, L->N, L->W, L->cs, acc, amx, e, L->m2, L->b1, L->sh, fused ? out : NULL, L->N, add};
    qmm(&j);
    if (fused) *acc_out = NULL;
    return over;
#else
    (void) L; (void) x; (void) M; (void) lim; (void) e_out; (void) acc_out; (void) out; (void) add;
    return -1;
#endif
}

/* A whole linear layer: out (M, N) (add: added) from rows x (M, K), 0 or -1 / -2 as lin_product.
   A stack whose input reaches its (smallest) limit computes each layer alone, as QStack does: the
   whole product again with that layer's limit, keeping its columns. */
int si_linear(const si_lin *L, const i64 *x, i64 M, i64 *out, int add)
{
    i64 *e;
    i32 *acc;
    int over = lin_product(L, x, M, L->lim, &e, &acc, out, add);
    if (over < 0) return over;
    if (!over || L->nsub <= 1) {
        if (acc) finish_cols(acc, M, L->N, 0, L->N, e, L->m2, L->b1, L->sh, out, L->N, add);
        return 0;
    }
    i64 c0 = 0;
    for (i64 s = 0; s < L->nsub; s++) {
        int rc = lin_product(L, x, M, L->sub_lim[s], &e, &acc, NULL, 0);
        if (rc < 0) return rc;
        const i64 c1 = L->sub_end[s];
        finish_cols(acc, M, L->N, c0, c1 - c0, e, L->m2 + c0, L->b1 + c0, L->sh + c0, out + c0, L->N, add);
        c0 = c1;
    }
    return 0;
}


/* The output head: frequency rows out (M, N) of rows x (M, K) (si_head after the product; the rows
   split over the pool's threads). */
int si_linear_head(const si_lin *L, const i64 *x, i64 M, const double *md, i64 shift, const double *tab,
                   i64 tablen, i64 *out)
{
#if SI_VNNI
    i64 *e;
    i32 *acc;
    int over = lin_product(L, x, M, L->lim, &e, &acc, NULL, 0);
    if (over < 0) return over;
    head_job j = {acc, e, M, L->N, shift, tablen, md, tab, out, {0}};
    parallel(head_part, &j, M);
    for (int p = 0; p < SI_MAX_THREADS; p++)
        if (j.rc[p] != 0) return -2;
    return 0;
#else
    (void) L; (void) x; (void) M; (void) md; (void) shift; (void) tab; (void) tablen; (void) out;
    return -1;
#endif
}

/* One pre-norm transformer block (GPT-2 or Llama) on the residual rows x (B T, d), in place:
     x += o(attention(qkv(norm1(x))));  x += down(mlp(up(norm2(x))))
   with mlp the activation table in place (GELU) or SwiGLU of [gate | up]. The new keys and values
   go to the caches ck, cv (B, Hk, cap, hs) at positions pos0 .. pos0 + T - 1. The same integers as
   the per-kernel calls of fast.py (which this strings together). Returns 0, or -1 / -2. */
typedef struct {
    i64 d, center, G;
    const i64 *eps, *g1, *c1, *g2, *c2;        /* norms: eps table, gains and offsets */
    const si_lin *qkv, *o, *up, *down;
    i64 swiglu, act_R, act_clamp;
    const i64 *act_t, *act_dt;
    i64 H, Hk, hs, cmul, R, exp_len, rope_clamp;
    const double *exp_tab;
    const i64 *cos, *sin;                      /* NULL: no rotary embedding */
} si_block_spec;

#if SI_VNNI
/* kv_only: the rows' keys and values go to the cache and nothing else is computed (rows whose
   output nobody reads: the history of an encoder's restart segment, in the last block). */
static int block_rows(const si_block_spec *S, i64 *x, i64 B, i64 T, i32 *ck, i32 *cv, i64 cap, i64 pos0,
                      int kv_only)
{
    const i64 M = B * T, d = S->d, nq = S->qkv->N, na = S->o->K, nu = S->up->N, nm = S->down->K;
    size_t words = (size_t) (M * (d + nq + na + nu + (S->swiglu ? nm : 0)) + d);
    i64 *h = scratch_get(1, words * 8);
    if (!h) return -2;
    i64 *qkv = h + M * d, *att = qkv + M * nq, *up = att + M * na, *mid = up + M * nu, *tmp = mid + (S->swiglu ? M * nm : 0);
    int rc;
    si_norm(x, M, d, S->eps, (int) S->center, S->g1, S->c1, S->G, h, tmp);
    if ((rc = si_linear(S->qkv, h, M, qkv, 0)) < 0) return rc;
    const i64 H = S->H, Hk = S->Hk, hs = S->hs;
    attn_job A = {qkv, T * nq, hs, nq, qkv + H * hs, qkv + (H + Hk) * hs, T * nq, hs, nq, B, H, Hk, T, hs, ck, cv,
                  cap, pos0, S->cos, S->sin, S->rope_clamp, S->cmul, S->R, S->exp_tab, S->exp_len, att, kv_only, {0}};
    if (attend_run(&A) != 0) return -2;
    if (kv_only) return 0;
    if ((rc = si_linear(S->o, att, M, x, 1)) < 0) return rc;
    si_norm(x, M, d, S->eps, (int) S->center, S->g2, S->c2, S->G, h, tmp);
    if ((rc = si_linear(S->up, h, M, up, 0)) < 0) return rc;
    if (S->swiglu) {
        si_swiglu(up, M, nu / 2, S->act_t, S->act_dt, S->act_R, S->act_clamp, mid);
    } else {
        si_act(up, M * nu, S->act_t, S->act_dt, S->act_R);
        mid = up;
    }
    return si_linear(S->down, mid, M, x, 1);
}

/* Rows of a batch run through all the blocks together, at most SI_BLOCK_ROWS at a time (the scratch
   of a block is about 14 KB per row for builtin:gpt, 54 KB for SmolLM2: a run's rows stay in cache
   from one block to the next). */
#ifndef SI_BLOCK_ROWS
#define SI_BLOCK_ROWS 64
#endif

typedef struct {
    const si_block_spec *const *S;
    i64 L, B, T, pos0, skip;
    i64 *x;
    i32 *const *ck, *const *cv;
    const i64 *cap;
    int rc[SI_MAX_THREADS];
} blocks_job;

static void blocks_part(void *arg, int part, int parts)
{
    blocks_job *j = arg;
    const i64 b1 = j->B * (part + 1) / parts, T = j->T;
    /* rows of several sequences together, or a long sequence in runs of tokens (a run's keys and
       values are in the cache before the next run attends to them: the same numbers) */
    const i64 nbs = SI_BLOCK_ROWS / T > 1 ? SI_BLOCK_ROWS / T : 1, tcs = T < SI_BLOCK_ROWS ? T : SI_BLOCK_ROWS;
    j->rc[part] = 0;
    for (i64 b = j->B * part / parts; b < b1; b += nbs) {
        const i64 nb = b1 - b < nbs ? b1 - b : nbs;
        for (i64 t0 = 0; t0 < T; t0 += tcs) {
            const i64 tc = T - t0 < tcs ? T - t0 : tcs;
            for (i64 l = 0; l < j->L; l++) {
                const si_block_spec *S = j->S[l];
                const i64 off = b * S->Hk * j->cap[l] * S->hs;
                /* the last block: rows before `skip` (one sequence at a time) need only their keys and values */
                const i64 cut = l == j->L - 1 && nb == 1 && j->skip > t0 ? (j->skip < t0 + tc ? j->skip : t0 + tc) : t0;
                int rc = 0;
                if (cut > t0)
                    rc = block_rows(S, j->x + (b * T + t0) * S->d, 1, cut - t0, j->ck[l] + off, j->cv[l] + off,
                                    j->cap[l], j->pos0 + t0, 1);
                if (rc == 0 && cut < t0 + tc)
                    rc = block_rows(S, j->x + (b * T + cut) * S->d, nb, t0 + tc - cut, j->ck[l] + off,
                                    j->cv[l] + off, j->cap[l], j->pos0 + cut, 0);
                if (rc != 0) {
                    j->rc[part] = rc;
                    return;
                }
            }
        }
    }
}
#endif

/* L pre-norm transformer blocks (GPT-2 or Llama) on the residual rows x (B T, d), in place; for
   each block l:
     x += o(attention(qkv(norm1(x))));  x += down(mlp(up(norm2(x))))
   with mlp the activation table in place (GELU) or SwiGLU of [gate | up]. The new keys and values
   go to block l's caches ck[l], cv[l] (B, Hk, cap[l], hs) at positions pos0 .. pos0 + T - 1. The
   batch rows are split over the pool's threads (each row's numbers do not depend on the others).
   The same integers as the per-kernel calls of fast.py (which this strings together). Rows of a
   sequence before `skip` are wanted for their keys and values only: the last block leaves their
   outputs in x unfinished. Returns 0, or -1 (no VNNI product built in) / -2 (no memory). */
int si_blocks(const si_block_spec *const *S, i64 L, i64 *x, i64 B, i64 T, i32 *const *ck, i32 *const *cv,
              const i64 *cap, i64 pos0, i64 skip)
{
#if SI_VNNI
    blocks_job j = {S, L, B, T, pos0, skip, x, ck, cv, cap, {0}};
    parallel(blocks_part, &j, B);
    int rc = 0;
    for (int p = 0; p < SI_MAX_THREADS; p++)
        if (j.rc[p] != 0) rc = j.rc[p];
    return rc;
#else
    (void) S; (void) L; (void) x; (void) B; (void) T; (void) ck; (void) cv; (void) cap; (void) pos0; (void) skip;
    return -1;
#endif
}

/* ---------------------------------------------------------------------------------------------
   The context mixer's row (seminfo.coding.mixing, its formulas): with Q = 2^30,
     P0[v] = floor(Q (2 c0[v] + 1) / (2 n0 + K)),
     P1[v] = floor((Q c1[v] + P0[v]) / (n1 + 1)),  P2[v] = floor((Q c2[v] + P1[v]) / (n2 + 1))
   (the counts c1, c2 sparse: m entries idx/cnt, none: that level is skipped), and the mixed row
     out[v] = floor(w F[v] / 2^17) + floor((2^16 - w) P2[v] / 2^17) + 1.
   Every quotient is of non-negative integers below 2^62 and at most 2^31: a times 1/D in double
   precision is within 2^-20 of it, and one correction step makes it the exact floor, so the rows
   are the numpy path's. p2 gets P2 (the mixer's update reads it); tmp is scratch of K entries. */

static void back_off(const i64 *base, i64 K, const i64 *idx, const i64 *cnt, i64 m, i64 n, i64 *out)
{
    const i64 D = n + 1;
    const double inv = 1.0 / (double) D;
    for (i64 v = 0; v < K; v++) out[v] = floor_quot(base[v], D, inv);
    for (i64 e = 0; e < m; e++) out[idx[e]] = floor_quot((cnt[e] << 30) + base[idx[e]], D, inv);
}

void si_mix_row(const i64 *F, i64 K, const i64 *c0, i64 n0, const i64 *i1, const i64 *k1, i64 m1, i64 n1,
                const i64 *i2, const i64 *k2, i64 m2, i64 n2, i64 w, i64 *p2, i64 *tmp, i64 *out)
{
    const i64 D0 = 2 * n0 + K;
    const double inv0 = 1.0 / (double) D0;
    i64 *p0 = ((m1 > 0) + (m2 > 0)) % 2 == 0 ? p2 : tmp;       /* levels alternate: P2 ends in p2 */
    for (i64 v = 0; v < K; v++) p0[v] = floor_quot((2 * c0[v] + 1) << 30, D0, inv0);
    const i64 *p = p0;
    if (m1 > 0) {
        i64 *dst = p0 == tmp ? p2 : tmp;
        back_off(p, K, i1, k1, m1, n1, dst);
        p = dst;
    }
    if (m2 > 0) {
        i64 *dst = p == tmp ? p2 : tmp;
        back_off(p, K, i2, k2, m2, n2, dst);
        p = dst;
    }
    if (p != p2)
        for (i64 v = 0; v < K; v++) p2[v] = p[v];
    const i64 wm = 65536 - w;
    for (i64 v = 0; v < K; v++) out[v] = ((F[v] * w) >> 17) + ((p2[v] * wm) >> 17) + 1;
}

/* The whole context mixer of a block in C (seminfo.coding.mixing.ContextMixer's state and update):
   unigram counts c0, and the sparse counts of the tokens that followed each context (the last token;
   the last two), found through two open-addressing hash maps: context key -> context, and
   (context, token) -> the token's place in that context's arrays. The rows are si_mix_row's; the
   update is ContextMixer.update's, integer for integer (the weight's quotient in 128 bits). */
typedef struct {
    i64 *keys, *vals, cap, used;               /* keys stored + 1 (0: empty) */
} si_hmap;

typedef struct {
    i64 *idx, *cnt, m, cap, n;                 /* tokens seen after the context, counts, their sum */
} si_ctx;

typedef struct {
    i64 K, n0, w, prev0, prev1;
    i64 *c0, *p2, *tmp, *tmp2;
    const i64 *F;                              /* the last mixed row's model row (for the update) */
    si_hmap ctxs, ents;
    si_ctx *ctx;
    i64 nctx, ctxcap;
} si_mixer;

static inline uint64_t mix64(uint64_t z)       /* splitmix64's finaliser */
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static i64 hget(const si_hmap *h, i64 key)     /* the value, or -1 */
{
    if (!h->cap) return -1;
    for (uint64_t i = mix64((uint64_t) key) & (uint64_t) (h->cap - 1);; i = (i + 1) & (uint64_t) (h->cap - 1)) {
        if (h->keys[i] == 0) return -1;
        if (h->keys[i] == key + 1) return h->vals[i];
    }
}

static int hput(si_hmap *h, i64 key, i64 val)  /* a new key; 0, or -2 without memory */
{
    if (2 * (h->used + 1) > h->cap) {
        si_hmap g = {NULL, NULL, h->cap ? 2 * h->cap : 64, 0};
        g.keys = calloc((size_t) g.cap, sizeof(i64));
        g.vals = malloc(sizeof(i64) * (size_t) g.cap);
        if (!g.keys || !g.vals) { free(g.keys); free(g.vals); return -2; }
        for (i64 i = 0; i < h->cap; i++)
            if (h->keys[i]) hput(&g, h->keys[i] - 1, h->vals[i]);
        free(h->keys);
        free(h->vals);
        *h = g;
    }
    uint64_t i = mix64((uint64_t) key) & (uint64_t) (h->cap - 1);
    while (h->keys[i]) i = (i + 1) & (uint64_t) (h->cap - 1);
    h->keys[i] = key + 1;
    h->vals[i] = val;
    h->used++;
    return 0;
}

void si_mixer_free(si_mixer *s)
{
    if (!s) return;
    for (i64 c = 0; c < s->nctx; c++) { free(s->ctx[c].idx); free(s->ctx[c].cnt); }
    free(s->ctx); free(s->c0); free(s->p2); free(s->tmp); free(s->tmp2);
    free(s->ctxs.keys); free(s->ctxs.vals); free(s->ents.keys); free(s->ents.vals);
    free(s);
}

si_mixer *si_mixer_new(i64 K, i64 w0)
{
    si_mixer *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->K = K;
    s->w = w0;
    s->prev0 = s->prev1 = -1;
    s->c0 = calloc((size_t) K, sizeof(i64));
    s->p2 = malloc(sizeof(i64) * (size_t) K);
    s->tmp = malloc(sizeof(i64) * (size_t) K);
    s->tmp2 = malloc(sizeof(i64) * (size_t) K);
    if (!s->c0 || !s->p2 || !s->tmp || !s->tmp2) { si_mixer_free(s); return NULL; }
    return s;
}

i64 si_mixer_weight(const si_mixer *s)
{
    return s->w;
}

/* contexts: the last token (prev1, key 0 .. K) and the last two ((prev0, prev1): keys from K + 1) */
static inline i64 key1(const si_mixer *s) { return s->prev1 + 1; }
static inline i64 key2(const si_mixer *s) { return (s->K + 1) * (1 + (s->prev0 + 1)) + s->prev1 + 1; }

/* The mixed row out (K) of the model's row F (K) (kept, by address, for si_mixer_update). */
void si_mixer_mix(si_mixer *s, const i64 *F, i64 *out)
{
    const i64 a = hget(&s->ctxs, key1(s)), b = hget(&s->ctxs, key2(s));
    const si_ctx none = {NULL, NULL, 0, 0, 0}, *c1 = a >= 0 ? &s->ctx[a] : &none, *c2 = b >= 0 ? &s->ctx[b] : &none;
    si_mix_row(F, s->K, s->c0, s->n0, c1->idx, c1->cnt, c1->m, c1->n, c2->idx, c2->cnt, c2->m, c2->n, s->w, s->p2,
               s->tmp, out);
    s->F = F;
}

static int room(void **p, i64 cap, size_t size)  /* *p reallocated for cap elements; -2: no memory */
{
    void *q = realloc(*p, size * (size_t) cap);
    if (!q) return -2;
    *p = q;
    return 0;
}

static int count(si_mixer *s, i64 key, i64 x)  /* one more x after context `key` */
{
    i64 c = hget(&s->ctxs, key);
    if (c < 0) {
        if (s->nctx == s->ctxcap) {
            const i64 cap = s->ctxcap ? 2 * s->ctxcap : 64;
            if (room((void **) &s->ctx, cap, sizeof(si_ctx)) != 0) return -2;
            s->ctxcap = cap;
        }
        c = s->nctx;
        if (hput(&s->ctxs, key, c) != 0) return -2;
        s->ctx[c] = (si_ctx) {NULL, NULL, 0, 0, 0};
        s->nctx++;
    }
    si_ctx *ctx = &s->ctx[c];
    const i64 ekey = c * (s->K + 1) + x;
    i64 e = hget(&s->ents, ekey);
    if (e < 0) {
        if (ctx->m == ctx->cap) {
            const i64 cap = ctx->cap ? 2 * ctx->cap : 4;
            if (room((void **) &ctx->idx, cap, sizeof(i64)) != 0 || room((void **) &ctx->cnt, cap, sizeof(i64)) != 0)
                return -2;
            ctx->cap = cap;
        }
        e = ctx->m;
        if (hput(&s->ents, ekey, e) != 0) return -2;
        ctx->idx[e] = x;
        ctx->cnt[e] = 0;
        ctx->m++;
    }
    ctx->cnt[e]++;
    ctx->n++;
    return 0;
}

/* After si_mixer_mix: account for the coded token x (the id fed to the model). 0, or -2. */
int si_mixer_update(si_mixer *s, i64 x)
{
    const __int128 a = (__int128) s->w * s->F[x], b = (__int128) (65536 - s->w) * s->p2[x];
    i64 w = a + b != 0 ? (i64) ((a << 16) / (a + b)) : s->w;
    w = w - (w >> 6) + (65536 >> 7);
    s->w = w < 1 ? 1 : (w > 65535 ? 65535 : w);
    s->c0[x]++;
    s->n0++;
    if (count(s, key1(s), x) != 0 || count(s, key2(s), x) != 0) return -2;
    s->prev0 = s->prev1;
    s->prev1 = x;
    return 0;
}

/* T rows in order: out[t] = mix(F[t]), then update(feeds[t]); with sums (not NULL), for each row the
   sum of out[t] before feeds[t] and the whole sum: sums[2 t], sums[2 t + 1] (exact: below 2^63).
   With as_double, out holds the rows as doubles (exact: entries below 2^53), as the coder takes them. */
int si_mixer_rows(si_mixer *s, const i64 *F, const i64 *feeds, i64 T, void *out, i64 *sums, int as_double)
{
    const i64 K = s->K;
    i64 *row = as_double ? s->tmp2 : NULL;
    for (i64 t = 0; t < T; t++) {
        i64 *o = as_double ? row : (i64 *) out + t * K;
        si_mixer_mix(s, F + t * K, o);
        if (sums) {
            i64 lo = 0, all = 0;
            const i64 x = feeds[t];
            for (i64 v = 0; v < x; v++) lo += o[v];
            for (i64 v = 0; v < K; v++) all += o[v];
            sums[2 * t] = lo;
            sums[2 * t + 1] = all;
        }
        if (as_double) {
            double *od = (double *) out + t * K;
            for (i64 v = 0; v < K; v++) od[v] = (double) o[v];
        }
        if (si_mixer_update(s, feeds[t]) != 0) return -2;
    }
    return 0;
}

/* The embedding of ids (B, T): rows of the int8 table q (V, d) times their scale hm (V) (m_c),
   rounded by 2^-s (rshift_round, ties up; s <= 0: as is), plus the position rows pos0 + t of `pos`
   (n_pos, d) where given. out: (B T, d). */
void si_embed(const i64 *ids, i64 B, i64 T, i64 d, const i8 *q, const i64 *hm, i64 s, const i64 *pos, i64 pos0,
              i64 *out)
{
    const i64 half = s > 0 ? ((i64) 1 << s) >> 1 : 0;
    for (i64 b = 0; b < B; b++)
        for (i64 t = 0; t < T; t++) {
            const i64 v = ids[b * T + t], m = hm[v];
            const i8 *qr = q + v * d;
            i64 *o = out + (b * T + t) * d;
            for (i64 k = 0; k < d; k++) {
                i64 x = (i64) qr[k] * m;
                if (s > 0) x = (x + half) >> s;
                o[k] = pos ? x + pos[(pos0 + t) * d + k] : x;
            }
        }
}
