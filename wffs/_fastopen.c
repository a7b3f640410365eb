/* Answers the open() and close() of files whose content the kernel already holds, without Python.
 *
 * A warm `tar` of a mount is one open and one release per file, nothing else: listings, attributes and
 * contents all come from the kernel's caches.  Through pyfuse3 each of those requests costs ~60 us
 * (the kernel waking the loop's thread, trio's scheduler, the handler), so a warm tar took as long as
 * a cold one.  This library reads the FUSE device in a thread of its own and answers there:
 *   - an OPEN for reading of an inode wffs has marked (wffs_fast_allow: its content went to the page
 *     cache with notify_store and has not changed since) with a handle (FAST_MARK | inode) and
 *     FOPEN_KEEP_CACHE, exactly what wffs's Python open would answer;
 *   - the RELEASE of such a handle;
 * and queues every other request for pyfuse3, whose loop waits on an eventfd instead of the device and
 * takes the queued requests through fuse_session_receive_buf.  After each request the thread polls the
 * device for a moment (SPIN_NS, yielding the core meanwhile) before it sleeps: a process that opens one
 * file after another sends its next request within microseconds of the answer (from here) or within
 * ~100 us (from Python), and waking a sleeping thread costs more than either (docs/design.rst has the
 * measurements).
 *
 * Used only with `wffs mount --fast-open` (wffs_fast_permit).  Loaded with RTLD_GLOBAL before pyfuse3
 * (wffs/fuse_binding.py): pyfuse3 reaches libfuse's
 * fuse_session_fd, fuse_session_receive_buf and fuse_session_destroy through this library's.  Python
 * marks inodes, keeps the answers on or off (off while the mount is idle: the first call after an idle
 * spell must reach wffs, which waits for a fresh view) and reads the count of answered opens (a use of
 * the mount).  wffs_fast_held tells whether a handle answered here is still open: wffs must not store
 * a file's pages while such a handle may be reading them (the read holds the page lock the store waits
 * for, and that read waits for wffs).
 *
 * Built by pip (setup.py) against the installed libfuse3's header and the kernel's <linux/fuse.h>, without
 * linking libfuse3: it finds libfuse3's functions when called (pyfuse3 has loaded it by then), so that
 * loading this library does not put libfuse3 ahead of it or of wffs/_dircache.
 */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 35
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
/* The functions defined here are declared by libfuse's header, and their declarations change (libfuse
 * made fuse_session_fd's argument const): hidden while the header is read, so that this file compiles
 * against any libfuse 3 header.  The C calling convention is the same with or without const. */
#define fuse_session_fd wffs_libfuse_session_fd
#define fuse_session_receive_buf wffs_libfuse_session_receive_buf
#define fuse_session_destroy wffs_libfuse_session_destroy
#include <fuse3/fuse_lowlevel.h>
#undef fuse_session_fd
#undef fuse_session_receive_buf
#undef fuse_session_destroy

#define FAST_MARK (UINT64_C(1) << 60)
/* libfuse's own read size, FUSE_MAX_MAX_PAGES pages of this machine and a header: the kernel's requests
 * fit (a smaller buffer than the max_write libfuse announced makes the kernel refuse the read). */
#define MAX_PAGES 256
#define HEADER_SIZE 4096
static size_t read_size;
#define SPIN_NS 150000L

struct queued {
    struct queued *next;
    size_t size;
    char data[];
};

static struct {
    pthread_mutex_t lock;
    struct fuse_session *se;  /* the session being served, NULL when none */
    int dev;                  /* the reader's own copy of the device descriptor */
    int ready;                /* eventfd (semaphore): one count per queued request, +1 at the end */
    int stop;                 /* eventfd: fuse_session_destroy asks the reader to end */
    pthread_t reader;
    struct queued *head, *tail;
    int ended;
    int stopping;             /* set by fuse_session_destroy */
    int enabled;
    int permitted;            /* wffs_fast_permit: the reader may start at the next session */
    uint8_t *allowed;         /* per inode: its opens may be answered here */
    uint32_t *held;           /* per inode: handles answered here and not yet released */
    size_t inodes;            /* length of both arrays */
    uint64_t opens;
} st = { .lock = PTHREAD_MUTEX_INITIALIZER, .dev = -1, .ready = -1, .stop = -1 };

/* ---- the inodes, set from Python (any thread) ------------------------------------------------------ */

static int grow(uint64_t ino)  /* with st.lock held */
{
    if (ino < st.inodes)
        return 1;
    size_t n = st.inodes ? st.inodes : 4096;
    while (n <= ino)
        n *= 2;
    uint8_t *allowed = realloc(st.allowed, n);
    if (!allowed)
        return 0;
    st.allowed = allowed;
    uint32_t *held = realloc(st.held, n * sizeof *held);
    if (!held)
        return 0;
    st.held = held;
    memset(st.allowed + st.inodes, 0, n - st.inodes);
    memset(st.held + st.inodes, 0, (n - st.inodes) * sizeof *held);
    st.inodes = n;
    return 1;
}

int wffs_fast_allow(uint64_t ino, int allow)
{
    int ok;
    pthread_mutex_lock(&st.lock);
    ok = allow ? grow(ino) : 1;
    if (ok && ino < st.inodes)
        st.allowed[ino] = allow != 0;
    pthread_mutex_unlock(&st.lock);
    return ok;
}

/* Whether the next session is served here: off unless wffs asks (--fast-open) and has checked that pyfuse3
 * reaches this library's fuse_session_fd, fuse_session_receive_buf and fuse_session_destroy, all three. */
void wffs_fast_permit(int on)
{
    pthread_mutex_lock(&st.lock);
    st.permitted = on != 0;
    pthread_mutex_unlock(&st.lock);
}

void wffs_fast_enable(int on)
{
    pthread_mutex_lock(&st.lock);
    st.enabled = on != 0;
    pthread_mutex_unlock(&st.lock);
}

uint32_t wffs_fast_held(uint64_t ino)
{
    uint32_t n;
    pthread_mutex_lock(&st.lock);
    n = ino < st.inodes ? st.held[ino] : 0;
    pthread_mutex_unlock(&st.lock);
    return n;
}

uint64_t wffs_fast_opens(void)
{
    return __atomic_load_n(&st.opens, __ATOMIC_RELAXED);
}

/* Whether a session is served here (the reader runs). */
int wffs_fast_serving(void)
{
    int serving;
    pthread_mutex_lock(&st.lock);
    serving = st.se != NULL && !st.ended;
    pthread_mutex_unlock(&st.lock);
    return serving;
}

/* ---- the reader thread ------------------------------------------------------------------------------ */

static void reply(uint64_t unique, const void *body, size_t size)
{
    struct fuse_out_header out = { .len = sizeof out + size, .error = 0, .unique = unique };
    struct iovec iov[2] = { { &out, sizeof out }, { (void *)body, size } };
    if (writev(st.dev, iov, size ? 2 : 1) < 0) {
        /* ENOENT: the request was interrupted meanwhile; ENODEV: unmounted.  Nothing to do. */
    }
}

/* Answer the request here if it is the open or release of a marked file; 1 if answered. */
static int answered(const char *req, size_t size)
{
    const struct fuse_in_header *in = (const void *)req;
    if (in->opcode == FUSE_OPEN && size >= sizeof *in + sizeof(struct fuse_open_in)) {
        const struct fuse_open_in *arg = (const void *)(in + 1);
        if ((arg->flags & O_ACCMODE) != O_RDONLY || (arg->flags & (O_TRUNC | O_APPEND)))
            return 0;
        int fast;
        pthread_mutex_lock(&st.lock);
        fast = st.enabled && in->nodeid < st.inodes && st.allowed[in->nodeid];
        if (fast)
            st.held[in->nodeid]++;
        pthread_mutex_unlock(&st.lock);
        if (!fast)
            return 0;
        struct fuse_open_out out = { .fh = FAST_MARK | in->nodeid, .open_flags = FOPEN_KEEP_CACHE };
        __atomic_add_fetch(&st.opens, 1, __ATOMIC_RELAXED);
        reply(in->unique, &out, sizeof out);
        return 1;
    }
    if (in->opcode == FUSE_RELEASE && size >= sizeof *in + sizeof(struct fuse_release_in)) {
        const struct fuse_release_in *arg = (const void *)(in + 1);
        if (!(arg->fh & FAST_MARK))
            return 0;
        uint64_t ino = arg->fh & ~FAST_MARK;
        pthread_mutex_lock(&st.lock);
        if (ino < st.inodes && st.held[ino])
            st.held[ino]--;
        pthread_mutex_unlock(&st.lock);
        reply(in->unique, NULL, 0);
        return 1;
    }
    return 0;
}

static void hand_to_python(const char *req, size_t size)
{
    struct queued *q = malloc(sizeof *q + size);
    if (!q) {  /* answer it with an error rather than lose it: the caller would wait forever */
        const struct fuse_in_header *in = (const void *)req;
        struct fuse_out_header out = { .len = sizeof out, .error = -ENOMEM, .unique = in->unique };
        if (write(st.dev, &out, sizeof out) < 0) {
        }
        return;
    }
    q->next = NULL;
    q->size = size;
    memcpy(q->data, req, size);
    pthread_mutex_lock(&st.lock);
    if (st.tail)
        st.tail->next = q;
    else
        st.head = q;
    st.tail = q;
    pthread_mutex_unlock(&st.lock);
    uint64_t one = 1;
    if (write(st.ready, &one, sizeof one) < 0) {
    }
}

static long since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000000000L + (t.tv_nsec - t0->tv_nsec);
}

/* The next request; -1 when the session ends.  Polled for SPIN_NS first, yielding the core to whoever
 * else wants it meanwhile, then waited for. */
static ssize_t next_request(char *buf)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (__atomic_load_n(&st.stopping, __ATOMIC_RELAXED))
            return -1;
        ssize_t n = read(st.dev, buf, read_size);
        if (n >= 0)
            return n;
        if (errno == EINTR || errno == ENOENT)  /* ENOENT: the request was interrupted; read again */
            continue;
        if (errno != EAGAIN)
            return -1;  /* ENODEV: unmounted, or the connection was aborted */
        if (since(&t0) < SPIN_NS) {
            sched_yield();
            continue;
        }
        struct pollfd fds[2] = { { .fd = st.dev, .events = POLLIN }, { .fd = st.stop, .events = POLLIN } };
        if (poll(fds, 2, -1) < 0 && errno != EINTR)
            return -1;
        if (fds[1].revents)
            return -1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
    }
}

static void *read_requests(void *unused)
{
    char *buf = malloc(read_size);
    (void)unused;
    for (;;) {
        ssize_t n = buf ? next_request(buf) : -1;
        if (n < 0)
            break;
        if ((size_t)n < sizeof(struct fuse_in_header))
            continue;
        if (!answered(buf, n))
            hand_to_python(buf, n);
    }
    free(buf);
    pthread_mutex_lock(&st.lock);
    st.ended = 1;
    pthread_mutex_unlock(&st.lock);
    uint64_t one = 1;
    if (write(st.ready, &one, sizeof one) < 0) {  /* wakes pyfuse3: its receive returns 0, the loop ends */
    }
    return NULL;
}

/* ---- what pyfuse3 calls ------------------------------------------------------------------------------ */

static void *libfuse(const char *name)  /* pyfuse3, the only caller, has loaded libfuse3 */
{
    void *lib = dlopen("libfuse3.so.3", RTLD_LAZY | RTLD_NOLOAD);
    return lib ? dlsym(lib, name) : NULL;
}

typedef int (*session_fd_fn)(struct fuse_session *);
typedef int (*receive_fn)(struct fuse_session *, struct fuse_buf *);
typedef void (*destroy_fn)(struct fuse_session *);
typedef void (*exit_fn)(struct fuse_session *);

static int start(struct fuse_session *se, int device)  /* with st.lock held */
{
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0 || device < 0)
        return 0;
    read_size = MAX_PAGES * (size_t)page + HEADER_SIZE;
    st.ended = st.stopping = 0;
    st.dev = fcntl(device, F_DUPFD_CLOEXEC, 0);
    st.ready = eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
    st.stop = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    /* signals stay with Python's thread: the reader is started with all of them blocked */
    sigset_t all, before;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &before);
    int started = st.dev >= 0 && st.ready >= 0 && st.stop >= 0
        && fcntl(st.dev, F_SETFL, fcntl(st.dev, F_GETFL) | O_NONBLOCK) >= 0
        && pthread_create(&st.reader, NULL, read_requests, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &before, NULL);
    if (!started) {
        if (st.dev >= 0) close(st.dev);
        if (st.ready >= 0) close(st.ready);
        if (st.stop >= 0) close(st.stop);
        st.dev = st.ready = st.stop = -1;
        return 0;
    }
    st.se = se;
    return 1;
}

/* pyfuse3 asks once, after mounting, which descriptor to wait on: the queue's, when the reader runs. */
int fuse_session_fd(struct fuse_session *se)
{
    session_fd_fn real = (session_fd_fn)libfuse("fuse_session_fd");
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    int device = real(se);
    int fd = device;
    pthread_mutex_lock(&st.lock);
    if (st.se == NULL && st.permitted && start(se, device))
        fd = st.ready;
    else if (st.se == se)
        fd = st.ready;
    pthread_mutex_unlock(&st.lock);
    return fd;
}

/* The next request the reader queued; 0 once the session has ended (as libfuse on ENODEV). */
int fuse_session_receive_buf(struct fuse_session *se, struct fuse_buf *buf)
{
    if (se == NULL || se != st.se) {
        static receive_fn real;
        if (!real)
            real = (receive_fn)libfuse("fuse_session_receive_buf");
        return real ? real(se, buf) : -ENOSYS;
    }
    pthread_mutex_lock(&st.lock);
    struct queued *q = st.head;
    if (q) {
        st.head = q->next;
        if (!st.head)
            st.tail = NULL;
    }
    int ended = st.ended;
    pthread_mutex_unlock(&st.lock);
    if (!q) {
        if (!ended)
            return -EINTR;  /* woken for a request another task took: pyfuse3 waits again */
        exit_fn session_exit = (exit_fn)libfuse("fuse_session_exit");
        if (session_exit)
            session_exit(se);
        return 0;
    }
    uint64_t count;
    if (read(st.ready, &count, sizeof count) < 0) {
    }
    if (!buf->mem)
        buf->mem = malloc(read_size);  /* pyfuse3 keeps it across calls and frees it */
    if (!buf->mem) {
        free(q);
        return -ENOMEM;
    }
    memcpy(buf->mem, q->data, q->size);
    buf->size = q->size;
    buf->flags = 0;
    int size = (int)q->size;
    free(q);
    return size;
}

/* The reader ends before libfuse closes the device, so that closing it still ends the connection. */
void fuse_session_destroy(struct fuse_session *se)
{
    if (se != NULL && se == st.se) {
        uint64_t one = 1;
        __atomic_store_n(&st.stopping, 1, __ATOMIC_RELAXED);
        if (write(st.stop, &one, sizeof one) < 0) {
        }
        pthread_join(st.reader, NULL);
        pthread_mutex_lock(&st.lock);
        close(st.dev);
        close(st.ready);
        close(st.stop);
        st.dev = st.ready = st.stop = -1;
        while (st.head) {
            struct queued *q = st.head;
            st.head = q->next;
            free(q);
        }
        st.tail = NULL;
        st.se = NULL;
        st.enabled = 0;
        if (st.inodes) {  /* a later session starts with nothing allowed */
            memset(st.allowed, 0, st.inodes);
            memset(st.held, 0, st.inodes * sizeof *st.held);
        }
        pthread_mutex_unlock(&st.lock);
    }
    destroy_fn destroy = (destroy_fn)libfuse("fuse_session_destroy");
    if (destroy)
        destroy(se);
}
