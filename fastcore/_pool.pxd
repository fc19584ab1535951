cdef class Job:
    # One answer of a connection while a handler pool serves: what it will
    # be (kind), and once done, its result. Jobs are answered in the order
    # their requests arrived, however they finish.
    cdef:
        Conn conn
        Loop loop
        Request request
        object handler
        bint close
        int kind                      # JOB_*
        bint done                     # set on the loop's thread only
        object result                 # the handler's result
        object error                  # what it raised, if it failed
        FileEntry entry               # JOB_FILE
        bytes fields
        int status                    # JOB_REFUSAL


cdef class Pool:
    # The handler threads, and the jobs (and stream pulls) waiting for one.
    cdef:
        Loop loop
        object queue                  # queue.SimpleQueue of Job / StreamBody / None
        list threads
        Py_ssize_t waiting            # submitted, not yet taken by a thread
        readonly Py_ssize_t running   # taken, not yet finished

    cdef bint submit(self, object work) except -1
    cdef int stop(self, double timeout) except -1
