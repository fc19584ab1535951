# A streamed response body (see _stream.pxd and fastcore.streams): one chunk
# per pump() into a connection's Output, framed as chunked, by a declared
# length, or raw until the close. The connection decides when to pump (only
# while its output is under the high-water mark) and what the result means.


# StreamBody.pulled when no chunk is waiting.
cdef object NOTHING = object()


@cython.final
cdef class PullFailure:
    # What a pool thread's next() raised, for the loop to handle.
    cdef object error


@cython.final
cdef class StreamBody:

    def __call__(self):
        # An EventStream's producer thread has queued something: wake the
        # loop, which pumps this body on its own thread.
        self.loop.complete(self)

    cdef int pump(self, Output out) except -1:
        # One chunk into `out` (PUMP_*). A failing iterator raises: the
        # connection logs it and ends the response unfinished.
        cdef object chunk
        self.waiting = False
        if self.events is not None:
            if len(self.queue) > self.events.max_queued:
                return PUMP_BEHIND
            try:
                chunk = self.queue.popleft()
            except IndexError:
                self.waiting = True
                return PUMP_WAIT
            if chunk is STREAM_END:
                return self.finish(out)
        elif self.pool is not None:
            # The pool pulls: a slow iterator holds up a thread, not the loop.
            chunk = self.pulled
            if chunk is NOTHING:
                if not self.pulling:
                    self.pulling = True
                    self.pool.submit(self)
                self.waiting = True
                return PUMP_WAIT
            self.pulled = NOTHING
            if chunk is STREAM_END:
                return self.finish(out)
            if type(chunk) is PullFailure:
                raise (<PullFailure>chunk).error
        else:
            try:
                chunk = next(self.iterator)
            except StopIteration:
                return self.finish(out)
        if type(chunk) is not bytes:
            if isinstance(chunk, str):
                chunk = PyUnicode_AsUTF8String(chunk)
            elif isinstance(chunk, (bytes, bytearray, memoryview)):
                chunk = bytes(chunk)
            else:
                raise TypeError(f"a streamed body yielded {type(chunk).__name__}; "
                                "expected bytes or str")
        return self.write_chunk(out, <bytes>chunk)

    cdef int write_chunk(self, Output out, bytes chunk) except -1:
        cdef Py_ssize_t n = PyBytes_GET_SIZE(chunk)
        cdef bint copy = n <= COPY_BODY_MAX
        cdef char line[24]
        cdef Py_ssize_t digits
        if n == 0:
            return PUMP_MORE            # an empty chunk would end a chunked body
        if self.framing == FRAME_LENGTH:
            if n > self.remaining:
                # Sent up to the length the head announced, no further.
                write_raw(out, chunk[:self.remaining])
                self.content += self.remaining
                self.remaining = 0
                return PUMP_LONG
            self.remaining -= n
        self.content += n
        if self.framing == FRAME_CHUNKED:
            # RFC 9112 section 7.1: chunk-size in hex, CRLF, data, CRLF.
            digits = format_hex(n, line)
            line[digits] = b"\r"
            line[digits + 1] = b"\n"
            out.reserve(digits + 4 + (n if copy else 0))
            out.put_raw(line, digits + 2)
            if copy:
                out.put_raw(PyBytes_AS_STRING(chunk), n)
            else:
                out.add_bytes(chunk)
                out.reserve(2)
            out.put_raw(b"\r\n", 2)
            return PUMP_MORE
        if copy:
            write_raw(out, chunk)
        else:
            out.add_bytes(chunk)
        return PUMP_MORE

    cdef int finish(self, Output out) except -1:
        self.iterator = None
        if self.framing == FRAME_CHUNKED:
            out.reserve(5)
            out.put_raw(b"0\r\n\r\n", 5)        # the last chunk, no trailers
        elif self.framing == FRAME_LENGTH and self.remaining:
            return PUMP_SHORT
        return PUMP_END

    cdef int pull(self) except -1:
        # On a pool thread: the next chunk, handed back to the loop.
        cdef object chunk
        try:
            chunk = next(self.iterator)
        except StopIteration:
            chunk = STREAM_END
        except BaseException as exc:
            chunk = PullFailure.__new__(PullFailure)
            (<PullFailure>chunk).error = exc
        self.pulled = chunk
        self.loop.complete(self)
        return 0

    cdef void close(self):
        # The body is over (complete, failed, or its client gone): close its
        # source once. An EventStream learns that it is closed.
        if self.log_request is not None and self.conn is not None:
            self.loop.dispatcher.access.stream_ended(self.conn, self)
        self.conn = None
        if self.events is not None:
            self.events._wake = None
            self.events._closed = True
            self.events = None
        if self.pulling:
            # A pool thread is inside next(): closing a generator now would
            # fail ("already executing"); the loop closes it when it returns.
            self.close_after_pull = True
            return
        self.close_source()

    cdef void close_source(self):
        cdef object closer = self.closer
        self.closer = None
        self.iterator = None
        self.close_after_pull = False
        if closer is not None:
            try:
                closer()
            except Exception:
                self.loop.logger.exception("closing a streamed body failed")


cdef inline int write_raw(Output out, bytes data) except -1:
    out.reserve(PyBytes_GET_SIZE(data))
    out.put(data)
    return 0


cdef StreamBody stream_body(Loop loop, object iterable, object events,
                            int framing, long long length):
    # The engine side of a Stream (or an EventStream), its iterator taken.
    cdef StreamBody body = StreamBody.__new__(StreamBody)
    body.loop = loop
    body.pulled = NOTHING
    body.framing = framing
    body.remaining = length
    if events is not None:
        body.events = events
        body.queue = events._queue
        events._wake = body             # its producers wake the loop from now on
    else:
        body.closer = getattr(iterable, "close", None)
        body.iterator = iter(iterable)
    return body


cdef void close_iterable(Loop loop, object iterable):
    # A body that is not sent (HEAD, 204, 304) is still closed, unread.
    cdef object closer = getattr(iterable, "close", None)
    if closer is not None:
        try:
            closer()
        except Exception:
            loop.logger.exception("closing a streamed body failed")


cdef str pump_failure(int result):
    # What went wrong with a streamed body, for the log.
    if result == PUMP_SHORT:
        return "ended before its declared length"
    if result == PUMP_LONG:
        return "went past its declared length"
    return "was dropped: its client fell more than max_queued events behind"
