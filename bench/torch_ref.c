/* torch_ref.c - PyTorch as a reference in the same run: bench/pytorch_epoch.py
 * --serve as a child process, in PyTorch's best configuration here, driven
 * one command at a time so that its timings interleave with ours. */
#include "bench.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kernels/kernels.h"

#ifndef GG_BENCH_TORCH_SCRIPT
#define GG_BENCH_TORCH_SCRIPT "bench/pytorch_epoch.py"
#endif

static const char python[] = "/usr/bin/python3";
static char script[4096];
static const char openblas_omp[] = "/usr/lib/x86_64-linux-gnu/openblas-openmp";

/* In the child: PyTorch's best environment, then the script. Debian's
 * torch links libblas.so.3, which the OpenMP OpenBLAS directory provides;
 * its OpenMP threads and PyTorch's are then the same pool. */
static void exec_script(int threads)
{
    char n[16];
    snprintf(n, sizeof n, "%d", threads);
    setenv("LD_LIBRARY_PATH", openblas_omp, 1);
    setenv("OMP_NUM_THREADS", n, 1);
    setenv("OPENBLAS_NUM_THREADS", n, 1);
    /* 0.3.21 takes AVX-512 CPUs it does not know for Haswell-class ones. */
    if (ggk_cpu_has_avx512())
        setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    else
        unsetenv("OPENBLAS_CORETYPE");
    execl(python, python, script, "--serve", "--threads", n, (char *)NULL);
    _exit(127);
}

static int missing(bench_torch *t, const char *why)
{
    snprintf(t->missing, sizeof t->missing, "%s", why);
    return -1;
}

/* The script beside this program (the build copies it there, so that a
 * build folder moved away from its sources still finds it), else in the
 * source tree it was built from. */
static int find_script(void)
{
    ssize_t n = readlink("/proc/self/exe", script, sizeof script - 32);
    if (n > 0) {
        script[n] = '\0';
        char *slash = strrchr(script, '/');
        strcpy(slash ? slash + 1 : script, "pytorch_epoch.py");
        if (!access(script, R_OK))
            return 0;
    }
    snprintf(script, sizeof script, "%s", GG_BENCH_TORCH_SCRIPT);
    return access(script, R_OK);
}

int bench_torch_start(bench_torch *t, int threads)
{
    *t = (bench_torch){.pid = -1};
    if (access(python, X_OK))
        return missing(t, "/usr/bin/python3 not found");
    if (find_script())
        return missing(t, "pytorch_epoch.py is neither beside gategrad-bench nor at " GG_BENCH_TORCH_SCRIPT);
    if (access(openblas_omp, R_OK))
        return missing(t, "the OpenMP OpenBLAS is missing (libopenblas0-openmp: sh tools/setup.sh --bench)");
    int down[2], up[2];
    if (pipe(down))
        return missing(t, "no pipe");
    if (pipe(up)) {
        close(down[0]), close(down[1]);
        return missing(t, "no pipe");
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(down[0], 0);
        dup2(up[1], 1);
        close(down[0]), close(down[1]), close(up[0]), close(up[1]);
        exec_script(threads);
    }
    close(down[0]);
    close(up[1]);
    if (pid < 0) {
        close(down[1]), close(up[0]);
        return missing(t, "fork failed");
    }
    signal(SIGPIPE, SIG_IGN); /* a child that died answers -1, not a signal */
    t->pid = pid;
    t->to = fdopen(down[1], "w");
    t->from = fdopen(up[0], "r");
    char line[256];
    if (!t->to || !t->from || !fgets(line, sizeof line, t->from) || strncmp(line, "ready torch ", 12)) {
        bench_torch_stop(t);
        return missing(t, "python3 could not import torch (python3-torch: sh tools/setup.sh --bench)");
    }
    sscanf(line + 12, "%31s", t->version);
    return 0;
}

/* Sends one command and reads "ok A B"; 0, or -1 when the child is gone. */
static int ask(bench_torch *t, const char *cmd, double *a, double *b)
{
    char line[256];
    if (t->pid <= 0 || fprintf(t->to, "%s\n", cmd) < 0 || fflush(t->to) || !fgets(line, sizeof line, t->from)
        || sscanf(line, "ok %lf %lf", a, b) != 2)
        return -1;
    return 0;
}

int bench_torch_train(bench_torch *t, const char *spec, size_t batch, size_t steps, double *seconds,
                      double *loss)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "train %s %zu %zu", spec, batch, steps);
    return ask(t, cmd, seconds, loss);
}

int bench_torch_predict(bench_torch *t, size_t batch, double *seconds)
{
    char cmd[64];
    double samples;
    snprintf(cmd, sizeof cmd, "predict %zu", batch);
    return ask(t, cmd, seconds, &samples);
}

void bench_torch_stop(bench_torch *t)
{
    if (t->to) {
        fputs("quit\n", t->to);
        fclose(t->to);
    }
    if (t->from)
        fclose(t->from);
    if (t->pid > 0)
        waitpid(t->pid, NULL, 0);
    t->to = t->from = NULL;
    t->pid = -1;
}

void bench_settle(void)
{
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
}
