/* atomic_file.c - write a temporary file, then rename it over the target. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
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
    if (injected_fault() || fchmod(fd, new_file_mode(af->path)) != 0
        || injected_fault() || !(af->fp = fdopen(fd, "wb"))) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return 0;
}

int gg_atomic_open(const char *path, gg_atomic_file *af, char *err)
{
    static const char suffix[] = ".tmp-XXXXXX";
    size_t len = strlen(path);
    af->fp = NULL;
    af->path = ggb_malloc(len + 1);
    af->tmp = ggb_malloc(len + sizeof suffix);
    if (!af->path || !af->tmp) {
        gg_atomic_abort(af);
        ggb_errorf(err, "%s: out of memory", path);
        return -1;
    }
    memcpy(af->path, path, len + 1);
    memcpy(af->tmp, path, len);
    memcpy(af->tmp + len, suffix, sizeof suffix);
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
    const char *slash = strrchr(path, '/');
    char *dir = slash ? ggb_strndup(path, slash == path ? 1 : (size_t)(slash - path))
                      : ggb_strdup(".");
    if (!dir)
        return -1;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    ggb_free(dir);
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
