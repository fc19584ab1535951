cdef class Reader:
    # A connection's read side: the httptools parser (this object is its
    # protocol), the request being parsed, and the byte limits. It only
    # parses: each complete request, or the one refusal that ends the
    # stream, goes into `ready`, and the connection answers them in order.
    cdef:
        object parser                 # httptools.HttpRequestParser(self)
        object get_method             # its bound methods
        object should_keep_alive
        object logger
        RequestLine line              # what llhttp does not report of the request line
        limits_t* limits              # the loop's, which outlives its connections
        double now                    # loop time of the current feed
        readonly int phase            # R_IDLE, R_HEAD, R_BODY, R_PROBE, R_DONE
        double deadline               # when the read side times out (phase says how)
        double began                  # loop time of the read its request began in
        list ready                    # Request, CONTINUE, or an int status (last)
        Py_ssize_t ready_head         # first of them not yet taken
        readonly Py_ssize_t completed # requests parsed whole on this connection
        bint last                     # stopping: parse no read after the next request
        bint any_version              # the parser takes any x.y: versions checked here
        Py_ssize_t skip               # requests to parse again without queueing them

        # The request being parsed.
        bytes url
        list headers                  # flat list of raw names and values
        object body                   # None, bytes, or bytearray while growing
        Py_ssize_t body_len
        Py_ssize_t head_bytes
        Py_ssize_t head_count
        Py_ssize_t body_wire          # bytes of reads that were all this request's
        Py_ssize_t read_body          # body bytes delivered during this read
        Py_ssize_t framing            # non-body bytes since the last body bytes
        int msg_flags                 # F_* facts from the header block
        int version                   # 10 or 11
        bint keep_alive
        bint continue_pending         # Expect: 100-continue, and no body byte yet

    cdef bint feed(self, char* data, Py_ssize_t n, double now) except -1
    cdef int on_eof(self) except -1
    cdef bint on_timeout(self) except -1
    cdef bint stop(self) except -1
    cdef object take(self)
    cdef bint has_ready(self)
    cdef void discard(self)
    cdef void close(self)
    cdef void reset_message(self)
    cdef int refuse(self, int status) except -1
    cdef int probing(self) except -1
    cdef int restart_parser(self, Py_ssize_t skip, int phase) except -1
    cdef int on_method_bytes(self, const char* data, Py_ssize_t n) except -1
    cdef int check_body_bytes(self, Py_ssize_t n) except -1
