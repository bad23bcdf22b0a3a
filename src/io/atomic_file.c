/* atomic_file.c - write a temporary file, then rename it over the target. */
#define _DEFAULT_SOURCE /* flock */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "io/io.h"

long ggi_atomic_fail_at = 0;

/* True when the test hook says this step fails (errno is then EIO). */
static int injected_fault(void)
{
    if (ggi_atomic_fail_at > 0 && --ggi_atomic_fail_at == 0) {
        errno = EIO;
        return 1;
    }
    return 0;
}

static mode_t new_file_mode(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        return st.st_mode & 07777;
    return 0644;
}

/* Makes af->fp from a fresh temporary file, or returns -1 with errno set
 * (and af->tmp NULL once nothing is left to remove). */
static int create_temp(gg_atomic_file *af)
{
    int fd = injected_fault() ? -1 : mkstemp(af->tmp);
    if (fd < 0) {
        ggb_free(af->tmp);
        af->tmp = NULL;
        return -1;
    }
    /* Held until the file is closed: it tells a later save that a writer
     * still owns it (see remove_stale_temps). Where locks are unsupported the
     * writer's pid in the name protects it alone. */
    (void)flock(fd, LOCK_EX);
    if (injected_fault() || fchmod(fd, new_file_mode(af->path)) != 0
        || injected_fault() || !(af->fp = fdopen(fd, "wb"))) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return 0;
}

/* Opens the directory path is in (".", "/" or its leading part), or -1. */
static int open_directory_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return open(".", O_RDONLY | O_DIRECTORY);
    char dir[PATH_MAX];
    size_t len = slash == path ? 1 : (size_t)(slash - path);
    if (len >= sizeof dir) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(dir, path, len);
    dir[len] = '\0';
    return open(dir, O_RDONLY | O_DIRECTORY);
}

/* The pid in name if it is one of base's temporary files,
 * "BASE.tmp-PID-XXXXXX" (mkstemp's six letters or digits), else 0. */
static long temp_owner(const char *name, const char *base)
{
    size_t blen = strlen(base);
    if (strncmp(name, base, blen) != 0 || strncmp(name + blen, ".tmp-", 5) != 0)
        return 0;
    const char *p = name + blen + 5, *digits = p;
    long pid = 0;
    while (*p >= '0' && *p <= '9' && p - digits < 10)
        pid = pid * 10 + (*p++ - '0');
    if (p == digits || *p++ != '-')
        return 0;
    for (int i = 0; i < 6; i++, p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            return 0;
    return *p == '\0' ? pid : 0;
}

/* Removes name (in the directory dfd) if it is a regular file whose lock
 * nobody holds, so no live writer can lose its file. */
static void remove_if_unlocked(int dfd, const char *name)
{
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && flock(fd, LOCK_EX | LOCK_NB) == 0)
        unlinkat(dfd, name, 0);
    close(fd);
}

/* Removes the temporary files of path that killed writers left behind:
 * only names of this file's own pattern, only when the pid in the name is
 * no running process and no writer holds the file's lock. Best effort: the
 * save goes on whatever happens here. */
static void remove_stale_temps(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    int dfd = open_directory_of(path);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return;
    }
    long self = (long)getpid();
    for (struct dirent *e; (e = readdir(d));) {
        long pid = temp_owner(e->d_name, base);
        if (pid <= 0 || pid == self || pid > INT_MAX)
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* running (or not ours to signal): maybe writing */
        remove_if_unlocked(dirfd(d), e->d_name);
    }
    closedir(d);
}

int gg_atomic_open(const char *path, gg_atomic_file *af, char *err)
{
    char suffix[48];
    int slen = snprintf(suffix, sizeof suffix, ".tmp-%ld-XXXXXX", (long)getpid());
    size_t len = strlen(path);
    af->fp = NULL;
    af->path = ggb_malloc(len + 1);
    af->tmp = ggb_malloc(len + (size_t)slen + 1);
    if (!af->path || !af->tmp) {
        gg_atomic_abort(af);
        ggb_errorf(err, "%s: out of memory", path);
        return -1;
    }
    memcpy(af->path, path, len + 1);
    memcpy(af->tmp, path, len);
    memcpy(af->tmp + len, suffix, (size_t)slen + 1);
    remove_stale_temps(path);
    if (create_temp(af) != 0) {
        ggb_errorf(err, "%s: cannot create a temporary file next to it: %s", path,
                  strerror(errno));
        gg_atomic_abort(af);
        return -1;
    }
    return 0;
}

int gg_atomic_write(gg_atomic_file *af, const void *buf, size_t n, char *err)
{
    if (n == 0)
        return 0;
    if (injected_fault() || fwrite(buf, 1, n, af->fp) != n) {
        ggb_errorf(err, "%s: write failed: %s", af->path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Makes the rename itself durable. File systems that cannot fsync a
 * directory say EINVAL; there is nothing more to do on those. */
static int sync_directory(const char *path)
{
    int fd = open_directory_of(path);
    if (fd < 0)
        return -1;
    int rc = injected_fault() ? -1 : fsync(fd);
    if (rc != 0 && errno == EINVAL)
        rc = 0;
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* Flushes, syncs and closes af->fp; returns the failing step or NULL. */
static const char *finish_temp(gg_atomic_file *af)
{
    if (injected_fault() || fflush(af->fp) != 0 || ferror(af->fp))
        return "write failed";
    if (injected_fault() || fsync(fileno(af->fp)) != 0)
        return "fsync failed";
    int rc = fclose(af->fp);
    af->fp = NULL;
    if (rc != 0 || injected_fault())
        return "close failed";
    return NULL;
}

int gg_atomic_commit(gg_atomic_file *af, char *err)
{
    errno = 0; /* ferror() alone sets no errno */
    const char *step = finish_temp(af);
    if (!step && (injected_fault() || rename(af->tmp, af->path) != 0))
        step = "cannot rename the temporary file over it";
    if (step) {
        if (errno == 0)
            errno = EIO;
        ggb_errorf(err, "%s: %s: %s", af->path, step, strerror(errno));
        gg_atomic_abort(af);
        return -1;
    }
    ggb_free(af->tmp);
    af->tmp = NULL;
    int rc = sync_directory(af->path);
    if (rc != 0)
        ggb_errorf(err, "%s: written, but fsync of its directory failed: %s", af->path,
                  strerror(errno));
    gg_atomic_abort(af);
    return rc;
}

void gg_atomic_abort(gg_atomic_file *af)
{
    if (af->fp)
        fclose(af->fp);
    if (af->tmp)
        unlink(af->tmp);
    ggb_free(af->tmp);
    ggb_free(af->path);
    af->fp = NULL;
    af->tmp = NULL;
    af->path = NULL;
}
