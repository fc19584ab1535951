cdef class RequestLine:
    # A Reader's knowledge of the request line beyond what llhttp reports:
    # the bytes a refused method came in (to tell 501 from 400), where the
    # stream stood between reads (to parse a refused HTTP/1.x version again
    # from a known place), and the length of the head line llhttp has not
    # reported yet (414, 431). Kept apart from the Reader, which parses
    # every request, because all of this is about the few llhttp stops on.
    # Its methods read the Reader and act on it only through the Reader's
    # own methods (refuse, probing, restart_parser): each field has one
    # writer.
    cdef:
        bytes first_bytes             # what came before the first request line
        bytearray probe               # a refused method's line, until 400 or 501 is clear
        bint boundary                 # the last read ended between requests (see after_read)
        char tail[3]                  # the last 3 bytes read (see first_request_end)
        Py_ssize_t partial            # bytes of the unfinished head line (see check_partial)
        bint line_done                # an LF has ended this request's request line

    cdef void new_request(self) noexcept
    cdef void done(self) noexcept
    cdef int keep_first(self, const char* data, Py_ssize_t n) except -1
    cdef void after_read(self, const char* data, Py_ssize_t n, bint idle) noexcept
    cdef int check_partial(self, Reader reader, const char* data, Py_ssize_t n,
                           bint began_here) except -1
    cdef bint method_refused(self, Reader reader, char* data, Py_ssize_t n) except -1
    cdef bint probe_more(self, Reader reader, char* data, Py_ssize_t n) except -1
    cdef bytes parse_error(self, Reader reader, object error, const char* data, Py_ssize_t n,
                           int phase, Py_ssize_t url_start, Py_ssize_t body_start,
                           Py_ssize_t completed)
    cdef bytes rest_of_line(self, Reader reader, const char* data, Py_ssize_t n,
                            Py_ssize_t url_start)
    cdef Py_ssize_t first_request_end(self, Reader reader, const char* data, Py_ssize_t n,
                                      int phase, Py_ssize_t body_start,
                                      Py_ssize_t completed) except -2
