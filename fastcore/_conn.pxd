cdef class Conn:
    cdef:
        Loop loop
        int fd
        object parser                 # httptools.HttpRequestParser(self)
        object get_method             # its bound methods
        object should_keep_alive
        sockaddr_storage peer
        object _client                # (host, port), built on first use

        int state                     # S_IDLE, S_HEAD, S_BODY, S_LINGER, S_CLOSED
        bint closing                  # answer nothing more; close once output is sent
        bint linger                   # input may still arrive: shut down, drain, close
        bint eof                      # the client shut down its sending side
        double deadline               # when the current read-side state times out
        double wdeadline              # when stalled output times out
        Py_ssize_t kernel_queued      # SIOCOUTQ after output stalled, -1 not yet
        double wbaseline_at           # when to measure it
        unsigned int events           # epoll interest now registered
        Py_ssize_t served             # requests answered on this connection

        # The request being parsed.
        bytes url
        list headers                  # flat list of raw names and values
        object body                   # None, bytes, or bytearray while growing
        Py_ssize_t body_len
        Py_ssize_t head_bytes
        Py_ssize_t head_count
        Py_ssize_t partial_line       # bytes of the unfinished head line (see feed)
        Py_ssize_t body_wire          # bytes of reads that were all this request's
        Py_ssize_t read_body          # body bytes delivered during this read
        Py_ssize_t framing            # non-body bytes since the last body bytes
        int msg_flags                 # F_* facts from the header block
        bytes method_probe            # a refused method, until 400 or 501 is clear
        bytes first_bytes             # what came before the first request line
        int version                   # 10 or 11
        bint keep_alive
        bint continue_pending

        # Output: wbuf holds serialised responses; queue holds, in order, what
        # is not in wbuf (sealed wbuf segments and large bodies, as bytes).
        char* wbuf
        Py_ssize_t wlen
        Py_ssize_t wsent
        Py_ssize_t wcap
        list queue
        Py_ssize_t qhead              # first unsent item of queue
        Py_ssize_t qoff               # bytes of queue[qhead] already sent
        Py_ssize_t qbytes             # unsent bytes in queue
        FileEntry tail_entry          # a file to send after wbuf, when no queue
        off_t tail_offset
        Py_ssize_t tail_remaining
        list deferred                 # requests kept while output drains
        Py_ssize_t dhead              # first of them not yet answered

    cdef void reset_message(self)
    cdef int on_readable(self) except -1
    cdef int on_method_bytes(self, Py_ssize_t n) except -1
    cdef int check_partial_line(self, Py_ssize_t n, bint began_here) except -1
    cdef int check_body_bytes(self, Py_ssize_t n) except -1
    cdef void note_stall(self)
    cdef Py_ssize_t kernel_queue(self)
    cdef int on_timeout(self) except -1
    cdef int on_write_timeout(self) except -1
    cdef int probe_method(self, bytes data) except -1
    cdef int feed(self, Py_ssize_t n) except -1
    cdef int close_after_deferred(self) except -1
    cdef Request take_request(self)
    cdef int defer(self, object item) except -1
    cdef int answer_deferred(self) except -1
    cdef int respond(self, Request request) except -1
    cdef int fail(self, int status) except -1
    cdef int flush(self) except -1
    cdef int file_shrank(self, FileEntry entry) except -1
    cdef int after_flush(self) except -1
    cdef int set_interest(self, unsigned int events) except -1
    cdef int drain_on_stop(self) except -1
    cdef void close(self)
    cdef void abort(self)
