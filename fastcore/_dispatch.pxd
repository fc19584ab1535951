cdef class Dispatcher:
    # Who answers a request, and running it: the engine's exact routes, the
    # static targets, the App's dispatch for the rest; on the loop's thread,
    # or on the handler pool when there is one.
    cdef:
        Loop loop
        dict routes                   # raw path -> {raw method: handler}
        object fallback               # App.dispatch, for everything else
        frozenset inline              # handlers that stay on the loop's thread
        Pool pool                     # None: every handler runs on the loop
        AccessLog access              # off unless install_access_log() set one

    cdef object route(self, Request request)
    cdef int answer(self, Conn conn, Request request, bint close) except -1
    cdef int refuse(self, Conn conn, int status) except -1
    cdef int respond(self, Conn conn, Request request, bint close) except -1
    cdef int send_outcome(self, Conn conn, Request request, object result,
                          object error, bint close) except -1
    cdef Job make_job(self, Conn conn, object item)
    cdef int finish_job(self, Conn conn, Job job) except -1
    cdef int write_job(self, Conn conn, Job job) except -1
