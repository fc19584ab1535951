cdef class StreamBody:
    # A streamed response body while it is being sent: where its chunks come
    # from (an iterator, or an EventStream's queue), how they are delimited,
    # and closing its source exactly once.
    cdef:
        Loop loop
        Conn conn                     # sending it (set when the response starts)
        object iterator               # next() gives chunks; None for an EventStream
        object closer                 # the iterable's close(), if it has one
        object events                 # the EventStream, or None
        object queue                  # its deque of encoded events
        readonly int framing          # FRAME_CHUNKED, FRAME_LENGTH, FRAME_CLOSE
        long long remaining           # FRAME_LENGTH: bytes still owed
        bint waiting                  # the last pump found nothing to send yet
        Pool pool                     # pulls the iterator off the loop, if set
        object pulled                 # a pool thread's next chunk (NOTHING: none)
        bint pulling                  # a pull is on the pool
        bint close_after_pull         # closed while pulling: close its source then
        # The access log's entry for it, logged when it ends (AccessLog).
        Request log_request           # None while the access log is off
        int log_status
        unsigned long long content     # bytes of chunks written, without framing

    cdef int pump(self, Output out) except -1
    cdef int finish(self, Output out) except -1
    cdef int write_chunk(self, Output out, bytes chunk) except -1
    cdef void close(self)
    cdef void close_source(self)
    cdef int pull(self) except -1
