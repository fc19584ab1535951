cdef class Conn:
    # One client connection: its lifecycle, and the order of answers. Its
    # read side is the Reader's and its output the Output's.
    cdef:
        Loop loop
        int fd
        int state                     # C_OPEN, C_CLOSING, C_LINGER_NEXT, C_LINGERING, C_CLOSED
        Reader reader
        ProxyPreface preface          # the PROXY header still expected, or None
        Output output
        StreamBody stream             # a streamed body being sent, or None
        list jobs                     # answers on their way, in order (with a pool)
        sockaddr_storage peer
        object _client                # (host, port), built on first use
        object _local                 # (host, port) of this end, likewise
        unsigned int events           # epoll interest now registered
        double wdeadline              # when stalled output times out
        double wbaseline_at           # when to measure kernel_queued
        Py_ssize_t kernel_queued      # SIOCOUTQ after output stalled, -1 not yet
        double linger_until           # when lingering gives up

    cdef int on_readable(self) except -1
    cdef Py_ssize_t read_preface(self, char** data, Py_ssize_t n) except -2
    cdef int on_tick(self, double now) except -1
    cdef int on_stop(self) except -1
    cdef int answer(self) except -1
    cdef bint has_answer(self)
    cdef int flush(self) except -1
    cdef bint pump(self) except -1
    cdef int end_stream(self, bint complete) except -1
    cdef int after_flush(self) except -1
    cdef int set_interest(self, unsigned int events) except -1
    cdef int check_write_progress(self) except -1
    cdef void close(self)
    cdef void abort(self)
