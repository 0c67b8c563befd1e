// The physical limit the bench compares gradtx with: one fused Adam step over float32 arrays
// (params, gradient, first and second moments), as a C compiler vectorizes it, on 1 or more
// OpenMP threads. Prints the median milliseconds of a step. With a fourth argument `clip`, the
// step is clipByGlobalNorm(1) then Adam as gradtx fuses them: a pass summing g's squares in
// double, then the Adam loop on optax's (g / norm) * maxNorm, a division per element.
//
//   cc -O3 -march=native -fno-math-errno -fopenmp adam.c -o adam -lm && ./adam 10000000 20 1 [clip]
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, lr = 1e-3f;

/** One element's Adam step on the update x. */
static inline void step(long i, float x, float *p, float *m, float *v, float c1, float c2) {
  float mi = b1 * m[i] + (1.0f - b1) * x;
  float vi = b2 * v[i] + (1.0f - b2) * x * x;
  m[i] = mi;
  v[i] = vi;
  p[i] -= lr * (mi / c1) / (sqrtf(vi / c2) + eps);
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 10000000;
  int steps = argc > 2 ? atoi(argv[2]) : 20;
  int threads = argc > 3 ? atoi(argv[3]) : 1;
  int clip = argc > 4 && strcmp(argv[4], "clip") == 0;
  omp_set_num_threads(threads);
  float *p = aligned_alloc(64, n * sizeof(float)), *g = aligned_alloc(64, n * sizeof(float));
  float *m = aligned_alloc(64, n * sizeof(float)), *v = aligned_alloc(64, n * sizeof(float));
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n; i++) {
    p[i] = 0.01f * (float)(i % 97);
    g[i] = (float)((i * 7919) % 2001) / 1000.0f - 1.0f;
    m[i] = 0;
    v[i] = 0;
  }
  double *times = malloc(steps * sizeof(double));
  for (int s = 0; s < steps + 3; s++) {
    float c1 = 1.0f - powf(b1, (float)(s + 1)), c2 = 1.0f - powf(b2, (float)(s + 1));
    double t0 = now_ms();
    if (clip) {
      // 16 partial sums in a fixed order (gradtx too sums in fixed lanes): C may not reorder a sum of
      // doubles itself, and one running sum would be bound by the latency of its additions.
      double acc[16] = {0}, sum = 0;
#pragma omp parallel for schedule(static) reduction(+ : acc[:16])
      for (long b = 0; b < n / 16; b++)
        for (int k = 0; k < 16; k++) acc[k] += (double)g[16 * b + k] * (double)g[16 * b + k];
      for (int k = 0; k < 16; k++) sum += acc[k];
      for (long i = n / 16 * 16; i < n; i++) sum += (double)g[i] * (double)g[i];
      double norm = sqrt(sum);
      float divisor = norm < 1 ? 1.0f : (float)norm, maxNorm = 1.0f;
#pragma omp parallel for schedule(static)
      for (long i = 0; i < n; i++) step(i, g[i] / divisor * maxNorm, p, m, v, c1, c2);
    } else {
#pragma omp parallel for schedule(static)
      for (long i = 0; i < n; i++) step(i, g[i], p, m, v, c1, c2);
    }
    double t = now_ms() - t0;
    if (s >= 3) times[s - 3] = t;
  }
  qsort(times, steps, sizeof(double), compare);
  double check = 0;
  for (long i = 0; i < n; i += 4099) check += p[i];
  printf("%.4f %.6f\n", times[steps / 2], check);
  return 0;
}
