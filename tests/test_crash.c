/* test_crash.c - crash consistency of the files `gategrad train` writes
 * ($1 is the binary). Runs `train --save m.safetensors --plot m.svg --html
 * m.html` again and again on files that already hold a good checkpoint, plot
 * and report, and kills
 * it with SIGKILL: most kills aimed at the atomic writes themselves (an
 * inotify watch on the directory sees each temporary file created and
 * renamed; the kill follows after a random delay), the rest at random
 * moments. After every kill each file must be either the previous one, byte
 * for byte, or a complete new one (the checkpoint loads into a model and
 * names the killed run's seed; the plot is a whole SVG; the report a whole
 * page, doctype to its final `</html>` line). Temporary files of
 * killed writes must never be at the target, and the next save of the same
 * target must remove them. The kill plan comes from a fixed seed. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gategrad.h"
#include "gategrad/io.h"
#include "gategrad/nn.h"

/* Runs until `kills` of them were killed (240 unless the second argument
 * says otherwise: the sanitizer builds ask for fewer, their runs are slow). */
enum { MAX_RUNS = 600 };
static int kills = 240;

static const char *gategrad;
enum { NTARGETS = 3 };
static const char *const target_names[NTARGETS] = {"m.safetensors", "m.svg", "m.html"};
static char dir[64], ckpt[128], plot[128], html[128];

static uint64_t rng_state = 17;

static uint64_t next_random(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void spin_until(double t_us)
{
    while (now_us() < t_us)
        ;
}

/* Where a run is killed: `delay_us` after the event `when` on the file
 * `target` (its temporary file created, or renamed over it), or at
 * `delay_us` after the start. */
typedef enum { AT_CREATE, AT_RENAME, AT_RANDOM_TIME, NEVER } kill_moment;
typedef struct kill_plan {
    kill_moment when;
    int target; /* an index into target_names */
    double delay_us;
} kill_plan;

typedef struct run_result {
    pid_t pid;
    bool killed;          /* ended by our SIGKILL, not by itself */
    bool saw_temp[NTARGETS];    /* a temporary file of each target appeared */
    double create_us[NTARGETS]; /* when, since the start */
    double rename_us[NTARGETS]; /* when it was renamed over its target (0: not seen) */
} run_result;

static int target_index(const char *name, size_t *base_len)
{
    for (int i = 0; i < NTARGETS; i++) {
        size_t n = strlen(target_names[i]);
        if (strncmp(name, target_names[i], n) == 0) {
            *base_len = n;
            return i;
        }
    }
    return -1;
}

/* The target's index for an event on a temporary file of one (or, with
 * *renamed, the rename over it); -1 for anything else. */
static int classify_event(const struct inotify_event *e, bool *renamed)
{
    size_t n;
    int t = e->len ? target_index(e->name, &n) : -1;
    if (t < 0)
        return -1;
    *renamed = (e->mask & IN_MOVED_TO) && e->name[n] == '\0';
    if (*renamed)
        return t;
    return strncmp(e->name + n, ".tmp-", 5) == 0 && (e->mask & IN_CREATE) ? t : -1;
}

static pid_t start_train(unsigned seed)
{
    char seed_text[16];
    snprintf(seed_text, sizeof seed_text, "%u", seed);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execl(gategrad, gategrad, "train", "--data", "spiral", "--model", "2-128-128-2:tanh", "--epochs", "1",
              "--seed", seed_text, "--save", ckpt, "--plot", plot, "--html", html, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Reads the queued inotify events of a run; kills it when its plan's event
 * comes (after the plan's delay). */
static void read_events(int in, double start, const kill_plan *plan, pid_t pid, bool *sent, run_result *r)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t len;
    while ((len = read(in, buf, sizeof buf)) > 0)
        for (char *q = buf; q < buf + len;) {
            const struct inotify_event *e = (const void *)q;
            q += sizeof *e + e->len;
            bool renamed;
            int t = classify_event(e, &renamed);
            if (t < 0)
                continue;
            double at = now_us();
            if (renamed)
                r->rename_us[t] = at - start;
            else {
                r->saw_temp[t] = true;
                r->create_us[t] = at - start;
            }
            bool hit = plan->when == (renamed ? AT_RENAME : AT_CREATE) && plan->target == t;
            if (hit && !*sent) {
                spin_until(at + plan->delay_us);
                kill(pid, SIGKILL);
                *sent = true;
            }
        }
}

static void run_once(unsigned seed, const kill_plan *plan, run_result *r)
{
    memset(r, 0, sizeof *r);
    int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    assert_true(in >= 0);
    assert_true(inotify_add_watch(in, dir, IN_CREATE | IN_MOVED_TO) >= 0);
    double start = now_us(), kill_at = plan->when == AT_RANDOM_TIME ? start + plan->delay_us : 0;
    pid_t pid = r->pid = start_train(seed);
    int status = 0;
    bool sent = false;
    for (;;) {
        if (kill_at > 0 && !sent && now_us() >= kill_at) {
            kill(pid, SIGKILL);
            sent = true;
        }
        pid_t w = waitpid(pid, &status, WNOHANG);
        assert_true(w >= 0);
        if (w == pid)
            break;
        struct pollfd p = {.fd = in, .events = POLLIN};
        double wait_ms = kill_at > 0 && !sent ? (kill_at - now_us()) / 1e3 : 2;
        poll(&p, 1, wait_ms < 0 ? 0 : wait_ms > 2 ? 2 : (int)wait_ms);
        read_events(in, start, plan, pid, &sent, r);
    }
    sent = true; /* the pid is reaped: never signal it again */
    read_events(in, start, plan, pid, &sent, r); /* what came before the exit */
    close(in);
    r->killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    if (!r->killed)
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static unsigned char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

/* The checkpoint at ckpt loads into the model it describes and was written
 * by the run with this seed. */
static void assert_checkpoint_loads(unsigned seed)
{
    char err[GG_ERRLEN];
    gg_mlp_spec spec;
    if (gg_mlp_read_spec(ckpt, &spec, err))
        fail_msg("%s", err);
    gg_classifier *c = gg_classifier_new(&spec, 16, 0, err);
    assert_non_null(c);
    if (gg_mlp_load(gg_classifier_model(c), ckpt, err))
        fail_msg("%s", err);
    gg_classifier_free(c);
    gg_safetensors *f;
    assert_int_equal(gg_safetensors_open(ckpt, &f, err), 0);
    char want[16];
    snprintf(want, sizeof want, "%u", seed);
    const char *got = gg_safetensors_meta(f, "seed");
    if (!got || strcmp(got, want))
        fail_msg("checkpoint's seed is %s, not the run's %s", got ? got : "(none)", want);
    gg_safetensors_close(f);
}

/* buf starts with `start` and ends with `end`. */
static void assert_whole(const unsigned char *buf, size_t len, const char *start, const char *end)
{
    assert_true(len > strlen(start) + strlen(end));
    assert_memory_equal(buf, start, strlen(start));
    assert_memory_equal(buf + len - strlen(end), end, strlen(end));
}

/* The last good version of a file. */
typedef struct good_file {
    unsigned char *bytes;
    size_t len;
} good_file;

/* Checks path is good's bytes or a complete new file (then kept in good);
 * returns whether it changed. */
static bool check_file(const char *path, good_file *good, int which, unsigned seed)
{
    size_t len;
    unsigned char *now = read_whole(path, &len);
    if (len == good->len && memcmp(now, good->bytes, len) == 0) {
        free(now);
        return false;
    }
    if (which == 0)
        assert_checkpoint_loads(seed);
    else if (which == 1)
        assert_whole(now, len, "<svg", "</svg>\n");
    else
        assert_whole(now, len, "<!DOCTYPE html>\n", "</script>\n</body>\n</html>\n");
    free(good->bytes);
    good->bytes = now;
    good->len = len;
    return true;
}

/* Counts the temporary files of each target in dir, all of them and those
 * of the process own (0: none). */
static void count_temps(int all[NTARGETS], int mine[NTARGETS], pid_t own)
{
    char tag[32];
    snprintf(tag, sizeof tag, ".tmp-%ld-", (long)own);
    for (int t = 0; t < NTARGETS; t++)
        all[t] = mine[t] = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        size_t n;
        int t = target_index(e->d_name, &n);
        if (t >= 0 && strncmp(e->d_name + n, ".tmp-", 5) == 0) {
            all[t]++;
            mine[t] += strncmp(e->d_name + n, tag, strlen(tag)) == 0;
        }
    }
    closedir(d);
}

/* window_us: how long the checkpoint's and the report's writes take. */
static kill_plan plan_for(const double window_us[NTARGETS], double run_us)
{
    kill_plan p = {.target = 0};
    unsigned r = (unsigned)(next_random() % 100);
    double u = (double)(next_random() % 1000001) / 1e6;
    if (r < 50) {
        p.when = AT_CREATE; /* during the checkpoint's write (the kill itself takes time) */
        p.delay_us = 0.6 * u * window_us[0];
    } else if (r < 62) {
        p.when = AT_CREATE; /* during the plot's */
        p.target = 1;
        p.delay_us = u * 200;
    } else if (r < 75) {
        p.when = AT_CREATE; /* during the report's */
        p.target = 2;
        p.delay_us = 0.6 * u * window_us[2];
    } else if (r < 85) {
        p.when = AT_RENAME; /* just after the checkpoint's rename */
        p.delay_us = u * 50;
    } else {
        p.when = AT_RANDOM_TIME;
        p.delay_us = u * run_us;
    }
    return p;
}

typedef struct tally {
    int runs, kills, in_write[NTARGETS], after_rename, kept[NTARGETS], renewed[NTARGETS], left_behind;
} tally;

/* One run of train with its files checked afterwards. */
static void run_and_check(const kill_plan *p, good_file good[NTARGETS], tally *n)
{
    const char *paths[NTARGETS] = {ckpt, plot, html};
    unsigned seed = 1 + (unsigned)n->runs++;
    int before[NTARGETS], after[NTARGETS], mine[NTARGETS];
    run_result r;
    count_temps(before, mine, 0);
    run_once(seed, p, &r);
    count_temps(after, mine, r.pid);
    for (int t = 0; t < NTARGETS; t++) {
        bool changed = check_file(paths[t], &good[t], t, seed);
        /* A save that reached its temporary file removed every stale one of
         * its target: at most its own is left. */
        if (r.saw_temp[t] && after[t] > mine[t])
            fail_msg("run %d: %d stale temporary files of %s remain (were %d)", n->runs, after[t] - mine[t],
                     target_names[t], before[t]);
        if (!r.killed && after[t] != 0)
            fail_msg("run %d finished but left %d temporary files of %s", n->runs, after[t], target_names[t]);
        if (r.killed) {
            n->in_write[t] += mine[t];
            n->kept[t] += !changed;
            n->renewed[t] += changed;
            n->left_behind += mine[t];
        }
    }
    if (r.killed) {
        n->kills++;
        n->after_rename += r.rename_us[0] > 0 && !mine[0] && !mine[1] && !mine[2] && !r.rename_us[1];
    }
}

/* `gategrad predict --load FILE` evaluates the checkpoint (exit 0). */
static void assert_predict_loads(const char *path)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        execl(gategrad, gategrad, "predict", "--load", path, "--json", (char *)NULL);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void kills_leave_old_or_new_files(void **state)
{
    (void)state;
    good_file good[NTARGETS] = {{0}};
    tally n = {0};
    kill_plan never = {.when = NEVER};
    /* The first save, uninterrupted, which also measures how long the
     * writes take and a whole run. */
    run_result r;
    run_once(1, &never, &r);
    n.runs = 1;
    double window[NTARGETS];
    for (int t = 0; t < NTARGETS; t++) {
        assert_true(r.saw_temp[t] && r.rename_us[t] > r.create_us[t]);
        window[t] = r.rename_us[t] - r.create_us[t];
    }
    double run_us = r.rename_us[2] + 1000;
    assert_true(check_file(ckpt, &good[0], 0, 1));
    assert_true(check_file(plot, &good[1], 1, 1));
    assert_true(check_file(html, &good[2], 2, 1));
    while (n.kills < kills && n.runs < MAX_RUNS) {
        kill_plan p = plan_for(window, run_us);
        run_and_check(&p, good, &n);
    }
    assert_predict_loads(ckpt); /* what the kills left, as the command reads it */
    run_and_check(&never, good, &n); /* the last save cleans up */
    int left[NTARGETS], none[NTARGETS];
    count_temps(left, none, 0);
    assert_int_equal(left[0] + left[1] + left[2], 0);
    print_message("%d kills of %d runs: %d inside the checkpoint's write (its temporary file left), %d inside the "
                  "plot's, %d inside the report's, %d just after the checkpoint's rename; after a kill the "
                  "checkpoint was the old one %d times and a complete new one %d times, the plot old %d and new %d "
                  "times, the report old %d and new %d times; the %d temporary files killed writes left were all "
                  "removed by later saves\n",
                  n.kills, n.runs, n.in_write[0], n.in_write[1], n.in_write[2], n.after_rename, n.kept[0],
                  n.renewed[0], n.kept[1], n.renewed[1], n.kept[2], n.renewed[2], n.left_behind);
    assert_true(n.kills >= kills);
    /* Kills land inside the writes (most of them in a release build, over
     * a third under the sanitizers' slower timing): the crash is tested
     * where it matters, the report's write included. */
    assert_true(n.in_write[0] + n.in_write[1] + n.in_write[2] >= n.kills / 3);
    assert_true(n.in_write[2] > 0);
    for (int t = 0; t < NTARGETS; t++)
        free(good[t].bytes);
}

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "gg-crash-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(ckpt, sizeof ckpt, "%s/m.safetensors", dir);
    snprintf(plot, sizeof plot, "%s/m.svg", dir);
    snprintf(html, sizeof html, "%s/m.html", dir);
    return 0;
}

static int remove_dir(void **state)
{
    (void)state;
    DIR *d = opendir(dir);
    char p[512];
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    return rmdir(dir);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3 || (argc == 3 && (kills = atoi(argv[2])) < 1)) {
        fprintf(stderr, "usage: test_crash GATEGRAD [KILLS]\n");
        return 2;
    }
    gategrad = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(kills_leave_old_or_new_files, make_dir, remove_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
