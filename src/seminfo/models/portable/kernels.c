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

static inline double max_of(const double *a, i64 n)          /* -inf for n = 0 (no NaN here) */
{
    double m[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    i64 i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) m[l] = a[i + l] > m[l] ? a[i + l] : m[l];
    for (; i < n; i++) m[0] = a[i] > m[0] ? a[i] : m[0];
    double r = m[0];
    for (int l = 1; l < 8; l++) r = m[l] > r ? m[l] : r;
    return r;
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
   (quantize_rows(., 14)) and split a = 128 hi + lo; e (M) the row shifts. The halves are written to
   ab (2M rows of `stride` bytes) = [hi; lo]: hi as int8 (bias 0, for torch._int_mm) or as hi + 128 in
   an unsigned byte (bias 128, for the u8 x s8 products of si_linear). Returns 1 when some |x| > lim
   (QStack's fallback test), else 0. */
static int split_rows(const i64 *x, i64 M, i64 K, i64 lim, i64 stride, int bias, uint8_t *ab, i64 *e)
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
        uint8_t *hi = ab + r * stride, *lo = ab + (M + r) * stride;
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
static void finish_cols(const i32 *acc, i64 M, i64 N, i64 c0, i64 n, const i64 *e, const i64 *m2,
                        const i64 *b1, const i64 *sh, i64 *out, i64 ostride, int add)
{
    for (i64 r = 0; r < M; r++) {
        const i32 *hi = acc + r * N + c0, *lo = acc + (M + r) * N + c0;
        i64 *o = out + r * ostride;
        for (i64 c = 0; c < n; c++) {
            i64 y = ((i64) hi[c] * 128 + lo[c]) * m2[c];
            y >>= sh[c] - e[r];
            y = (y + b1[c]) >> 1;
            if (add) o[c] += y; else o[c] = y;
        }
    }
}

void si_finish(const i32 *acc, i64 M, i64 N, i64 c0, i64 n, const i64 *e, const i64 *m2,
               const i64 *b1, const i64 *sh, i64 *out, int add)
{
    finish_cols(acc, M, N, c0, n, e, m2, b1, sh, out, n, add);
}

/* ---------------------------------------------------------------------------------------------
   The int8 products of decoding without torch: u8 x s8 dot products (AVX-512 VNNI), exact.

   Integer sums are exact in any order, so this product gives the int32 accumulators of
   torch._int_mm bit for bit (acc (2M, N) = [hi rows; lo rows] times the weights), whatever the
   instruction set, the blocking or the number of threads. VNNI multiplies unsigned by signed bytes:
   the hi halves enter as hi + 128 and the product is corrected by 128 times each column's weight
   sum. Weights are packed once (fast.py) as Wp[N/16][Kp/4][16][4]: for 16 output columns, 4
   consecutive inputs each, so one 64-byte load feeds 16 four-term dot products. Kp is K rounded up
   to 8, Np is N rounded up to 16; the padding weights are 0. |terms| <= 255 * 128 and K < 2^16, so
   the int32 sums cannot overflow. Built only where the compiler targets AVX-512 VNNI (the cache key
   holds the CPU flags); elsewhere si_qmm_kind() is 0 and fast.py keeps torch._int_mm. */

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

int si_qmm_kind(void)                          /* 1: the VNNI product is built in; 0: it is not */
{
    return SI_VNNI;
}

#if SI_VNNI
typedef struct {
    const uint8_t *ab;                         /* (2M, Kp): hi + 128 rows, then lo rows */
    i64 M, Kp, N;
    const i8 *W;                               /* packed (Np / 16, Kp / 4, 16, 4) */
    const i32 *cs;                             /* (Np) column sums */
    i32 *acc;                                  /* (2M, N) */
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

/* A small pool for products too large for one core's memory bandwidth: the caller takes part 0,
   workers (started on first use, again after a fork) take the others; they spin briefly between
   products (decoding calls them back to back) and then sleep on a condition variable. */
#define SI_MAX_THREADS 16
#define SI_SPIN_TICKS 4000000ull                /* about 1-2 ms */
#define SI_PARALLEL_BYTES ((i64) 1 << 20)

static pthread_mutex_t pool_busy = PTHREAD_MUTEX_INITIALIZER;   /* one caller at a time uses the pool */

static struct {
    int want, started, parts;
    pid_t pid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_long gen;
    atomic_int left;
    long born;                                 /* gen when the newest workers were started */
    qjob job;
} pool = {1, 0, 0, 0, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, {0}};

static void run_part(const qjob *j, int part, int parts)
{
    const i64 nblocks = (j->N + 15) / 16;
    qmm_blocks(j, nblocks * part / parts, nblocks * (part + 1) / parts);
}

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
        if (idx < pool.parts) run_part(&pool.job, idx, pool.parts);
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

static void qmm(const qjob *j)
{
    const i64 nblocks = (j->N + 15) / 16;
    /* another thread of the process (a second decoder) holding the pool, or a child forked while one
       did (trylock never waits): this one goes alone */
    if (pool.want < 2 || j->Kp * nblocks * 16 < SI_PARALLEL_BYTES || nblocks < 2 ||
        pthread_mutex_trylock(&pool_busy) != 0) {
        qmm_blocks(j, 0, nblocks);
        return;
    }
    int workers = pool_ready();
    if (workers == 0) {
        pthread_mutex_unlock(&pool_busy);
        qmm_blocks(j, 0, nblocks);
        return;
    }
    int parts = workers + 1 < nblocks ? workers + 1 : (int) nblocks;
    pool.job = *j;
    pool.parts = parts;
    atomic_store(&pool.left, workers);
    pthread_mutex_lock(&pool.mu);
    atomic_fetch_add_explicit(&pool.gen, 1, memory_order_release);
    pthread_cond_broadcast(&pool.cv);
    pthread_mutex_unlock(&pool.mu);
    run_part(j, 0, parts);
    while (atomic_load_explicit(&pool.left, memory_order_acquire) > 0) _mm_pause();
    pthread_mutex_unlock(&pool_busy);
}
#endif

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
   prepare_kv of the new keys/values into the caches ck, cv (B, Hk, cap, hs) int32 at n_old.. (their
   values, |k| <= 2^24 and |v| <= 2^27, in half the bytes of prepare_kv's float64),
   then causal attention of every query head h (kv head h / (H / Hk)) over keys 0 .. its position.
   q, k, v: int64 with strides (b, h, t) in elements, the last axis contiguous.
   out: (B, T, H * hs) int64. tab: the exp table as float64 (tablen entries). */
int si_attend(const i64 *q, i64 qsb, i64 qsh, i64 qst, const i64 *k, const i64 *v, i64 ksb, i64 ksh,
              i64 kst, i64 B, i64 H, i64 Hk, i64 T, i64 hs, i32 *ck, i32 *cv, i64 cap,
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
                i32 *kc = ck + ((b * Hk + g) * cap + n_old + t) * hs, *vc = cv + ((b * Hk + g) * cap + n_old + t) * hs;
                for (i64 d = 0; d < hs; d++) {
                    kc[d] = (i32) clip64((row[d] + 8) >> 4, -K_CLAMP, K_CLAMP);
                    vc[d] = (i32) clip64(vr[d], -V_CLAMP, V_CLAMP);
                }
            }
        }
        for (i64 h = 0; h < H; h++) {
            const i64 g = h / rep;
            const i32 *kc = ck + (b * Hk + g) * cap * hs, *vc = cv + (b * Hk + g) * cap * hs;
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
                const double mx = scores(qa, kc, nvis, hs, s, u);
                double total = exp_weights(u, nvis, mx, tab, L);
                i64 *o = out + (b * T + t) * (H * hs) + h * hs;
                for (i64 j = 0; j < nvis; j++) {
                    double p = u[j];
                    p *= 16777216.0;
                    p /= total;
                    u[j] = (double) (i64) p;                    /* floor: p >= 0 */
                }
                weighted_rows(qa, u, vc, nvis, hs);
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
        for (i64 c = 0; c < N; c++) {
            double v = (double) ((i64) hi[c] * 128 + lo[c]);
            v *= md[c];
            v *= p2;
            z[c] = v;
        }
        double total = exp_weights(z, N, max_of(z, N), tab, L);
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
   in, -2 without memory. */
static int lin_product(const si_lin *L, const i64 *x, i64 M, i64 lim, i64 **e_out, i32 **acc_out)
{
#if SI_VNNI
    const i64 Kp = L->Kp, K = L->K;
    size_t nab = (size_t) (2 * M * Kp + 63) & ~(size_t) 63, ne = (size_t) M * 8, nacc = (size_t) (2 * M * L->N) * 4;
    uint8_t *ab = scratch_get(0, nab + ne + nacc);
    if (!ab) return -2;
    i64 *e = (i64 *) (ab + nab);
    i32 *acc = (i32 *) (ab + nab + ne);
    for (i64 r = 0; r < 2 * M; r++)                                  /* the padding inputs */
        memset(ab + r * Kp + K, r < M ? 128 : 0, (size_t) (Kp - K));
    int over = split_rows(x, M, K, lim, Kp, 128, ab, e);
    qjob j = {ab, M, Kp, L->N, L->W, L->cs, acc};
    qmm(&j);
    *e_out = e;
    *acc_out = acc;
    return over;
#else
    (void) L; (void) x; (void) M; (void) lim; (void) e_out; (void) acc_out;
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
    int over = lin_product(L, x, M, L->lim, &e, &acc);
    if (over < 0) return over;
    if (!over || L->nsub <= 1) {
        finish_cols(acc, M, L->N, 0, L->N, e, L->m2, L->b1, L->sh, out, L->N, add);
        return 0;
    }
    i64 c0 = 0;
    for (i64 s = 0; s < L->nsub; s++) {
        int rc = lin_product(L, x, M, L->sub_lim[s], &e, &acc);
        if (rc < 0) return rc;
        const i64 c1 = L->sub_end[s];
        finish_cols(acc, M, L->N, c0, c1 - c0, e, L->m2 + c0, L->b1 + c0, L->sh + c0, out + c0, L->N, add);
        c0 = c1;
    }
    return 0;
}

/* The output head: frequency rows out (M, N) of rows x (M, K) (si_head after the product). */
int si_linear_head(const si_lin *L, const i64 *x, i64 M, const double *md, i64 shift, const double *tab,
                   i64 tablen, i64 *out)
{
    i64 *e;
    i32 *acc;
    int over = lin_product(L, x, M, L->lim, &e, &acc);
    if (over < 0) return over;
    return si_head(acc, M, L->N, e, md, shift, tab, tablen, out) == 0 ? 0 : -2;
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

int si_block(const si_block_spec *S, i64 *x, i64 B, i64 T, i32 *ck, i32 *cv, i64 cap, i64 pos0)
{
#if SI_VNNI
    const i64 M = B * T, d = S->d, nq = S->qkv->N, na = S->o->K, nu = S->up->N, nm = S->down->K;
    size_t words = (size_t) (M * (d + nq + na + nu + (S->swiglu ? nm : 0)) + d);
    i64 *h = scratch_get(1, words * 8);
    if (!h) return -2;
    i64 *qkv = h + M * d, *att = qkv + M * nq, *up = att + M * na, *mid = up + M * nu, *tmp = mid + (S->swiglu ? M * nm : 0);
    int rc;
    si_norm(x, M, d, S->eps, (int) S->center, S->g1, S->c1, S->G, h, tmp);
    if ((rc = si_linear(S->qkv, h, M, qkv, 0)) < 0) return rc;
    const i64 H = S->H, Hk = S->Hk, hs = S->hs;
    if (si_attend(qkv, T * nq, hs, nq, qkv + H * hs, qkv + (H + Hk) * hs, T * nq, hs, nq, B, H, Hk, T, hs, ck,
                  cv, cap, pos0, S->cos, S->sin, S->rope_clamp, S->cmul, S->R, S->exp_tab, S->exp_len, att) != 0)
        return -2;
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
#else
    (void) S; (void) x; (void) B; (void) T; (void) ck; (void) cv; (void) cap; (void) pos0;
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
static inline i64 floor_quot(i64 a, i64 D, double inv)         /* floor(a / D), a >= 0, D >= 1 */
{
    i64 q = (i64) ((double) a * inv);
    i64 r = a - q * D;
    q -= (r < 0);
    r += (r < 0) ? D : 0;
    q += (r >= D);
    return q;
}

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
