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
        list targets                  # static targets that lead here


cdef class FileSegment:
    cdef:
        FileEntry entry               # keeps the descriptor open while sending
        off_t offset
        Py_ssize_t remaining
