cdef class Output:
    # A connection's output: what is waiting to be sent, and sending it.
    # Responses are serialised into wbuf; bodies over COPY_BODY_MAX and
    # files are not copied but wait in the queue, in order with sealed wbuf
    # segments, or, for a file right after wbuf with nothing queued, in the
    # tail slot.
    cdef:
        int fd
        char* wbuf
        Py_ssize_t wlen               # bytes in wbuf
        Py_ssize_t wsent              # of which already sent
        Py_ssize_t wcap
        list queue                    # bytes and FileSegment, in order; None if empty
        Py_ssize_t qhead              # first unsent item of queue
        Py_ssize_t qoff               # bytes of queue[qhead] already sent
        Py_ssize_t qbytes             # unsent bytes in queue
        FileEntry tail_entry          # a file to send after wbuf, when no queue
        off_t tail_offset
        Py_ssize_t tail_remaining
        readonly unsigned long long sent    # bytes sent so far, in all
        FileEntry shrunk              # the file that shrank, after OUT_SHRANK
        # Of the last response head written (write_tail), for the access log.
        int status
        unsigned long long body_start # bytes given to the output before its body

    cdef int reserve(self, Py_ssize_t extra) except -1
    cdef void put(self, bytes data)
    cdef void put_raw(self, const char* data, Py_ssize_t size)
    cdef int add_bytes(self, bytes data) except -1
    cdef int add_file(self, FileEntry entry, off_t offset, Py_ssize_t length) except -1
    cdef Py_ssize_t pending(self)
    cdef int send(self) except -1
    cdef void release(self)
    cdef int seal(self) except -1
    cdef int spill_tail(self) except -1
    cdef int queue_file(self, FileEntry entry, off_t offset, Py_ssize_t length) except -1
    cdef int send_wbuf(self) except -1
    cdef int send_queue(self) except -1
    cdef int send_file_part(self, FileEntry entry, off_t* offset,
                            Py_ssize_t remaining, Py_ssize_t* sent) except -1
    cdef void pop_item(self)
