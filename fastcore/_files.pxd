cdef class FileEntry:
    cdef:
        readonly str path
        int fd
        readonly Py_ssize_t size
        long long mtime_ns
        long long ino
        double mtime
        bytes type_line               # "Content-Type: ...\r\n"
        bytes validators              # Last-Modified, ETag, Accept-Ranges lines
        bytes etag
        bytes last_modified
        double checked                # loop time of the last stat() check


cdef class FileSegment:
    cdef:
        FileEntry entry               # keeps the descriptor open while sending
        off_t offset
        Py_ssize_t remaining


cdef class StaticTarget:
    cdef:
        str path                      # the file the target resolved to
        bytes fields                  # the mount's own fields (Cache-Control)


cdef class FileCache:
    cdef:
        dict entries                  # path -> FileEntry, least recently checked first
        dict targets                  # raw request target -> StaticTarget
        Py_ssize_t size

    cdef FileEntry open(self, str path, double now)
    cdef FileEntry current(self, str path, double now)
    cdef int remember_target(self, bytes target, str path, bytes fields) except -1
    cdef void forget(self, FileEntry entry)
    cdef void clear(self)
