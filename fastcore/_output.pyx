# A connection's output (see _output.pxd): the write buffer, the queue behind
# it, the tail slot, and sending them with send(2), sendmsg(2) and
# sendfile(2). It only sends and reports what happened (OUT_*): the
# connection decides what that means. The GIL is held throughout: every call
# here is non-blocking and takes microseconds.


@cython.final
cdef class Output:

    def __cinit__(self, int fd):
        self.fd = fd

    def __dealloc__(self):
        self.release()

    cdef void release(self):
        # Drop everything unsent (the connection is closing).
        if self.wbuf is not NULL:
            PyMem_Free(self.wbuf)
            self.wbuf = NULL
        self.wlen = self.wsent = self.wcap = 0
        self.queue = None
        self.qbytes = 0
        self.tail_entry = None
        self.tail_remaining = 0

    # -- filling ------------------------------------------------------------

    cdef int reserve(self, Py_ssize_t extra) except -1:
        # Room in wbuf for `extra` more bytes; every write into wbuf starts
        # here.
        cdef Py_ssize_t need
        cdef Py_ssize_t size
        cdef char* grown
        if self.tail_entry is not None:
            self.spill_tail()        # what is written next goes after the file
        need = self.wlen + extra
        if need <= self.wcap:
            return 0
        size = self.wcap * 2 if self.wcap else 4096
        while size < need:
            size *= 2
        grown = <char*>PyMem_Realloc(self.wbuf, size)
        if grown is NULL:
            raise MemoryError()
        self.wbuf = grown
        self.wcap = size
        return 0

    cdef inline void put(self, bytes data):
        # Append to wbuf; the caller has reserved the room.
        memcpy(self.wbuf + self.wlen, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
        self.wlen += PyBytes_GET_SIZE(data)

    cdef inline void put_raw(self, const char* data, Py_ssize_t size):
        memcpy(self.wbuf + self.wlen, data, size)
        self.wlen += size

    cdef int add_bytes(self, bytes data) except -1:
        # Queue a large body as it is, after what wbuf holds: never copied.
        self.seal()
        self.queue.append(data)
        self.qbytes += PyBytes_GET_SIZE(data)
        return 0

    cdef int add_file(self, FileEntry entry, off_t offset, Py_ssize_t length) except -1:
        # `length` bytes of a file from `offset`, after what wbuf holds. In
        # the common case (nothing queued) it waits in the tail slot: no
        # queue item, no copy of the headers.
        if self.queue is None and self.tail_entry is None:
            self.tail_entry = entry
            self.tail_offset = offset
            self.tail_remaining = length
            return 0
        return self.queue_file(entry, offset, length)

    cdef int queue_file(self, FileEntry entry, off_t offset, Py_ssize_t length) except -1:
        cdef FileSegment segment = FileSegment.__new__(FileSegment)
        segment.entry = entry
        segment.offset = offset
        segment.remaining = length
        self.seal()
        self.queue.append(segment)
        self.qbytes += length
        return 0

    cdef int seal(self) except -1:
        # Move wbuf's unsent bytes to the queue, ahead of what follows.
        if self.queue is None:
            self.queue = []
            self.qhead = 0
            self.qoff = 0
            self.qbytes = 0
        if self.wlen > self.wsent:
            self.queue.append(PyBytes_FromStringAndSize(
                self.wbuf + self.wsent, self.wlen - self.wsent))
            self.qbytes += self.wlen - self.wsent
        self.wlen = 0
        self.wsent = 0
        return 0

    cdef int spill_tail(self) except -1:
        # Turn the tail slot into queue items, in order: wbuf, then the file.
        cdef FileEntry entry = self.tail_entry
        self.tail_entry = None
        return self.queue_file(entry, self.tail_offset, self.tail_remaining)

    cdef Py_ssize_t pending(self):
        cdef Py_ssize_t left = self.wlen - self.wsent
        if self.queue is not None:
            left += self.qbytes
        if self.tail_entry is not None:
            left += self.tail_remaining
        return left

    # -- sending ------------------------------------------------------------

    cdef int send(self) except -1:
        # Send as much as the socket takes, with as few syscalls as
        # possible: every response produced by one read leaves in one send.
        if self.queue is not None:
            return self.send_queue()
        return self.send_wbuf()

    cdef int send_wbuf(self) except -1:
        # wbuf in one send, then the tail file if there is one; the bytes
        # before a file go with MSG_MORE so that they and the first file
        # bytes leave in one segment.
        cdef ssize_t n
        cdef int flags = MSG_NOSIGNAL
        cdef Py_ssize_t size = self.wlen - self.wsent
        cdef Py_ssize_t sent = 0
        cdef int outcome
        cdef off_t offset
        if self.tail_entry is not None:
            flags |= MSG_MORE
        while size:
            n = send(self.fd, self.wbuf + self.wsent, size, flags)
            if n < 0:
                outcome = io_outcome(errno)
                if outcome == IO_RETRY:
                    continue
                return OUT_BLOCKED if outcome == IO_AGAIN else OUT_GONE
            self.sent += n
            if n < size:
                self.wsent += n
                return OUT_BLOCKED
            self.wlen = 0
            self.wsent = 0
            size = 0
        if self.tail_entry is None:
            return OUT_DONE
        offset = self.tail_offset
        outcome = self.send_file_part(self.tail_entry, &offset,
                                      self.tail_remaining, &sent)
        self.tail_offset = offset
        self.tail_remaining -= sent
        if not self.tail_remaining or outcome == OUT_SHRANK:
            self.tail_entry = None
        return outcome

    cdef int send_file_part(self, FileEntry entry, off_t* offset,
                            Py_ssize_t remaining, Py_ssize_t* sent) except -1:
        # sendfile(2) from *offset until the socket is full or `remaining`
        # bytes are sent; *sent says how many. OUT_DONE means the call took
        # all the kernel would give (not that the file is done).
        cdef size_t count
        cdef ssize_t n
        cdef int outcome
        while remaining:
            count = remaining if remaining < 0x7ffff000 else 0x7ffff000
            n = sendfile(self.fd, entry.fd, offset, count)
            if n < 0:
                outcome = io_outcome(errno)
                if outcome == IO_RETRY:
                    continue
                return OUT_BLOCKED if outcome == IO_AGAIN else OUT_GONE
            if n == 0:
                # The file ended before the length its response announced.
                self.shrunk = entry
                return OUT_SHRANK
            sent[0] += n
            remaining -= n
            self.sent += n
            if <size_t>n < count:
                return OUT_BLOCKED if remaining else OUT_DONE     # the socket is full
        return OUT_DONE

    cdef int send_queue(self) except -1:
        # Send queued items in order until the socket is full or nothing is
        # left: runs of bytes with one sendmsg(2), files with sendfile(2).
        # Bytes just before a file go with MSG_MORE, so that headers and the
        # first file bytes leave in one segment.
        cdef iovec iov[MAX_IOV]
        cdef msghdr msg
        cdef Py_ssize_t count, i, total, item_len
        cdef Py_ssize_t sent
        cdef ssize_t n
        cdef int flags, outcome
        cdef object item
        cdef bytes data
        cdef FileSegment segment
        cdef list queue
        cdef off_t offset
        self.seal()
        queue = self.queue
        while self.queue is not None:
            item = queue[self.qhead]
            if type(item) is FileSegment:
                segment = <FileSegment>item
                sent = 0
                offset = segment.offset
                outcome = self.send_file_part(segment.entry, &offset,
                                              segment.remaining, &sent)
                segment.offset = offset
                segment.remaining -= sent
                self.qbytes -= sent
                if outcome != OUT_DONE:
                    return outcome
                if segment.remaining:
                    return OUT_BLOCKED
                self.pop_item()
                continue
            count = 0
            total = 0
            flags = MSG_NOSIGNAL
            i = self.qhead
            while i < len(queue) and count < MAX_IOV:
                item = queue[i]
                if type(item) is FileSegment:
                    flags |= MSG_MORE
                    break
                data = <bytes>item
                iov[count].iov_base = PyBytes_AS_STRING(data)
                iov[count].iov_len = PyBytes_GET_SIZE(data)
                if i == self.qhead:
                    iov[count].iov_base = PyBytes_AS_STRING(data) + self.qoff
                    iov[count].iov_len -= self.qoff
                total += iov[count].iov_len
                count += 1
                i += 1
            memset(&msg, 0, sizeof(msg))
            msg.msg_iov = iov
            msg.msg_iovlen = count
            n = sendmsg(self.fd, &msg, flags)
            if n < 0:
                outcome = io_outcome(errno)
                if outcome == IO_RETRY:
                    continue
                return OUT_BLOCKED if outcome == IO_AGAIN else OUT_GONE
            self.sent += n
            self.qbytes -= n
            if n < total:
                # The socket took only part: account for it and wait.
                while n > 0:
                    item_len = PyBytes_GET_SIZE(<bytes>queue[self.qhead]) - self.qoff
                    if n >= item_len:
                        n -= item_len
                        self.pop_item()
                    else:
                        self.qoff += n
                        n = 0
                return OUT_BLOCKED
            for i in range(count):
                self.pop_item()
        return OUT_DONE

    cdef void pop_item(self):
        self.queue[self.qhead] = None
        self.qhead += 1
        self.qoff = 0
        if self.qhead == len(self.queue):
            self.queue = None
        elif self.qhead > 64:
            del self.queue[:self.qhead]
            self.qhead = 0
