# The access log (see _access.pxd and fastcore.access): one entry per
# response, gathered here in C (status, body bytes, duration, client,
# request line, Referer, User-Agent) and handed to the fastcore.access
# logger, which formats it only if one of its handlers emits it. A streamed
# body's bytes are its chunks' data, without the chunked framing.
#
# The duration is measured with CLOCK_MONOTONIC (the loop's clock is the
# coarse one, 4 ms steps): for a request, from when the engine took it to
# answer (as gunicorn's request_time, after its head and body were read) to
# when its response was complete in the output (a streamed one: its last
# chunk); for a refusal the core makes itself (400, 408, 413, 431, ...), from
# the first byte of the request it refuses, as the loop's clock saw it.


cdef int LOG_INFO = 20                # logging.INFO


cdef inline double precise_now() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9


cdef inline double wall_now() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_REALTIME, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9


cdef inline unsigned long long produced(Output out):
    # Every byte the output has been given so far, sent or not.
    return out.sent + <unsigned long long>out.pending()


cdef object header_value(list raw, const char* name, Py_ssize_t size):
    # The first value of a field (raw names as received, any case), or None.
    cdef Py_ssize_t i
    cdef bytes field
    for i in range(0, len(raw) - 1, 2):
        field = <bytes>raw[i]
        if PyBytes_GET_SIZE(field) == size and strncasecmp(
                PyBytes_AS_STRING(field), name, size) == 0:
            return raw[i + 1]
    return None


@cython.final
cdef class AccessLog:
    """Whether a loop logs each response, and in which format (see
    fastcore.access); install it with install_access_log(loop, log)."""

    def __init__(self, bint on=False, str format="combined"):
        from fastcore.access import FORMATS, AccessEntry, logger
        if format not in FORMATS:
            raise ValueError(f"an access log format is one of {', '.join(FORMATS)}, "
                             f"not {format!r}")
        self.on = on
        self.json = format == "json"
        self.logger = logger
        self.entry = AccessEntry

    cdef int log(self, Conn conn, Request request, int status, Py_ssize_t size,
                 double duration) except -1:
        cdef object client, method = None, target = None
        cdef object referer = None, agent = None
        cdef int version = 11
        cdef object logger
        if request is not None:
            client = request.client
            method = request._method
            target = request._target
            version = request._version
            referer = header_value(request._raw_headers, b"referer", 7)
            agent = header_value(request._raw_headers, b"user-agent", 10)
        else:
            client = conn.client
            if conn.reader.url is not None:
                # The request line (or its start) was read before the
                # refusal: say what it was.
                target = conn.reader.url
                method = conn.reader.get_method() if conn.reader.get_method is not None else None
                version = conn.reader.version
                if method is None:
                    target = None
        logger = self.logger
        if not logger.isEnabledFor(LOG_INFO):
            return 0
        # What logger.info() does, less its search of the stack for the
        # caller's file and line (a third of its cost), which would name
        # this module for every line.
        logger.handle(logger.makeRecord(
            logger.name, LOG_INFO, "fastcore/_access.pyx", 0,
            self.entry(wall_now(), client, method, target, version, status, size,
                       duration, referer, agent, self.json), (), None))
        return 0

    cdef int after(self, Conn conn, Request request) except -1:
        # `request` has just been answered into conn.output. A streamed
        # response is logged when its body ends (stream_ended).
        cdef Output out = conn.output
        cdef StreamBody body = conn.stream
        if body is not None and body.log_request is None:
            body.log_request = request
            body.log_status = out.status
            return 0
        return self.log(conn, request, out.status, produced(out) - out.body_start,
                        precise_now() - request._started)

    cdef int refused(self, Conn conn, int status) except -1:
        cdef Output out = conn.output
        return self.log(conn, None, status, produced(out) - out.body_start,
                        conn.loop.now - conn.reader.began)

    cdef int stream_ended(self, Conn conn, StreamBody body) except -1:
        cdef Request request = body.log_request
        cdef Output out = conn.output
        body.log_request = None
        return self.log(conn, request, body.log_status, body.content,
                        precise_now() - request._started)


def install_access_log(Loop loop, AccessLog log):
    """Log the responses of `loop` with `log` from now on (before it runs)."""
    loop.dispatcher.access = log
