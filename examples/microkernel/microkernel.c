/*
 * microkernel: a tiny, self-contained C inference program used as the sample
 * framework of aipep.
 *
 * It runs a small fixed network on deterministic tensors (seeded LCG, no
 * files needed):
 *
 *   input  [2,32,32]
 *   Conv     3x3, pad 1, 2 -> 8 channels, bias     -> [8,32,32]
 *   Relu                                           -> [8,32,32]
 *   MaxPool  3x3, stride 2, pad 1                  -> [8,16,16]
 *   MatMul   view [8,256] x weight [256,64] + bias -> [8,64]
 *   Softmax  over the last axis                    -> [8,64]
 *
 * Every iteration runs every operator in order.  Each operator performs its
 * kernel `units` times per iteration (default 100, compile-time overridable
 * with -DCONV_UNITS=105 etc., run-time overridable with --work Conv=105), so
 * units are a precise knob for injecting a slowdown: 105 units is exactly 5%
 * more real work than 100.  Every repetition computes the same result, so the
 * output tensor does not depend on the units.
 *
 * Each operator and the whole iteration (type "NET") are timed with
 * clock_gettime(CLOCK_MONOTONIC); after the timed iterations one line per
 * metric is printed:
 *
 *   AIPEP {"type": "Conv", "metric": "latency", "unit": "us", "values": [...]}
 *
 * With --turn_fifos RECEIVE,SEND it takes turns with a partner process, one
 * timed iteration each, handing the turn over as one byte through two named
 * pipes (aipep's alternating rounds; the protocol is the one of aipep's
 * frameworks/program_parts/turn_taking.py): both processes hand over a byte and
 * wait for the other's before the timed loop, the --turn_first process then
 * runs first, and a byte "x" from the harness means the partner has ended.
 * Warm-up runs at once in both.
 *
 * POSIX C11, libc + libm only, no threads.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef CONV_UNITS
#define CONV_UNITS 100
#endif
#ifndef RELU_UNITS
#define RELU_UNITS 100
#endif
#ifndef MAXPOOL_UNITS
#define MAXPOOL_UNITS 100
#endif
#ifndef MATMUL_UNITS
#define MATMUL_UNITS 100
#endif
#ifndef SOFTMAX_UNITS
#define SOFTMAX_UNITS 100
#endif

#define MK_VERSION "1.0"
#define MAX_UNITS 1000000L
#define MAX_ITER 1000000L

/* ---- network shapes ---------------------------------------------------- */

#define IN_C 2
#define IN_H 32
#define IN_W 32
#define CONV_OC 8
#define KSIZE 3
#define PAD_H (IN_H + KSIZE - 1) /* input stored zero-padded for the conv */
#define PAD_W (IN_W + KSIZE - 1)
#define POOL_K 3
#define POOL_H (IN_H / 2)
#define POOL_W (IN_W / 2)
#define MM_M CONV_OC           /* rows: channels            */
#define MM_K (POOL_H * POOL_W) /* inner: pooled positions   */
#define MM_N 64                /* outputs per row (classes) */

static float g_input_pad[IN_C * PAD_H * PAD_W];
static float g_conv_w[CONV_OC * IN_C * KSIZE * KSIZE];
static float g_conv_b[CONV_OC];
static float g_conv_out[CONV_OC * IN_H * IN_W];
/* Relu output is stored with a zero border of POOL_K / 2 for the MaxPool:
 * all values are >= 0, so zero padding never changes a window's maximum. */
#define RP (POOL_K / 2)
#define RELU_H (IN_H + 2 * RP)
#define RELU_W (IN_W + 2 * RP)
static float g_relu_out[CONV_OC * RELU_H * RELU_W];
static float g_pool_out[CONV_OC * POOL_H * POOL_W];
static float g_mm_w[MM_K * MM_N];
static float g_mm_b[MM_N];
static float g_mm_out[MM_M * MM_N];
static float g_probs[MM_M * MM_N];

/*
 * Every kernel repetition reads this volatile scale (always exactly 1.0f,
 * multiplying by it is exact) and stores one result into the volatile sink,
 * so the compiler can neither hoist nor drop repeated units.
 */
static volatile float g_scale = 1.0f;
static volatile float g_sink;

/* ---- deterministic data ------------------------------------------------ */

static uint32_t g_lcg = 20240531u;

static float lcg_uniform(void) /* in [-1, 1) */
{
    g_lcg = g_lcg * 1664525u + 1013904223u;
    return (float)(g_lcg >> 8) * (2.0f / 16777216.0f) - 1.0f;
}

static void fill(float *dst, size_t n, float amplitude)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = amplitude * lcg_uniform();
}

static void init_tensors(void)
{
    for (int c = 0; c < IN_C; c++)
        for (int y = 0; y < IN_H; y++)
            fill(&g_input_pad[(c * PAD_H + y + KSIZE / 2) * PAD_W + KSIZE / 2], IN_W, 1.0f);
    fill(g_conv_w, sizeof g_conv_w / sizeof g_conv_w[0], 0.33f);
    fill(g_conv_b, sizeof g_conv_b / sizeof g_conv_b[0], 0.1f);
    fill(g_mm_w, sizeof g_mm_w / sizeof g_mm_w[0], 0.25f);
    fill(g_mm_b, sizeof g_mm_b / sizeof g_mm_b[0], 0.1f);
}

/* ---- kernels (one unit each) ------------------------------------------- */

static void conv_unit(void)
{
    const float s = g_scale;
    for (int oc = 0; oc < CONV_OC; oc++) {
        float *out = &g_conv_out[oc * IN_H * IN_W];
        const float b = g_conv_b[oc] * s;
        for (int i = 0; i < IN_H * IN_W; i++)
            out[i] = b;
        for (int ic = 0; ic < IN_C; ic++) {
            const float *w = &g_conv_w[(oc * IN_C + ic) * KSIZE * KSIZE];
            const float *in = &g_input_pad[ic * PAD_H * PAD_W];
            for (int ky = 0; ky < KSIZE; ky++) {
                for (int kx = 0; kx < KSIZE; kx++) {
                    const float wv = w[ky * KSIZE + kx];
                    for (int y = 0; y < IN_H; y++) {
                        const float *row = &in[(y + ky) * PAD_W + kx];
                        float *o = &out[y * IN_W];
                        for (int x = 0; x < IN_W; x++)
                            o[x] += wv * row[x];
                    }
                }
            }
        }
    }
    g_sink = g_conv_out[0];
}

static void relu_unit(void)
{
    const float s = g_scale;
    for (int c = 0; c < CONV_OC; c++) {
        for (int y = 0; y < IN_H; y++) {
            const float *in = &g_conv_out[(c * IN_H + y) * IN_W];
            float *out = &g_relu_out[(c * RELU_H + y + RP) * RELU_W + RP];
            for (int x = 0; x < IN_W; x++) {
                const float v = in[x] * s;
                out[x] = v > 0.0f ? v : 0.0f;
            }
        }
    }
    g_sink = g_relu_out[RP * RELU_W + RP];
}

/* POOL_K x POOL_K window, stride 2, padding POOL_K / 2: a vertical max over
 * POOL_K rows, then a horizontal max over POOL_K columns at stride 2. */
static void maxpool_unit(void)
{
    const float s = g_scale;
    float colmax[RELU_W];
    for (int c = 0; c < CONV_OC; c++) {
        const float *in = &g_relu_out[c * RELU_H * RELU_W];
        for (int y = 0; y < POOL_H; y++) {
            const float *top = &in[(2 * y) * RELU_W];
            for (int x = 0; x < RELU_W; x++)
                colmax[x] = top[x] * s;
            for (int ky = 1; ky < POOL_K; ky++) {
                const float *row = &top[ky * RELU_W];
                for (int x = 0; x < RELU_W; x++)
                    colmax[x] = row[x] > colmax[x] ? row[x] : colmax[x];
            }
            float *out = &g_pool_out[(c * POOL_H + y) * POOL_W];
            for (int x = 0; x < POOL_W; x++) {
                float m = colmax[2 * x];
                for (int kx = 1; kx < POOL_K; kx++)
                    m = colmax[2 * x + kx] > m ? colmax[2 * x + kx] : m;
                out[x] = m;
            }
        }
    }
    g_sink = g_pool_out[0];
}

static void matmul_unit(void)
{
    const float s = g_scale;
    for (int i = 0; i < MM_M; i++) {
        float *out = &g_mm_out[i * MM_N];
        for (int j = 0; j < MM_N; j++)
            out[j] = g_mm_b[j] * s;
        for (int k = 0; k < MM_K; k++) {
            const float a = g_pool_out[i * MM_K + k];
            const float *w = &g_mm_w[k * MM_N];
            for (int j = 0; j < MM_N; j++)
                out[j] += a * w[j];
        }
    }
    g_sink = g_mm_out[0];
}

static void softmax_unit(void)
{
    const float s = g_scale;
    for (int i = 0; i < MM_M; i++) {
        const float *in = &g_mm_out[i * MM_N];
        float *out = &g_probs[i * MM_N];
        float mx = in[0] * s;
        for (int j = 1; j < MM_N; j++)
            if (in[j] * s > mx)
                mx = in[j] * s;
        float sum = 0.0f;
        for (int j = 0; j < MM_N; j++) {
            out[j] = expf(in[j] * s - mx);
            sum += out[j];
        }
        const float inv = 1.0f / sum;
        for (int j = 0; j < MM_N; j++)
            out[j] *= inv;
    }
    g_sink = g_probs[0];
}

/* ---- operator table ---------------------------------------------------- */

struct op {
    const char *name;
    void (*unit)(void);
    long units;
};

static struct op g_ops[] = {
    {"Conv", conv_unit, CONV_UNITS},
    {"Relu", relu_unit, RELU_UNITS},
    {"MaxPool", maxpool_unit, MAXPOOL_UNITS},
    {"MatMul", matmul_unit, MATMUL_UNITS},
    {"Softmax", softmax_unit, SOFTMAX_UNITS},
};
#define N_OPS ((int)(sizeof g_ops / sizeof g_ops[0]))

/* ---- timing ------------------------------------------------------------- */

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static const char *g_prog = "microkernel";

/* ---- taking turns with a partner process -------------------------------- */

struct turns {
    int on;           /* 0: this process runs alone */
    int receive;      /* the pipe the turn arrives on */
    int send;         /* the pipe the turn is handed over on */
    int first;        /* this process has the first turn */
    int have_turn;
    double deadline_s; /* bound on every wait for the partner */
};

static const char TURN_TOKEN = 't';
static const char PARTNER_ENDED = 'x';

/* Makes the named pipe unless it exists, and opens it read-write, which on Linux neither
 * blocks for a partner nor ever reads end-of-file. Prints one line and returns -1 on error. */
static int open_fifo(const char *path)
{
    struct stat st;
    if (mkfifo(path, 0600) != 0) {
        if (errno != EEXIST) {
            fprintf(stderr, "%s: --turn_fifos %s: cannot make a named pipe (%s)\n", g_prog, path,
                    strerror(errno));
            return -1;
        }
        if (stat(path, &st) != 0 || !S_ISFIFO(st.st_mode)) {
            fprintf(stderr, "%s: --turn_fifos %s: exists and is no named pipe\n", g_prog, path);
            return -1;
        }
    }
    int fd = open(path, O_RDWR);
    if (fd < 0)
        fprintf(stderr, "%s: --turn_fifos %s: cannot open (%s)\n", g_prog, path, strerror(errno));
    return fd;
}

/* Waits for the partner's byte until the deadline; 0 when it came, else one line and -1. */
static int wait_turn(const struct turns *t)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        double left = t->deadline_s - ((double)(now.tv_sec - start.tv_sec) +
                                       (double)(now.tv_nsec - start.tv_nsec) / 1e9);
        if (left <= 0) {
            fprintf(stderr, "%s: taking turns: the partner process handed over no turn within %g s\n",
                    g_prog, t->deadline_s);
            return -1;
        }
        fd_set readable;
        FD_ZERO(&readable);
        FD_SET(t->receive, &readable);
        struct timeval timeout = {(time_t)left, (suseconds_t)((left - (double)(time_t)left) * 1e6)};
        int ready = select(t->receive + 1, &readable, NULL, NULL, &timeout);
        if (ready < 0 && errno != EINTR) {
            fprintf(stderr, "%s: taking turns: %s\n", g_prog, strerror(errno));
            return -1;
        }
        char word;
        if (ready > 0 && read(t->receive, &word, 1) == 1) {
            if (word == PARTNER_ENDED) {
                fprintf(stderr, "%s: taking turns: the partner process ended before handing over its turn\n",
                        g_prog);
                return -1;
            }
            return 0;
        }
    }
}

static int give_turn(const struct turns *t)
{
    if (write(t->send, &TURN_TOKEN, 1) == 1)
        return 0;
    fprintf(stderr, "%s: taking turns: cannot hand over the turn (%s)\n", g_prog, strerror(errno));
    return -1;
}

/* Before the timed loop: each process hands over a byte and waits for the other's, so
 * neither times anything while its partner still starts or warms up. */
static int start_pass(struct turns *t)
{
    if (!t->on)
        return 0;
    if (give_turn(t) != 0 || wait_turn(t) != 0)
        return -1;
    t->have_turn = t->first;
    return 0;
}

static int before_iteration(struct turns *t)
{
    if (!t->on || t->have_turn)
        return 0;
    if (wait_turn(t) != 0)
        return -1;
    t->have_turn = 1;
    return 0;
}

static int after_iteration(struct turns *t)
{
    if (!t->on)
        return 0;
    t->have_turn = 0;
    return give_turn(t);
}

/* The first process handed over last: it waits for its partner's final byte, which leaves
 * both pipes empty. */
static int end_pass(struct turns *t)
{
    if (t->on && t->first && !t->have_turn)
        return wait_turn(t);
    return 0;
}

/* ---- command line ------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [--warmup N] [--iter N] [--work OP=UNITS]... "
            "[--output FILE]\n"
            "       [--turn_fifos RECEIVE,SEND [--turn_first] [--turn_deadline S]] [--help]\n"
            "  --warmup N       untimed iterations before measuring (default 2)\n"
            "  --iter N         timed iterations, N >= 1 (default 10)\n"
            "  --work OP=UNITS  kernel repetitions per iteration for OP "
            "(default 100 each;\n"
            "                   OP is one of Conv, Relu, MaxPool, MatMul, "
            "Softmax)\n"
            "  --output FILE    write the output tensor as JSON "
            "{\"shape\": [...], \"values\": [...]}\n"
            "  --turn_fifos RECEIVE,SEND  take turns with a partner process, one timed\n"
            "                   iteration each, through these named pipes (made if missing)\n"
            "  --turn_first     this process has the first turn\n"
            "  --turn_deadline S  seconds to wait for the partner's turn (default 300)\n"
            "  --help           show this help\n"
            "stdout: one line per metric: AIPEP {\"type\": ..., \"metric\": "
            "\"latency\", \"unit\": \"us\", \"values\": [...]}\n",
            g_prog);
}

/* Prints one line on stderr and returns the exit status for bad arguments. */
static int bad_args(const char *fmt, const char *what)
{
    fprintf(stderr, "%s: ", g_prog);
    fprintf(stderr, fmt, what);
    fprintf(stderr, " (see --help)\n");
    return 2;
}

/* Parses a decimal integer in [lo, hi]; returns 0 on success. */
static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    if (s == NULL || *s == '\0')
        return -1;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static struct op *find_op(const char *name, size_t len)
{
    for (int i = 0; i < N_OPS; i++)
        if (strlen(g_ops[i].name) == len && strncmp(g_ops[i].name, name, len) == 0)
            return &g_ops[i];
    return NULL;
}

/* ---- output ------------------------------------------------------------- */

static void print_metric(const char *type, const double *values, long n)
{
    printf("AIPEP {\"type\": \"%s\", \"metric\": \"latency\", \"unit\": \"us\", "
           "\"values\": [",
           type);
    for (long i = 0; i < n; i++)
        printf(i ? ", %.3f" : "%.3f", values[i]);
    printf("]}\n");
}

static int write_output(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "%s: cannot open output file '%s': %s\n", g_prog, path,
                strerror(errno));
        return -1;
    }
    fprintf(f, "{\"shape\": [%d, %d], \"values\": [", MM_M, MM_N);
    for (int i = 0; i < MM_M * MM_N; i++)
        fprintf(f, i ? ", %.9g" : "%.9g", (double)g_probs[i]);
    fprintf(f, "]}\n");
    if (ferror(f) | (fclose(f) != 0)) {
        fprintf(stderr, "%s: cannot write output file '%s'\n", g_prog, path);
        return -1;
    }
    return 0;
}

/* ---- main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
    long warmup = 2, iter = 10;
    const char *output = NULL;
    const char *turn_fifos = NULL;
    struct turns turns = {0, -1, -1, 0, 0, 300.0};

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = NULL;
        const char *eq = NULL;
        char name[32];

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strncmp(arg, "--", 2) != 0)
            return bad_args("unexpected argument '%s'", arg);
        if (strcmp(arg, "--turn_first") == 0) {
            turns.first = 1;
            continue;
        }
        /* accept both "--opt value" and "--opt=value" */
        eq = strchr(arg, '=');
        if (eq != NULL) {
            size_t len = (size_t)(eq - arg);
            if (len >= sizeof name)
                return bad_args("unknown option '%s'", arg);
            memcpy(name, arg, len);
            name[len] = '\0';
            val = eq + 1;
        } else {
            if (strlen(arg) >= sizeof name)
                return bad_args("unknown option '%s'", arg);
            strcpy(name, arg);
        }
        if (strcmp(name, "--warmup") != 0 && strcmp(name, "--iter") != 0 &&
            strcmp(name, "--work") != 0 && strcmp(name, "--output") != 0 &&
            strcmp(name, "--turn_fifos") != 0 && strcmp(name, "--turn_deadline") != 0)
            return bad_args("unknown option '%s'", arg);
        if (val == NULL) {
            if (i + 1 >= argc)
                return bad_args("option '%s' needs a value", name);
            val = argv[++i];
        }

        if (strcmp(name, "--warmup") == 0) {
            if (parse_long(val, 0, MAX_ITER, &warmup) != 0)
                return bad_args("--warmup expects an integer >= 0, got '%s'", val);
        } else if (strcmp(name, "--iter") == 0) {
            if (parse_long(val, 1, MAX_ITER, &iter) != 0)
                return bad_args("--iter expects an integer >= 1, got '%s'", val);
        } else if (strcmp(name, "--output") == 0) {
            if (*val == '\0')
                return bad_args("--output expects a file name%s", "");
            output = val;
        } else if (strcmp(name, "--turn_fifos") == 0) {
            const char *comma = strchr(val, ',');
            if (comma == NULL || comma == val || comma[1] == '\0' || strchr(comma + 1, ',') != NULL)
                return bad_args("--turn_fifos expects RECEIVE,SEND (two named pipe paths), got '%s'", val);
            turn_fifos = val;
        } else if (strcmp(name, "--turn_deadline") == 0) {
            char *end;
            errno = 0;
            turns.deadline_s = strtod(val, &end);
            if (errno != 0 || end == val || *end != '\0' || !(turns.deadline_s > 0) ||
                turns.deadline_s > 1e9)
                return bad_args("--turn_deadline expects seconds > 0, got '%s'", val);
        } else { /* --work OP=UNITS */
            const char *sep = strchr(val, '=');
            struct op *op;
            long units;
            if (sep == NULL)
                return bad_args("--work expects OP=UNITS, got '%s'", val);
            op = find_op(val, (size_t)(sep - val));
            if (op == NULL)
                return bad_args("--work: unknown operator in '%s'; expected one of "
                                "Conv, Relu, MaxPool, MatMul, Softmax",
                                val);
            if (parse_long(sep + 1, 1, MAX_UNITS, &units) != 0)
                return bad_args("--work: UNITS must be an integer >= 1, got '%s'", val);
            op->units = units;
        }
    }

    if (turn_fifos != NULL) {
        const char *comma = strchr(turn_fifos, ',');
        char *receive = strndup(turn_fifos, (size_t)(comma - turn_fifos));
        if (receive == NULL) {
            fprintf(stderr, "%s: out of memory\n", g_prog);
            return 1;
        }
        turns.receive = open_fifo(receive);
        free(receive);
        if (turns.receive < 0 || (turns.send = open_fifo(comma + 1)) < 0)
            return 2;
        turns.on = 1;
    }

    double *samples = malloc((size_t)iter * (N_OPS + 1) * sizeof(double));
    if (samples == NULL) {
        fprintf(stderr, "%s: out of memory for %ld iterations\n", g_prog, iter);
        return 1;
    }
    double *net = samples + (size_t)iter * N_OPS;

    init_tensors();

    for (long it = -warmup; it < iter; it++) {
        if ((it == 0 && start_pass(&turns) != 0) || (it >= 0 && before_iteration(&turns) != 0))
            goto turn_failed;
        double t_start = now_us();
        double t_prev = t_start;
        for (int o = 0; o < N_OPS; o++) {
            for (long u = 0; u < g_ops[o].units; u++)
                g_ops[o].unit();
            double t = now_us();
            if (it >= 0)
                samples[(size_t)o * (size_t)iter + (size_t)it] = t - t_prev;
            t_prev = t;
        }
        if (it >= 0)
            net[it] = t_prev - t_start;
        if (it >= 0 && after_iteration(&turns) != 0)
            goto turn_failed;
    }
    if (end_pass(&turns) != 0)
        goto turn_failed;

    printf("microkernel %s: warmup=%ld iter=%ld units", MK_VERSION, warmup, iter);
    for (int o = 0; o < N_OPS; o++)
        printf(" %s=%ld", g_ops[o].name, g_ops[o].units);
    printf("\n");
    print_metric("NET", net, iter);
    for (int o = 0; o < N_OPS; o++)
        print_metric(g_ops[o].name, samples + (size_t)o * (size_t)iter, iter);
    free(samples);

    if (fflush(stdout) != 0) {
        fprintf(stderr, "%s: cannot write to stdout\n", g_prog);
        return 1;
    }
    if (output != NULL && write_output(output) != 0)
        return 1;
    return 0;

turn_failed: /* the turn functions printed why */
    free(samples);
    return 1;
}
