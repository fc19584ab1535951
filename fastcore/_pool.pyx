# The handler pool: threads that run handlers (and pull streamed bodies)
# so that one that waits does not hold up the loop. The loop submits work
# and goes on; a thread runs it, holding the GIL only while Python runs,
# and hands the result back through the loop's wake-up (Loop.complete,
# an eventfd write), never a poll. Everything that touches a connection
# stays on the loop's thread.


@cython.final
cdef class Job:

    def run(self):
        # On a pool thread.
        try:
            try:
                self.result = self.handler(self.request)
            except HTTPError as exc:
                self.result = (<object>exc).to_response()
        except BaseException as exc:
            self.error = exc
        self.loop.complete(self)


cdef Job done_job(Conn conn, int kind, bint close):
    cdef Job job = Job.__new__(Job)
    job.conn = conn
    job.loop = conn.loop
    job.kind = kind
    job.close = close
    job.done = True
    return job


@cython.final
cdef class Pool:

    def __cinit__(self, Loop loop, Py_ssize_t size):
        self.loop = loop
        self.queue = SimpleQueue()
        self.threads = []
        for index in range(size):
            thread = Thread(target=self.work, name=f"fastcore-handler-{index}",
                            daemon=True)
            self.threads.append(thread)
            thread.start()

    def work(self):
        # A pool thread: take work until told to stop (None).
        cdef object get = self.queue.get
        cdef object work
        while True:
            work = get()
            if work is None:
                return
            self.waiting -= 1
            self.running += 1
            try:
                if type(work) is Job:
                    (<Job>work).run()
                else:
                    (<StreamBody>work).pull()
            finally:
                self.running -= 1

    cdef bint submit(self, object work) except -1:
        # False when the pending queue is full (the caller answers 503).
        if type(work) is Job and self.waiting >= self.loop.limits.max_pending:
            return False
        self.waiting += 1
        self.queue.put(work)
        return True

    cdef int stop(self, double timeout) except -1:
        # Threads finish what they run (a handler cannot be interrupted),
        # up to `timeout`; those still busy then are left as daemons.
        cdef double deadline = monotonic() + timeout
        for _ in self.threads:
            self.queue.put(None)
        for thread in self.threads:
            thread.join(max(0.0, deadline - monotonic()))
        self.threads = [t for t in self.threads if t.is_alive()]
        return 0


cdef void drop_job(Job job):
    # Its connection closed first. A job still on the pool is discarded when
    # it comes back (its conn is None); a finished one's streamed result is
    # closed unread.
    cdef object result = job.result
    job.conn = None
    if job.done and result is not None:
        if isinstance(result, Stream):
            result = (<object>result).iterable
        if hasattr(type(result), "__next__") or hasattr(result, "close"):
            close_iterable(job.loop, result)
