/* atomic_file.c - write a temporary file, then rename it over the target. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "io/atomic_file.h"
#include "io/ioerr.h"

long gg__atomic_fail_at = 0;

/* True when the test hook says this step fails (errno is then EIO). */
static int injected_fault(void)
{
    if (gg__atomic_fail_at > 0 && --gg__atomic_fail_at == 0) {
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
static int create_temp(gg__atomic_file *af)
{
    int fd = injected_fault() ? -1 : mkstemp(af->tmp);
    if (fd < 0) {
        gg__free(af->tmp);
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

int gg__atomic_open(const char *path, gg__atomic_file *af, char *err)
{
    static const char suffix[] = ".tmp-XXXXXX";
    size_t len = strlen(path);
    af->fp = NULL;
    af->path = gg__malloc(len + 1);
    af->tmp = gg__malloc(len + sizeof suffix);
    if (!af->path || !af->tmp) {
        gg__atomic_abort(af);
        gg__ioerr(err, path, "out of memory");
        return -1;
    }
    memcpy(af->path, path, len + 1);
    memcpy(af->tmp, path, len);
    memcpy(af->tmp + len, suffix, sizeof suffix);
    if (create_temp(af) != 0) {
        gg__ioerr(err, path, "cannot create a temporary file next to it: %s",
                  strerror(errno));
        gg__atomic_abort(af);
        return -1;
    }
    return 0;
}

int gg__atomic_write(gg__atomic_file *af, const void *buf, size_t n, char *err)
{
    if (n == 0)
        return 0;
    if (injected_fault() || fwrite(buf, 1, n, af->fp) != n) {
        gg__ioerr(err, af->path, "write failed: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Makes the rename itself durable. File systems that cannot fsync a
 * directory say EINVAL; there is nothing more to do on those. */
static int sync_directory(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path))
                      : gg__strdup(".");
    if (!dir)
        return -1;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    gg__free(dir);
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
static const char *finish_temp(gg__atomic_file *af)
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

int gg__atomic_commit(gg__atomic_file *af, char *err)
{
    errno = 0; /* ferror() alone sets no errno */
    const char *step = finish_temp(af);
    if (!step && (injected_fault() || rename(af->tmp, af->path) != 0))
        step = "cannot rename the temporary file over it";
    if (step) {
        if (errno == 0)
            errno = EIO;
        gg__ioerr(err, af->path, "%s: %s", step, strerror(errno));
        gg__atomic_abort(af);
        return -1;
    }
    gg__free(af->tmp);
    af->tmp = NULL;
    int rc = sync_directory(af->path);
    if (rc != 0)
        gg__ioerr(err, af->path, "written, but fsync of its directory failed: %s",
                  strerror(errno));
    gg__atomic_abort(af);
    return rc;
}

void gg__atomic_abort(gg__atomic_file *af)
{
    if (af->fp)
        fclose(af->fp);
    if (af->tmp)
        unlink(af->tmp);
    gg__free(af->tmp);
    gg__free(af->path);
    af->fp = NULL;
    af->tmp = NULL;
    af->path = NULL;
}
