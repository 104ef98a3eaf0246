"""The Rodas4 driver in C, appended to every generated model (see :mod:`.codegen`).

Rodas4 (Hairer & Wanner, *Solving Ordinary Differential Equations II*, 2nd ed. 1996,
§IV.7; coefficients of their ``rodas.f``): a 6-stage, order-4(3), L-stable, stiffly accurate
Rosenbrock method. Per step: one exact Jacobian, one sparse LU of W = I/(hγ) − J, six
right-hand sides and six triangular solves — no Newton iteration, so nothing to stall
after a dose. Error estimate: the last stage; step-size control as in ``rodas.f``
(factor 0.9·err^(−1/4) clamped to [0.2, 6], no growth right after a rejection).

Each patient is integrated independently (its own step size, its own events) by one
thread with its own work space; one C call loops over the patients, on ``threads`` OpenMP
threads (``schedule(dynamic)``: stiff patients cost more), so the results do not depend on
the number of threads; events (``time >= c``) are hit exactly: integration stops at each
event time, the event fires, and the solver restarts from a fresh initial step.
Output at an event time is after the event, as in libRoadRunner.

``atol`` is one absolute tolerance per state (``atol × scale``).

Return codes per patient: 0 ok; 1 too many steps in one output interval (CVODE's
``mxstep``); 2 step size underflow (error test or LU failed repeatedly).
"""

SOLVER = r"""
#ifdef __SSE__
#include <xmmintrin.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif
/* ---- Rodas4 coefficients (Hairer & Wanner, rodas.f, METH=1) ---- */
static const double G = 0.25;
static const double A21 = 1.544, A31 = 0.9466785280815826, A32 = 0.2557011698983284,
  A41 = 3.314825187068521, A42 = 2.896124015972201, A43 = 0.9986419139977817,
  A51 = 1.221224509226641, A52 = 6.019134481288629, A53 = 12.53708332932087, A54 = -0.687886036105895;
static const double C21 = -5.6688, C31 = -2.430093356833875, C32 = -0.2063599157091915,
  C41 = -0.1073529058151375, C42 = -9.594562251023355, C43 = -20.47028614809616,
  C51 = 7.496443313967647, C52 = -10.24680431464352, C53 = -33.99990352819905, C54 = 11.7089089320616,
  C61 = 8.083246795921522, C62 = -7.981132988064893, C63 = -31.52159432874371, C64 = 16.31930543123136,
  C65 = -6.058818238834054;
static const double CC2 = 0.386, CC3 = 0.21, CC4 = 0.63;
static const double D1 = 0.25, D2 = -0.1043, D3 = 0.1035, D4 = -0.0362;

typedef struct {
  double y[NS], yn[NS], f[NS], fT[NS], k1[NS], k2[NS], k3[NS], k4[NS], k5[NS], k6[NS];
  double w[NW], a[NLU];
} work_t;

static double initial_step(double t, const double *y, const double *p, work_t *W, double rtol, const double *atol,
                           double span) {
  double d0 = 0.0, d1 = 0.0;
  rhs(t, y, p, W->w, W->f);
  for (int i = 0; i < NS; i++) {
    double sc = atol[i] + rtol * fabs(y[i]);
    d0 += (y[i] / sc) * (y[i] / sc);
    d1 += (W->f[i] / sc) * (W->f[i] / sc);
  }
  d0 = sqrt(d0 / NS); d1 = sqrt(d1 / NS);
  double h = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
  if (!isfinite(h) || h <= 0) h = 1e-6;
  if (h > span) h = span;
  h *= 1e-2;
  /* never start below what the time can resolve (a dose late in a run, tight atol) */
  double hmin = 1e-12 * nb_max(1.0, fabs(t));
  return h > hmin ? h : hmin;
}

/* advance one patient from t to tend; returns 0, 1 (max steps) or 2 (underflow) */
static int advance(double *t_io, double tend, double *h_io, const double *p, work_t *W, double rtol, const double *atol,
                   long max_steps, long *steps, long *rejected) {
  double t = *t_io, h = *h_io;
  int reject = 0;
  long n = 0;
  double *y = W->y;
  while (tend - t > 1e-13 * nb_max(1.0, fabs(tend))) {
    if (++n > max_steps) { *t_io = t; return 1; }
    double hh = h;
    int last = 0;
    if (t + hh >= tend || tend - (t + hh) < 1e-10 * hh) { hh = tend - t; last = 1; }
    if (hh < 1e-15 * nb_max(1.0, fabs(t))) { *t_io = t; return 2; }
    rhs(t, y, p, W->w, W->f);
    double dg = 1.0 / (hh * G);
    jac(t, y, p, W->w, dg, W->a, W->fT); /* W->a = dg·I − J */
    if (lu_factor(W->a) != 0) { h = hh * 0.25; reject = 1; (*rejected)++; continue; }
    double *k1 = W->k1, *k2 = W->k2, *k3 = W->k3, *k4 = W->k4, *k5 = W->k5, *k6 = W->k6, *yn = W->yn, *f = W->f;
    double hd1 = hh * D1, hd2 = hh * D2, hd3 = hh * D3, hd4 = hh * D4, ih = 1.0 / hh;
    for (int i = 0; i < NS; i++) k1[i] = f[i] + hd1 * W->fT[i];
    lu_solve(W->a, k1);
    for (int i = 0; i < NS; i++) yn[i] = y[i] + A21 * k1[i];
    rhs(t + CC2 * hh, yn, p, W->w, f);
    for (int i = 0; i < NS; i++) k2[i] = f[i] + hd2 * W->fT[i] + C21 * k1[i] * ih;
    lu_solve(W->a, k2);
    for (int i = 0; i < NS; i++) yn[i] = y[i] + A31 * k1[i] + A32 * k2[i];
    rhs(t + CC3 * hh, yn, p, W->w, f);
    for (int i = 0; i < NS; i++) k3[i] = f[i] + hd3 * W->fT[i] + (C31 * k1[i] + C32 * k2[i]) * ih;
    lu_solve(W->a, k3);
    for (int i = 0; i < NS; i++) yn[i] = y[i] + A41 * k1[i] + A42 * k2[i] + A43 * k3[i];
    rhs(t + CC4 * hh, yn, p, W->w, f);
    for (int i = 0; i < NS; i++) k4[i] = f[i] + hd4 * W->fT[i] + (C41 * k1[i] + C42 * k2[i] + C43 * k3[i]) * ih;
    lu_solve(W->a, k4);
    for (int i = 0; i < NS; i++) yn[i] = y[i] + A51 * k1[i] + A52 * k2[i] + A53 * k3[i] + A54 * k4[i];
    rhs(t + hh, yn, p, W->w, f);
    for (int i = 0; i < NS; i++) k5[i] = f[i] + (C51 * k1[i] + C52 * k2[i] + C53 * k3[i] + C54 * k4[i]) * ih;
    lu_solve(W->a, k5);
    for (int i = 0; i < NS; i++) yn[i] += k5[i];
    rhs(t + hh, yn, p, W->w, f);
    for (int i = 0; i < NS; i++)
      k6[i] = f[i] + (C61 * k1[i] + C62 * k2[i] + C63 * k3[i] + C64 * k4[i] + C65 * k5[i]) * ih;
    lu_solve(W->a, k6);
    double err = 0.0;
    for (int i = 0; i < NS; i++) {
      double ynew = yn[i] + k6[i];
      double sc = atol[i] + rtol * nb_max(fabs(y[i]), fabs(ynew));
      err += (k6[i] / sc) * (k6[i] / sc);
      yn[i] = ynew;
    }
    err = sqrt(err / NS);
    if (!isfinite(err)) { h = hh * 0.1; reject = 1; (*rejected)++; continue; }
    double fac = 0.9 / sqrt(sqrt(nb_max(err, 1e-10)));  /* 0.9·err^(-1/4), without a libm pow call */
    if (err <= 1.0) {
      t = last ? tend : t + hh;
      memcpy(y, yn, sizeof(double) * NS);
      double grow = reject ? nb_min(1.0, fac) : nb_min(6.0, fac);
      double hnew = hh * nb_max(0.2, grow);
      /* a step shortened to land on tend does not shrink the next one */
      h = last ? nb_max(h, hnew) : hnew;
      reject = 0;
      (*steps)++;
    } else {
      h = hh * nb_max(0.2, fac);
      reject = 1;
      (*rejected)++;
    }
  }
  *t_io = tend;
  *h_io = h;
  return 0;
}

static void pick_outputs(double t, const double *y, const double *p, double *w, int n_out, const int *kind,
                         const int *idx, double *out) {
  rules(t, y, p, w);
  for (int o = 0; o < n_out; o++)
    out[o] = kind[o] == 0 ? y[idx[o]] : (kind[o] == 1 ? w[idx[o]] : p[idx[o]]);
}

/* One patient m: integrate, write its outputs, states, code, failure time and step counts. */
static void solve_patient(int m, work_t *W, const double *P, int n_times, const double *times, double rtol,
                          const double *atol, long max_steps, int n_out, const int *kind, const int *idx,
                          int all_states, double *out, double *states, int *code, double *fail_t, long *steps) {
  double p[NP > 0 ? NP : 1];
  memcpy(p, P + (size_t)m * NP, sizeof(double) * NP);
  for (int i = 0; i < NS; i++) W->y[i] = 0.0;
  init_state(p, W->y, W->w);
  constants(p, W->w);
  double t = 0.0, tlast = times[n_times - 1];
  int e = 0, rc = 0;
  long nsteps = 0, nrej = 0;
  while (e < NEV && EVENT_TIME[e] <= t) { fire_event(e++, t, W->y, p, W->w); constants(p, W->w); }
  double h = initial_step(t, W->y, p, W, rtol, atol, tlast > 0 ? tlast : 1.0);
  for (int k = 0; k < n_times && rc == 0; k++) {
    double tout = times[k];
    while (rc == 0 && t < tout) {
      double stop = tout;
      if (e < NEV && EVENT_TIME[e] < stop) stop = EVENT_TIME[e];
      if (stop > t) rc = advance(&t, stop, &h, p, W, rtol, atol, max_steps, &nsteps, &nrej);
      if (rc) break;
      t = stop;
      int fired = 0;
      while (e < NEV && EVENT_TIME[e] <= t) { fire_event(e++, t, W->y, p, W->w); constants(p, W->w); fired = 1; }
      if (fired) h = initial_step(t, W->y, p, W, rtol, atol, tlast - t > 0 ? tlast - t : 1.0);
    }
    if (rc) break;
    pick_outputs(t, W->y, p, W->w, n_out, kind, idx, out + ((size_t)m * n_times + k) * n_out);
    if (all_states) memcpy(states + ((size_t)m * n_times + k) * NS, W->y, sizeof(double) * NS);
  }
  if (!all_states) memcpy(states + (size_t)m * NS, W->y, sizeof(double) * NS);
  code[m] = rc;
  fail_t[m] = t;
  steps[2 * m] = nsteps;
  steps[2 * m + 1] = nrej;
}

/* Flush subnormals to zero while solving (per thread: MXCSR is a per-thread register): amounts
   decaying for weeks reach 1e-310, where every operation costs ~100 cycles; values below
   2.2e-308 are far below any tolerance. Every thread sets the same mode, so a patient's
   arithmetic is the same whichever thread runs it. */
static unsigned int ftz_on(void) {
#ifdef __SSE__
  unsigned int saved = _mm_getcsr();
  _mm_setcsr(saved | 0x8040);
  return saved;
#else
  return 0;
#endif
}

static void ftz_off(unsigned int saved) {
#ifdef __SSE__
  _mm_setcsr(saved);
#else
  (void)saved;
#endif
}

/* Threads this library can use: 0 if it was built without OpenMP, else omp_get_max_threads(). */
int nb_openmp(void) {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 0;
#endif
}

/* Simulate n patients on `threads` threads. P: n x NP parameters; times: n_times model times
   (ascending, >= 0); out: n x n_times x n_out; states: n x n_times x NS (all_states) or n x NS
   (final only); code: n; fail_t: n (model time reached on failure); steps: n x 2 (accepted,
   rejected). Patients are independent and each is integrated by one thread with its own work
   space, so the results are bit-identical for any number of threads. threads <= 1 never enters
   an OpenMP region (libgomp hangs in a fork()ed child whose parent used OpenMP: forked ensemble
   workers run with threads = 1); never more threads than patients. team: the number of threads
   that ran (1, or the OpenMP team's size). Returns 0; -1 if a work space could not be allocated; -2 if threads > 1 was asked of a
   library built without OpenMP. */
int nb_solve(int n, const double *P, int n_times, const double *times, double rtol, const double *atol, long max_steps,
             int n_out, const int *kind, const int *idx, int all_states, double *out, double *states, int *code,
             double *fail_t, long *steps, int threads, int *team) {
  *team = 1;
  if (threads <= 1 || n <= 1) {
    work_t *W = (work_t *)malloc(sizeof(work_t));
    if (!W) return -1;
    unsigned int saved = ftz_on();
    for (int m = 0; m < n; m++)
      solve_patient(m, W, P, n_times, times, rtol, atol, max_steps, n_out, kind, idx, all_states, out, states, code,
                    fail_t, steps);
    ftz_off(saved);
    free(W);
    return 0;
  }
#ifdef _OPENMP
  int failed = 0;
#pragma omp parallel num_threads(threads < n ? threads : n)
  {
    work_t *W = (work_t *)malloc(sizeof(work_t));
    if (!W) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp single
    *team = omp_get_num_threads();
    unsigned int saved = ftz_on();
    /* dynamic: a stiff patient costs several times an easy one */
#pragma omp for schedule(dynamic, 1)
    for (int m = 0; m < n; m++)
      if (W)
        solve_patient(m, W, P, n_times, times, rtol, atol, max_steps, n_out, kind, idx, all_states, out, states,
                      code, fail_t, steps);
    ftz_off(saved);
    free(W);
  }
  return failed ? -1 : 0;
#else
  return -2;
#endif
}
"""

CDEF = """
int nb_solve(int n, const double *P, int n_times, const double *times, double rtol, const double *atol, long max_steps,
             int n_out, const int *kind, const int *idx, int all_states, double *out, double *states, int *code,
             double *fail_t, long *steps, int threads, int *team);
int nb_openmp(void);
"""
