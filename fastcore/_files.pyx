# Files the engine sends with sendfile(2): an open descriptor with what
# describes it (FileEntry), a byte range of it waiting in a connection's
# output (FileSegment), and the one cache of both descriptors and the static
# targets that lead to them (FileCache).
#
# A descriptor closes when the last reference to its entry goes: the
# cache's, or that of a segment still being sent.

cdef double FILE_RECHECK = 1.0


@cython.final
cdef class FileEntry:

    def __cinit__(self):
        self.fd = -1

    def __dealloc__(self):
        if self.fd >= 0:
            close(self.fd)
            self.fd = -1


@cython.final
@cython.freelist(32)
cdef class FileSegment:
    pass


@cython.final
cdef class StaticTarget:
    pass


cdef FileEntry open_file_entry(str path, double now):
    # Open and describe a regular file; raises OSError like open() does.
    # O_NONBLOCK: opening a FIFO would otherwise wait for a writer, which
    # would hold up the loop; anything but a regular file is then refused.
    cdef FileEntry entry = FileEntry.__new__(FileEntry)
    cdef int fd = os_open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
    entry.fd = fd                       # closed with the entry, whatever happens
    info = os_fstat(fd)
    if not S_ISREG(info.st_mode):
        raise IsADirectoryError(21, "not a regular file", path)
    if info.st_size == 0 and os_pread(fd, 1, 0):
        # A /proc or /sys file: stat says 0 bytes, reading gives more, and
        # how many is known only once all are read. Not a file to send
        # with a Content-Length taken from stat (ENXIO answers 404).
        raise OSError(ENXIO, "a file whose size stat() does not know", path)
    entry.path = path
    entry.size = info.st_size
    entry.mtime_ns = info.st_mtime_ns
    entry.mtime = info.st_mtime
    entry.ino = info.st_ino
    entry.type_line, entry.validators, entry.etag, entry.last_modified = \
        file_fields(path, info)
    entry.checked = now
    return entry


cdef bint entry_is_current(FileEntry entry) except -1:
    # stat() the path again: same inode, size and mtime means same content.
    try:
        info = os_stat(entry.path)
    except OSError:
        return False
    return (info.st_ino == entry.ino and info.st_size == entry.size
            and info.st_mtime_ns == entry.mtime_ns)


cdef inline bint entry_unchanged(FileEntry entry):
    # fstat() the open descriptor: one cheap syscall per response that
    # catches a file rewritten in place (same inode, new size or mtime).
    # A file replaced by rename keeps serving its old, consistent inode
    # until the next stat() of its path (FILE_RECHECK).
    cdef struct_stat info
    if fstat(entry.fd, &info) != 0:
        return False
    return (info.st_size == entry.size
            and info.st_mtim.tv_sec * 1000000000LL + info.st_mtim.tv_nsec == entry.mtime_ns)


@cython.final
cdef class FileCache:
    """Open descriptors by path, least recently checked evicted first, each
    re-checked with stat() at most once per FILE_RECHECK seconds; and the
    raw targets a static mount resolved, so that a repeated request for one
    skips the mount. A target keeps only the path: it can never hold a
    descriptor the cache has let go."""

    def __cinit__(self, Py_ssize_t size):
        self.entries = {}
        self.targets = {}
        self.size = size

    cdef FileEntry current(self, str path, double now):
        # The cached entry for path if it is still current, else None.
        cdef FileEntry entry = self.entries.get(path)
        if entry is None or now - entry.checked < FILE_RECHECK:
            return entry
        if entry_is_current(entry):
            # Moved to the end: eviction takes the least recently checked
            # file, an LRU order kept at no cost per request.
            del self.entries[path]
            self.entries[path] = entry
            entry.checked = now
            return entry
        self.forget(entry)
        return None

    cdef FileEntry open(self, str path, double now):
        # An open descriptor for path, from the cache while the file is
        # unchanged; raises OSError like open().
        cdef FileEntry entry = self.current(path, now)
        if entry is not None:
            return entry
        entry = open_file_entry(path, now)
        if self.size:
            if len(self.entries) >= self.size:
                # A segment still sending the evicted file keeps its
                # descriptor open until it is done.
                del self.entries[next(iter(self.entries))]
            self.entries[path] = entry
        return entry

    cdef int remember_target(self, bytes target, str path, bytes fields) except -1:
        cdef StaticTarget hit
        if not self.size:
            return 0
        if target not in self.targets and len(self.targets) >= self.size:
            del self.targets[next(iter(self.targets))]
        hit = StaticTarget.__new__(StaticTarget)
        hit.path = path
        hit.fields = fields
        self.targets[target] = hit
        return 0

    cdef void forget(self, FileEntry entry):
        # Targets that led to it find no entry and are resolved again.
        if self.entries.get(entry.path) is entry:
            del self.entries[entry.path]

    cdef void clear(self):
        self.entries.clear()            # closes the cached descriptors
        self.targets.clear()


cdef inline bint has_conditional_fields(list raw_headers):
    # Whether a request carries a precondition or Range field, which only
    # the pure-Python evaluate() handles. Most requests carry none.
    cdef Py_ssize_t i, n
    cdef bytes name
    cdef const char* p
    for i in range(0, len(raw_headers), 2):
        name = <bytes>raw_headers[i]
        n = PyBytes_GET_SIZE(name)
        p = PyBytes_AS_STRING(name)
        if n == 5:
            if name_is(p, n, "range", 5):
                return True
        elif n == 8:
            if name_is(p, n, "if-range", 8) or name_is(p, n, "if-match", 8):
                return True
        elif n == 13:
            if name_is(p, n, "if-none-match", 13):
                return True
        elif n == 17:
            if name_is(p, n, "if-modified-since", 17):
                return True
        elif n == 19:
            if name_is(p, n, "if-unmodified-since", 19):
                return True
    return False
