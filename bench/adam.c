// The physical limit the bench compares gradtx with: one fused Adam step over float32 arrays
// (params, gradient, first and second moments), as a C compiler vectorizes it, on 1 or more
// OpenMP threads. Prints the median milliseconds of a step.
//
//   cc -O3 -march=native -fno-math-errno -fopenmp adam.c -o adam -lm && ./adam 10000000 20 1
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

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 10000000;
  int steps = argc > 2 ? atoi(argv[2]) : 20;
  int threads = argc > 3 ? atoi(argv[3]) : 1;
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
  const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, lr = 1e-3f;
  double *times = malloc(steps * sizeof(double));
  for (int s = 0; s < steps + 3; s++) {
    float c1 = 1.0f - powf(b1, (float)(s + 1)), c2 = 1.0f - powf(b2, (float)(s + 1));
    double t0 = now_ms();
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
      float x = g[i];
      float mi = b1 * m[i] + (1.0f - b1) * x;
      float vi = b2 * v[i] + (1.0f - b2) * x * x;
      m[i] = mi;
      v[i] = vi;
      p[i] -= lr * (mi / c1) / (sqrtf(vi / c2) + eps);
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
