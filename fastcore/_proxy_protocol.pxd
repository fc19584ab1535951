# The PROXY protocol header a load balancer sends before the first HTTP byte
# (HAProxy's proxy-protocol.txt, versions 1 and 2).

cdef enum:
    # A v1 line is at most 107 bytes with its CRLF (spec section 2.1).
    PP_V1_MAX = 107
    # v2: 16 fixed bytes, then addresses and TLVs. The spec allows 65535
    # bytes of them; load balancers send tens to a few hundred (AWS and
    # Azure endpoint ids, TLS facts). More than this closes the connection.
    PP_MAX = 16 + 2048
    # Room kept before a read while a header is expected: enough for the
    # longest signature prefix, given back to the Reader when no header came.
    PP_ROOM = 16
    # ProxyPreface.mode: the versions it accepts (bits).
    PP_V1 = 1
    PP_V2 = 2
    PP_AUTO = 3
    # What ProxyPreface.feed returns besides a count of bytes it used.
    PP_MORE = -1        # the header is not complete yet
    PP_FAIL = -2        # malformed, oversize, of a refused version, or from a refused peer
    PP_PASS = -3        # not a header (a refused peer's plain HTTP): all of it is HTTP

cdef class ProxyPreface:
    cdef:
        int mode                      # PP_V1, PP_V2 or PP_AUTO
        int allowed                   # the peer may send a header: 1, 0, -1 not checked yet
        readonly bint done            # the header has been read (or there is none)
        double deadline               # the header timeout, from the accept
        Py_ssize_t length             # bytes in buf
        char buf[PP_MAX]
        readonly object source        # (host, port) the header gives, or None
        readonly object dest          # likewise, the address the client connected to

    cdef Py_ssize_t take(self, char** data, Py_ssize_t n, object peer,
                         object allowed_from) except -4
    cdef Py_ssize_t feed(self, const char* data, Py_ssize_t n) except -4
    cdef int signature(self)
    cdef Py_ssize_t parse_v1(self) except -3
    cdef Py_ssize_t parse_v2(self) except -3
    cdef bint read_tlvs(self, Py_ssize_t start, Py_ssize_t end) except -1
