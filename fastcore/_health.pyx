# Health and readiness (see _health.pxd). A Probe sits in the engine's exact
# routes like a handler, so finding it costs what finding a cached route
# costs, and its answer is prepared once: no handler, no Python call.


@cython.final
cdef class Probe:
    """A path answered inside the engine. Liveness (`failing` None) says
    200 while the process serves; readiness says 503 from fail() on, and
    once the loop drains."""

    def __init__(self, bytes ok_head, bytes ok_body, bytes failing_head=None,
                 bytes failing_body=None):
        self.ok = prepared(ok_head, ok_body, 200)
        if failing_head is not None:
            self.failing = prepared(failing_head, failing_body, 503)
        self.serving = True

    def fail(self):
        """From now on a readiness probe answers 503 (any thread)."""
        self.serving = False

    cdef object answer(self, Loop loop):
        if self.failing is not None and (not self.serving or loop.draining):
            return self.failing
        return self.ok


cdef Prepared prepared(bytes head, bytes body, int status):
    cdef Prepared response = Prepared.__new__(Prepared)
    response.head = head
    response.body = body
    response.status = status
    return response
