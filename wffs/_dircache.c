/* Lets the kernel keep a directory's listing (FOPEN_CACHE_DIR) for the directory handles wffs marks.
 *
 * pyfuse3's opendir can only choose a handle number: it has no way to set fuse_file_info.cache_readdir
 * or keep_cache before libfuse answers the kernel.  Loaded with RTLD_GLOBAL before pyfuse3 (see
 * wffs/fuse_binding.py), this library's fuse_reply_open comes first in the global scope, so pyfuse3's
 * calls reach it: a handle number with WFFS_CACHE_DIR_MARK set is answered with cache_readdir (the
 * kernel reads the listing from its copy, or fills its copy from this handle), one with
 * WFFS_KEEP_CACHE_MARK also set with keep_cache (without it, the kernel drops its copy first); then
 * libfuse's own fuse_reply_open answers.  Every other reply passes unchanged.  The marks stay in the
 * handle number: pyfuse3's readdir and releasedir get the same number back.
 *
 * Built by pip (setup.py) against the installed libfuse3's header (the struct's bit fields), without linking
 * libfuse3: loading this library must not load libfuse3 ahead of wffs/_fastopen (fuse_binding.py).
 */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 35
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
/* fuse_reply_open is defined here: its declaration in libfuse's header is hidden, so that a change of it
 * (as libfuse made fuse_session_fd's argument const) cannot stop this file from compiling. */
#define fuse_reply_open wffs_libfuse_reply_open
#include <fuse3/fuse_lowlevel.h>
#undef fuse_reply_open

#define WFFS_CACHE_DIR_MARK (UINT64_C(1) << 62)
#define WFFS_KEEP_CACHE_MARK (UINT64_C(1) << 61)

typedef int (*reply_open_fn)(fuse_req_t, const struct fuse_file_info *);

static reply_open_fn libfuse_reply_open(void)
{
    static reply_open_fn real;
    if (!real) {
        void *libfuse = dlopen("libfuse3.so.3", RTLD_LAZY | RTLD_NOLOAD);
        if (libfuse)
            real = (reply_open_fn)dlsym(libfuse, "fuse_reply_open");
    }
    return real;
}

int fuse_reply_open(fuse_req_t req, const struct fuse_file_info *fi)
{
    reply_open_fn real = libfuse_reply_open();
    if (!real)  /* cannot happen: pyfuse3, the only caller, links libfuse3 */
        return -ENOSYS;
    if (fi && (fi->fh & WFFS_CACHE_DIR_MARK)) {
        struct fuse_file_info cached = *fi;
        cached.cache_readdir = 1;
        cached.keep_cache = (fi->fh & WFFS_KEEP_CACHE_MARK) != 0;
        return real(req, &cached);
    }
    return real(req, fi);
}
