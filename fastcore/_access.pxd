cdef class AccessLog:
    # The access log of one loop: whether it is on, and gathering each
    # response's fields for the fastcore.access logger. Off, it costs the
    # callers one check of `on` per response.
    cdef:
        readonly bint on
        bint json                     # the JSON-line format, else combined
        object logger                 # logging.getLogger("fastcore.access")
        object entry                  # fastcore.access.AccessEntry

    cdef int log(self, Conn conn, Request request, int status, Py_ssize_t size,
                 double duration) except -1
    cdef int after(self, Conn conn, Request request) except -1
    cdef int refused(self, Conn conn, int status) except -1
    cdef int stream_ended(self, Conn conn, StreamBody body) except -1
