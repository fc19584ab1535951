# Files the engine sends with sendfile(2): an open descriptor with what
# describes it (FileEntry), and a byte range of it waiting in a
# connection's output queue (FileSegment).
#
# Descriptors are cached by path (Loop.open_file), so a file served again
# costs no open/fstat/close; an entry is re-checked with stat() at most once
# per FILE_RECHECK seconds and reopened if the file changed. A descriptor
# closes when the last reference to its entry goes: the cache's, or that of
# a segment still being sent.

cdef double FILE_RECHECK = 1.0


@cython.final
cdef class FileEntry:

    def __cinit__(self):
        self.fd = -1
        self.targets = []

    def __dealloc__(self):
        if self.fd >= 0:
            close(self.fd)
            self.fd = -1


@cython.final
@cython.freelist(32)
cdef class FileSegment:
    pass


cdef FileEntry open_file_entry(str path, double now):
    # Open and describe a regular file; raises OSError (FileNotFoundError,
    # PermissionError, IsADirectoryError) like open() does.
    cdef FileEntry entry = FileEntry.__new__(FileEntry)
    cdef int fd = os_open(path, O_RDONLY | O_CLOEXEC)
    entry.fd = fd                       # closed with the entry, whatever happens
    info = os_fstat(fd)
    if not S_ISREG(info.st_mode):
        raise IsADirectoryError(21, "not a regular file", path)
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
