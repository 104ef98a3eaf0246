"""The Rodas4 driver in C, appended to every generated model (see :mod:`.codegen`).

Rodas4 (Hairer & Wanner, *Solving Ordinary Differential Equations II*, 2nd ed. 1996,
§IV.7; coefficients of their ``rodas.f``): a 6-stage, order-4(3), L-stable, stiffly accurate
Rosenbrock method. Per step: one exact Jacobian, one sparse LU of W = I/(hγ) − J, six
right-hand sides and six triangular solves — no Newton iteration, so nothing to stall
after a dose. Error estimate: the last stage; step-size control as in ``rodas.f``
(factor 0.9·err^(−1/4) clamped to [0.2, 6], no growth right after a rejection).

Each patient is integrated independently (its own step size, its own events), but
``LANES`` patients (4) share one thread and advance side by side in the lanes of vectors
(GCC vector extensions; 256-bit SIMD on x86-64): every lane takes one step attempt at a
time, with its own time and step size, and a lane whose patient is done takes the next
one. The right-hand side, Jacobian, LU and triangular solves then run once for four
patients — the triangular solves are latency-bound, so four independent dependency chains
cost little more than one — while libm calls (pow, exp, log) go lane by lane. What one
lane computes never depends on the others (no cross-lane operation; the step logic, events
and outputs are per lane, in scalar code), so a patient's numbers do not depend on its
lane, on the other patients, or on the number of threads. One C call solves the patients on
``threads`` OpenMP threads, each taking the next patient from a shared counter whenever one
of its lanes is free (a stiff patient costs more). Events (``time >= c``) are hit exactly:
integration stops at each event time, the event fires, and the solver restarts from a fresh
initial step. Output at an event time is after the event, as in libRoadRunner.

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

/* The work space of one thread: LANES patients side by side, lane l of every vector
   belonging to patient lane[l].m (-1: the lane is idle and its numbers are ignored). */
typedef struct {
  vd y[NS], yn[NS], f[NS], fT[NS], k1[NS], k2[NS], k3[NS], k4[NS], k5[NS], k6[NS];
  vd p[NP > 0 ? NP : 1], w[NW], a[NLU];
} lanes_t;

/* Where one lane's patient stands: its next output k, next event e, time t, step size h,
   the end tend of the interval it integrates (the next output or event time), the steps
   taken in that interval (n) and whether its last step was rejected. */
typedef struct {
  int m, k, e, reject, rc, last;
  double t, h, hh, tend;
  long n, steps, rejected;
} lane_t;

/* One patient's numbers, for the work done one patient at a time (start, events, outputs). */
typedef struct {
  double y[NS], p[NP > 0 ? NP : 1], w[NW], f[NS];
} one_t;

/* The arguments of nb_solve, shared by every thread. */
typedef struct {
  int n; const double *P; int n_times; const double *times; double rtol; const double *atol; long max_steps;
  int n_out; const int *kind; const int *idx; int all_states; double *out; double *states; int *code;
  double *fail_t; long *steps;
} problem_t;

static double initial_step(double t, const double *y, const double *p, double *w, double *f, double rtol,
                           const double *atol, double span) {
  double d0 = 0.0, d1 = 0.0;
  rhs(t, y, p, w, f);
  for (int i = 0; i < NS; i++) {
    double sc = atol[i] + rtol * fabs(y[i]);
    d0 += (y[i] / sc) * (y[i] / sc);
    d1 += (f[i] / sc) * (f[i] / sc);
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

static void lane_get(const lanes_t *V, int l, one_t *o) {
  for (int i = 0; i < NS; i++) o->y[i] = V->y[i][l];
  for (int i = 0; i < NP; i++) o->p[i] = V->p[i][l];
  for (int i = 0; i < NW; i++) o->w[i] = V->w[i][l];
}

static void lane_put(lanes_t *V, int l, const one_t *o) {
  for (int i = 0; i < NS; i++) V->y[i][l] = o->y[i];
  for (int i = 0; i < NP; i++) V->p[i][l] = o->p[i];
  for (int i = 0; i < NW; i++) V->w[i][l] = o->w[i];
}

static void pick_outputs(double t, const double *y, const double *p, double *w, int n_out, const int *kind,
                         const int *idx, double *out) {
  rules(t, y, p, w);
  for (int o = 0; o < n_out; o++)
    out[o] = kind[o] == 0 ? y[idx[o]] : (kind[o] == 1 ? w[idx[o]] : p[idx[o]]);
}

/* Fire the events due at the lane's time; after any, restart with a fresh initial step. */
static void lane_events(const problem_t *Q, lanes_t *V, lane_t *L, int l, one_t *o) {
  if (!(L->e < NEV && EVENT_TIME[L->e] <= L->t)) return;
  lane_get(V, l, o);
  while (L->e < NEV && EVENT_TIME[L->e] <= L->t) { fire_event(L->e++, L->t, o->y, o->p, o->w); constants(o->p, o->w); }
  double tlast = Q->times[Q->n_times - 1];
  L->h = initial_step(L->t, o->y, o->p, o->w, o->f, Q->rtol, Q->atol, tlast - L->t > 0 ? tlast - L->t : 1.0);
  lane_put(V, l, o);
}

/* Move a lane on, between integrations, to its next interval (returns 1; tend set) or to the
   end of its patient (returns 0): write the outputs it has reached, fire its events. */
static int lane_plan(const problem_t *Q, lanes_t *V, lane_t *L, int l, one_t *o) {
  while (L->k < Q->n_times) {
    double tout = Q->times[L->k];
    if (L->t < tout) {
      double stop = tout;
      if (L->e < NEV && EVENT_TIME[L->e] < stop) stop = EVENT_TIME[L->e];
      if (stop > L->t) { L->tend = stop; L->n = 0; L->reject = 0; return 1; }
      L->t = stop;
      lane_events(Q, V, L, l, o);
      continue;
    }
    lane_get(V, l, o);
    size_t row = (size_t)L->m * Q->n_times + L->k;
    pick_outputs(L->t, o->y, o->p, o->w, Q->n_out, Q->kind, Q->idx, Q->out + row * Q->n_out);
    if (Q->all_states) memcpy(Q->states + row * NS, o->y, sizeof(double) * NS);
    L->k++;
  }
  return 0;
}

/* The lane's patient is done (rc: its code): write its final state, code and step counts. */
static void lane_finish(const problem_t *Q, lanes_t *V, lane_t *L, int l) {
  int m = L->m;
  if (!Q->all_states)
    for (int i = 0; i < NS; i++) Q->states[(size_t)m * NS + i] = V->y[i][l];
  Q->code[m] = L->rc;
  Q->fail_t[m] = L->t;
  Q->steps[2 * m] = L->steps;
  Q->steps[2 * m + 1] = L->rejected;
  L->m = -1;
}

/* Start patient m in a lane: its parameters, initial state, events at time 0, first step. */
static void lane_start(const problem_t *Q, lanes_t *V, lane_t *L, int l, int m, one_t *o) {
  memcpy(o->p, Q->P + (size_t)m * NP, sizeof(double) * NP);
  for (int i = 0; i < NS; i++) o->y[i] = 0.0;
  init_state(o->p, o->y, o->w);
  constants(o->p, o->w);
  L->m = m; L->k = 0; L->e = 0; L->rc = 0; L->reject = 0; L->t = 0.0; L->steps = 0; L->rejected = 0;
  while (L->e < NEV && EVENT_TIME[L->e] <= 0.0) { fire_event(L->e++, 0.0, o->y, o->p, o->w); constants(o->p, o->w); }
  double tlast = Q->times[Q->n_times - 1];
  L->h = initial_step(0.0, o->y, o->p, o->w, o->f, Q->rtol, Q->atol, tlast > 0 ? tlast : 1.0);
  lane_put(V, l, o);
}

/* Get the lane ready for its next step attempt (the head of the step loop of one patient):
   finish intervals and patients, and start new patients (next_patient() gives their index,
   or -1), until the lane has a step to take (returns 1) or nothing left to do (returns 0). */
static int lane_ready(const problem_t *Q, lanes_t *V, lane_t *L, int l, one_t *o, int (*next_patient)(void *),
                      void *arg) {
  for (;;) {
    if (L->m < 0) {
      int m = next_patient(arg);
      if (m < 0) return 0;
      lane_start(Q, V, L, l, m, o);
      if (!lane_plan(Q, V, L, l, o)) { lane_finish(Q, V, L, l); continue; }
    }
    double t = L->t, tend = L->tend;
    if (!(tend - t > 1e-13 * nb_max(1.0, fabs(tend)))) {  /* the interval is done */
      L->t = tend;
      lane_events(Q, V, L, l, o);
      if (!lane_plan(Q, V, L, l, o)) lane_finish(Q, V, L, l);
      continue;
    }
    if (++L->n > Q->max_steps) { L->rc = 1; lane_finish(Q, V, L, l); continue; }
    double hh = L->h;
    L->last = 0;
    if (t + hh >= tend || tend - (t + hh) < 1e-10 * hh) { hh = tend - t; L->last = 1; }
    if (hh < 1e-15 * nb_max(1.0, fabs(t))) { L->rc = 2; lane_finish(Q, V, L, l); continue; }
    L->hh = hh;
    return 1;
  }
}

/* Solve patients with one work space until next_patient() runs out: every lane takes one
   Rodas4 step attempt at a time, each with its own time and step size; the step logic per
   lane is that of a lone patient (return codes 1: too many steps in one output interval,
   2: step size underflow). */
static void solve_lanes(const problem_t *Q, lanes_t *V, int (*next_patient)(void *), void *arg) {
  lane_t lane[LANES];
  one_t o;
  int active = 0;
  for (int l = 0; l < LANES; l++) {
    lane[l].m = -1;
    active += lane_ready(Q, V, &lane[l], l, &o, next_patient, arg);
  }
  const double rtol = Q->rtol, *atol = Q->atol;
  while (active) {
    vd t, hh;
    for (int l = 0; l < LANES; l++) {
      t[l] = lane[l].m >= 0 ? lane[l].t : 0.0;
      hh[l] = lane[l].m >= 0 ? lane[l].hh : 1.0;
    }
    vd *y = V->y, *yn = V->yn, *f = V->f, *fT = V->fT, *p = V->p, *w = V->w;
    vd *k1 = V->k1, *k2 = V->k2, *k3 = V->k3, *k4 = V->k4, *k5 = V->k5, *k6 = V->k6;
    vrhs(t, y, p, w, f);
    vd dg = 1.0 / (hh * G);
    vjac(t, y, p, w, dg, V->a, fT); /* V->a = dg·I − J */
    vl bad = vlu_factor(V->a);
    vd hd1 = hh * D1, hd2 = hh * D2, hd3 = hh * D3, hd4 = hh * D4, ih = 1.0 / hh;
    for (int i = 0; i < NS; i++) k1[i] = f[i] + hd1 * fT[i];
    vlu_solve(V->a, k1);
    for (int i = 0; i < NS; i++) yn[i] = y[i] + A21 * k1[i];
    vrhs(t + CC2 * hh, yn, p, w, f);
    for (int i = 0; i < NS; i++) k2[i] = f[i] + hd2 * fT[i] + C21 * k1[i] * ih;
    vlu_solve(V->a, k2);
    for (int i = 0; i < NS; i++) yn[i] = y[i] + A31 * k1[i] + A32 * k2[i];
    vrhs(t + CC3 * hh, yn, p, w, f);
    for (int i = 0; i < NS; i++) k3[i] = f[i] + hd3 * fT[i] + (C31 * k1[i] + C32 * k2[i]) * ih;
    vlu_solve(V->a, k3);
    for (int i = 0; i < NS; i++) yn[i] = y[i] + A41 * k1[i] + A42 * k2[i] + A43 * k3[i];
    vrhs(t + CC4 * hh, yn, p, w, f);
    for (int i = 0; i < NS; i++) k4[i] = f[i] + hd4 * fT[i] + (C41 * k1[i] + C42 * k2[i] + C43 * k3[i]) * ih;
    vlu_solve(V->a, k4);
    for (int i = 0; i < NS; i++) yn[i] = y[i] + A51 * k1[i] + A52 * k2[i] + A53 * k3[i] + A54 * k4[i];
    vrhs(t + hh, yn, p, w, f);
    for (int i = 0; i < NS; i++) k5[i] = f[i] + (C51 * k1[i] + C52 * k2[i] + C53 * k3[i] + C54 * k4[i]) * ih;
    vlu_solve(V->a, k5);
    for (int i = 0; i < NS; i++) yn[i] += k5[i];
    vrhs(t + hh, yn, p, w, f);
    for (int i = 0; i < NS; i++)
      k6[i] = f[i] + (C61 * k1[i] + C62 * k2[i] + C63 * k3[i] + C64 * k4[i] + C65 * k5[i]) * ih;
    vlu_solve(V->a, k6);
    vd err = VS(0.0);
    for (int i = 0; i < NS; i++) {
      vd ynew = yn[i] + k6[i];
      vd sc = atol[i] + rtol * vmax(vfabs(y[i]), vfabs(ynew));
      err += (k6[i] / sc) * (k6[i] / sc);
      yn[i] = ynew;
    }
    err = vsqrt(err / NS);
    vl accept = VL0;
    for (int l = 0; l < LANES; l++) {
      lane_t *L = &lane[l];
      if (L->m < 0) continue;
      double hl = L->hh, e = err[l];
      if (bad[l]) { L->h = hl * 0.25; L->reject = 1; L->rejected++; continue; }
      if (!isfinite(e)) { L->h = hl * 0.1; L->reject = 1; L->rejected++; continue; }
      double fac = 0.9 / sqrt(sqrt(nb_max(e, 1e-10)));  /* 0.9·err^(-1/4), without a libm pow call */
      if (e <= 1.0) {
        L->t = L->last ? L->tend : L->t + hl;
        accept[l] = -1;
        double grow = L->reject ? nb_min(1.0, fac) : nb_min(6.0, fac);
        double hnew = hl * nb_max(0.2, grow);
        /* a step shortened to land on tend does not shrink the next one */
        L->h = L->last ? nb_max(L->h, hnew) : hnew;
        L->reject = 0;
        L->steps++;
      } else {
        L->h = hl * nb_max(0.2, fac);
        L->reject = 1;
        L->rejected++;
      }
    }
    for (int i = 0; i < NS; i++) y[i] = vsel(accept, yn[i], y[i]);
    active = 0;
    for (int l = 0; l < LANES; l++)
      if (lane[l].m >= 0) active += lane_ready(Q, V, &lane[l], l, &o, next_patient, arg);
  }
}

/* The next patient for a thread: from a counter shared by the team (OpenMP) or one's own. */
typedef struct { int next, n; } counter_t;

static int next_serial(void *arg) {
  counter_t *c = (counter_t *)arg;
  return c->next < c->n ? c->next++ : -1;
}

#ifdef _OPENMP
static int next_shared(void *arg) {
  counter_t *c = (counter_t *)arg;
  int m;
#pragma omp atomic capture
  m = c->next++;
  return m < c->n ? m : -1;
}
#endif

static lanes_t *new_lanes(void) {
  size_t size = (sizeof(lanes_t) + 63) / 64 * 64;
  lanes_t *V = (lanes_t *)aligned_alloc(64, size);
  if (V) memset(V, 0, size);
  return V;
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
  problem_t Q = {n, P, n_times, times, rtol, atol, max_steps, n_out, kind, idx, all_states, out, states, code, fail_t,
                 steps};
  counter_t next = {0, n};
  *team = 1;
  if (threads <= 1 || n <= 1) {
    lanes_t *V = new_lanes();
    if (!V) return -1;
    unsigned int saved = ftz_on();
    solve_lanes(&Q, V, next_serial, &next);
    ftz_off(saved);
    free(V);
    return 0;
  }
#ifdef _OPENMP
  int failed = 0;
  /* never more threads than patients; each thread takes the next patient whenever one of
     its lanes is free (a stiff patient costs several times an easy one) */
#pragma omp parallel num_threads(threads < n ? threads : n)
  {
    lanes_t *V = new_lanes();
    if (!V) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp single
    *team = omp_get_num_threads();
    unsigned int saved = ftz_on();
    if (V) solve_lanes(&Q, V, next_shared, &next);
    ftz_off(saved);
    free(V);
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
