cdef class Probe:
    # A health or readiness path the engine answers itself, as an exact
    # route: a prepared 200, or for readiness a prepared 503 once the
    # server no longer takes new work.
    cdef:
        object ok                     # a Prepared (declared in _response.pyx)
        object failing                # likewise; None for a liveness probe
        readonly bint serving         # cleared by fail(): readiness says 503

    cdef object answer(self, Loop loop)
