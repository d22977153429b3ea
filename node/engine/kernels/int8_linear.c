/* Weight-only int8 linear for small batches on x86:
 *     y[m, n] = scale[n] * sum_k x[m, k] * w[n, k]      x, y: float32; w: int8
 * Decode is memory-bound: reading 1-byte weights and widening them in registers moves a
 * quarter of fp32's bytes. Each pass takes 4 weight rows × up to 4 activation rows: 16
 * independent FMA chains, and every widened weight vector serves every row of x.
 * Plain C (no torch headers) so it builds in a second; node/engine/kernels.py loads it. */
#include <immintrin.h>
#include <stdint.h>

#define RN 4 /* weight rows per pass */
#define RM 4 /* activation rows per pass */

#define BLOCK(NAME, TARGET, VEC, WIDTH, ZERO, LOADX, WIDEN, FMA, HSUM)                       \
  __attribute__((target(TARGET), always_inline)) static inline void NAME(                    \
      const float *x, int64_t M, const int8_t *w, int64_t K, int64_t rows,                   \
      const float *scale, float *y, int64_t ldy) {                                           \
    VEC acc[RN][RM];                                                                         \
    for (int r = 0; r < RN; ++r)                                                             \
      for (int m = 0; m < RM; ++m) acc[r][m] = ZERO();                                       \
    int64_t k = 0;                                                                           \
    for (; k + WIDTH <= K; k += WIDTH) {                                                     \
      VEC xv[RM];                                                                            \
      for (int m = 0; m < M; ++m) xv[m] = LOADX(x + m * K + k);                              \
      for (int r = 0; r < rows; ++r) {                                                       \
        VEC wf = WIDEN(w + r * K + k);                                                       \
        for (int m = 0; m < M; ++m) acc[r][m] = FMA(wf, xv[m], acc[r][m]);                   \
      }                                                                                      \
    }                                                                                        \
    for (int r = 0; r < rows; ++r)                                                           \
      for (int m = 0; m < M; ++m) {                                                          \
        float s = HSUM(acc[r][m]);                                                           \
        for (int64_t t = k; t < K; ++t) s += x[m * K + t] * (float)w[r * K + t];             \
        y[m * ldy + r] = s * scale[r];                                                       \
      }                                                                                      \
  }

/* One copy per activation-row count, so the compiler keeps the accumulators in registers. */
typedef void (*block_fn)(const float *, const int8_t *, int64_t, int64_t, const float *, float *, int64_t);
#define VARIANT(NAME, TARGET, MC)                                                             \
  __attribute__((target(TARGET))) static void NAME##_##MC(const float *x, const int8_t *w,    \
      int64_t K, int64_t rows, const float *scale, float *y, int64_t ldy) {                   \
    NAME(x, MC, w, K, rows, scale, y, ldy);                                                   \
  }
#define VARIANTS(NAME, TARGET)                                                                \
  VARIANT(NAME, TARGET, 1) VARIANT(NAME, TARGET, 2) VARIANT(NAME, TARGET, 3) VARIANT(NAME, TARGET, 4) \
  static const block_fn NAME##_by_rows[RM + 1] = {0, NAME##_1, NAME##_2, NAME##_3, NAME##_4};

#define T512 "avx512f,avx512bw,avx512dq"
__attribute__((target(T512))) static inline __m512 widen512(const int8_t *p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p)));
}
__attribute__((target(T512))) static inline float hsum512(__m512 v) { return _mm512_reduce_add_ps(v); }
BLOCK(block512, T512, __m512, 16, _mm512_setzero_ps, _mm512_loadu_ps, widen512, _mm512_fmadd_ps, hsum512)
VARIANTS(block512, T512)

#define T256 "avx2,fma"
__attribute__((target(T256))) static inline __m256 widen256(const int8_t *p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}
__attribute__((target(T256))) static inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
BLOCK(block256, T256, __m256, 8, _mm256_setzero_ps, _mm256_loadu_ps, widen256, _mm256_fmadd_ps, hsum256)
VARIANTS(block256, T256)

/* 2: AVX-512, 1: AVX2 + FMA, 0: neither (the caller uses torch instead). */
int helio_int8_level(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq"))
    return 2;
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0;
}

/* x (M, K), w (N, K), scale (N), y (M, N); all contiguous. */
void helio_int8_linear(const float *x, const int8_t *w, const float *scale, float *y,
                       int64_t M, int64_t K, int64_t N, int level, int threads) {
  const int64_t passes = (N + RN - 1) / RN;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (int64_t b = 0; b < passes; ++b) {
    const int64_t n = b * RN, rows = N - n < RN ? N - n : RN;
    for (int64_t m = 0; m < M; m += RM) {
      const int64_t mm = M - m < RM ? M - m : RM;
      const block_fn block = level == 2 ? block512_by_rows[mm] : block256_by_rows[mm];
      block(x + m * K, w + n * K, K, rows, scale + n, y + m * N + n, N);
    }
  }
}
