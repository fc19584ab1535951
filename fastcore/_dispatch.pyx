# Who answers a request (see _dispatch.pxd), and running it. Without a pool
# a handler runs at once, on the loop; with one, each answer is a Job,
# answered in order by its connection (Conn.answer) however the pool
# finishes them.


@cython.final
cdef class Dispatcher:

    def __cinit__(self, Loop loop, dict routes, object fallback, frozenset inline):
        self.loop = loop
        self.routes = routes
        self.fallback = fallback
        self.inline = inline
        self.access = AccessLog.__new__(AccessLog)       # off

    cdef object route(self, Request request):
        # The handler for `request`, or the StaticTarget a static mount has
        # already resolved it to (while its file is current).
        cdef Loop loop = self.loop
        cdef bytes url = request._target
        cdef bytes method = request._method
        cdef const char* target = PyBytes_AS_STRING(url)
        cdef object methods, handler
        cdef StaticTarget hit
        # Hot path: an exact route, looked up by the raw path bytes.
        if (target[0] == b"/"
                and memchr(target, b"?", PyBytes_GET_SIZE(url)) is NULL
                and memchr(target, b"%", PyBytes_GET_SIZE(url)) is NULL):
            methods = self.routes.get(url)
            if methods is not None:
                handler = (<dict>methods).get(method)
                if handler is not None:
                    return handler
            elif loop.files.targets:
                # A file a static mount has already resolved for this very
                # target: no decoding, no path checks, no open().
                hit = loop.files.targets.get(url)
                if (hit is not None and (method == b"GET" or method == b"HEAD")
                        and loop.files.current(hit.path, loop.now) is not None):
                    return hit
        return self.fallback

    cdef int answer(self, Conn conn, Request request, bint close) except -1:
        # Without a pool: answer at once, on the loop, and log it.
        if not self.access.on:
            return self.respond(conn, request, close)
        request._started = precise_now()
        self.respond(conn, request, close)
        return self.access.after(conn, request)

    cdef int refuse(self, Conn conn, int status) except -1:
        # The engine's own answer to what it could not parse or wait for.
        write_error(conn.output, status, True)
        if self.access.on:
            self.access.refused(conn, status)
        return 0

    cdef int respond(self, Conn conn, Request request, bint close) except -1:
        # Answer `request` into its connection's output, at once (the
        # callers log it).
        cdef object found = self.route(request)
        cdef object result = None, error = None
        if type(found) is StaticTarget:
            return write_static(conn.output, self.loop, <StaticTarget>found, request, close)
        if type(found) is Probe:
            return self.send_outcome(conn, request, (<Probe>found).answer(self.loop),
                                     None, close)
        try:
            try:
                result = found(request)
            except HTTPError as exc:
                result = (<object>exc).to_response()
        except BaseException as exc:
            error = exc
        return self.send_outcome(conn, request, result, error, close)

    cdef int send_outcome(self, Conn conn, Request request, object result,
                          object error, bint close) except -1:
        # A handler's failure is its request's: a 500 and a logged
        # traceback, and the connection goes on.
        cdef Loop loop = self.loop
        cdef StreamBody body
        if error is None:
            try:
                body = write_result(conn.output, loop, result, request, close)
                if body is not None:
                    body.conn = conn
                    body.pool = self.pool
                    conn.stream = body
                return 0
            except BaseException as exc:
                error = exc
        if isinstance(error, Exception):
            loop.logger.error("handler failed for %s %s", request.method,
                              request.target, exc_info=error)
        else:
            # Not an Exception (GeneratorExit, asyncio.CancelledError, a
            # custom class): still this request's failure, not the loop's.
            loop.logger.error("handler raised %s for %s %s", type(error).__name__,
                              request.method, request.target, exc_info=error)
            if isinstance(error, (KeyboardInterrupt, SystemExit)):
                # Meant for the program: this request gets its 500, then
                # the server stops gracefully.
                loop.begin_stop(loop.stop_timeout)
        return write_error(conn.output, 500, close, is_head_method(request._method),
                           request._version)

    # -- with a pool ----------------------------------------------------------

    cdef Job make_job(self, Conn conn, object item):
        # What a parsed item will be answered with. A handler goes to the
        # pool (503 at once if its queue is full) unless it is inline; what
        # needs no handler is done at once, and waits only for its turn.
        cdef Request request
        cdef object found
        cdef Job job
        if type(item) is not Request:
            if item is CONTINUE:
                return done_job(conn, JOB_CONTINUE, False)
            job = done_job(conn, JOB_REFUSAL, True)
            job.status = <int>item
            return job
        request = <Request>item
        if self.access.on:
            request._started = precise_now()
        found = self.route(request)
        if type(found) is Probe:
            found = (<Probe>found).answer(self.loop)
            job = done_job(conn, JOB_HANDLER, not request.keep_alive)
            job.request = request
            job.result = found
            return job
        if type(found) is StaticTarget:
            job = done_job(conn, JOB_FILE, not request.keep_alive)
            job.request = request
            job.fields = (<StaticTarget>found).fields
            job.result = (<StaticTarget>found).path
            return job
        job = Job.__new__(Job)
        job.conn = conn
        job.loop = self.loop
        job.kind = JOB_HANDLER
        job.request = request
        job.handler = found
        job.close = not request.keep_alive
        if found in self.inline:
            job.run()                   # completes at once, on the loop
            return job
        if not self.pool.submit(job):
            job.kind = JOB_BUSY
            job.done = True
        return job

    cdef int finish_job(self, Conn conn, Job job) except -1:
        # Its turn has come: write what it answers with, and log it.
        self.write_job(conn, job)
        if not self.access.on or job.kind == JOB_CONTINUE:
            return 0
        if job.request is None:
            return self.access.refused(conn, job.status)
        return self.access.after(conn, job.request)

    cdef int write_job(self, Conn conn, Job job) except -1:
        cdef Output out = conn.output
        cdef Request request = job.request
        cdef FileEntry entry
        cdef tuple parts
        if job.kind == JOB_HANDLER:
            return self.send_outcome(conn, request, job.result, job.error, job.close)
        if job.kind == JOB_FILE:
            entry = self.loop.files.current(job.result, self.loop.now)
            if entry is None:                # changed since: resolve it again
                return self.respond(conn, request, job.close)
            return write_file(out, self.loop, entry, entry.type_line, job.fields,
                              request, job.close)
        if job.kind == JOB_CONTINUE:
            if conn.state == C_OPEN:
                write_continue(out)
            return 0
        if job.kind == JOB_BUSY:
            # RFC 9110 section 15.6.4: overloaded, try again shortly.
            parts = error_parts(503)
            return write_response(out, <bytes>parts[0] + b"Retry-After: 1\r\n",
                                  <bytes>parts[1], 503, is_head_method(request._method),
                                  job.close, request._version)
        return write_error(out, job.status, True)


cdef int write_static(Output out, Loop loop, StaticTarget hit, Request request,
                      bint close) except -1:
    cdef FileEntry entry = loop.files.current(hit.path, loop.now)
    return write_file(out, loop, entry, entry.type_line, hit.fields, request, close)
