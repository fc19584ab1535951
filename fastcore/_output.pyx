# A connection's output: the write buffer, the queue behind it, and sending
# them with send(2), sendmsg(2) and sendfile(2).
#
# Responses are serialised into wbuf (a C buffer per connection). Bodies
# over COPY_BODY_MAX and files are not copied: they wait in the queue, in
# order with sealed wbuf segments, or, for a file after wbuf with nothing
# queued, in the tail slot. Functions of a Conn rather than methods only so
# that this part has a file of its own; the calls cost the same.


cdef inline void out_put(Conn self, bytes data):
    # Append to wbuf; the caller has reserved the room.
    memcpy(self.wbuf + self.wlen, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
    self.wlen += PyBytes_GET_SIZE(data)


cdef int out_reserve(Conn self, Py_ssize_t extra) except -1:
    # Room in wbuf for `extra` more bytes; every write starts here.
    cdef Py_ssize_t need
    cdef Py_ssize_t size
    cdef char* grown
    if self.tail_entry is not None:
        out_spill_tail(self)       # what is written next goes after the file
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


cdef int out_seal(Conn self) except -1:
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


cdef int out_queue_file(Conn self, FileEntry entry, off_t offset,
                        Py_ssize_t length) except -1:
    # Queue `length` bytes of a file from `offset`, after what wbuf holds.
    cdef FileSegment segment = FileSegment.__new__(FileSegment)
    segment.entry = entry
    segment.offset = offset
    segment.remaining = length
    out_seal(self)
    self.queue.append(segment)
    self.qbytes += length
    return 0


cdef int out_spill_tail(Conn self) except -1:
    # Turn the tail slot into queue items, in order: wbuf, then the file.
    cdef FileEntry entry = self.tail_entry
    self.tail_entry = None
    return out_queue_file(self, entry, self.tail_offset, self.tail_remaining)


cdef Py_ssize_t out_pending(Conn self):
    cdef Py_ssize_t left = self.wlen - self.wsent
    if self.queue is not None:
        left += self.qbytes
    if self.tail_entry is not None:
        left += self.tail_remaining
    return left


cdef int out_send_wbuf(Conn self) except -1:
    # wbuf in one send, then the tail file if there is one; the bytes
    # before a file go with MSG_MORE so that they and the first file
    # bytes leave in one segment.
    cdef int fd = self.fd
    cdef ssize_t n
    cdef int err
    cdef int flags = MSG_NOSIGNAL
    cdef Py_ssize_t size = self.wlen - self.wsent
    cdef char* data
    if self.tail_entry is not None:
        flags |= MSG_MORE
    if size:
        data = self.wbuf + self.wsent
        with nogil:
            n = send(fd, data, size, flags)
        if n < 0:
            err = errno
            if err != EAGAIN and err != EINTR:
                self.abort()                 # EPIPE, ECONNRESET: the client left
            return 0
        if n < size:
            self.wsent += n
            if n:
                self.wdeadline = self.loop.now + self.loop.write_timeout
            return 0
        self.wlen = 0
        self.wsent = 0
    if self.tail_entry is not None:
        out_send_tail(self)
    return 0


cdef int out_send_tail(Conn self) except -1:
    cdef off_t offset = self.tail_offset
    cdef Py_ssize_t n = out_send_file_part(self, self.tail_entry, &offset,
                                           self.tail_remaining)
    if n <= 0:
        return 0
    self.tail_offset = offset
    self.tail_remaining -= n
    self.wdeadline = self.loop.now + self.loop.write_timeout
    if not self.tail_remaining:
        self.tail_entry = None
    return 0


cdef Py_ssize_t out_send_file_part(Conn self, FileEntry entry, off_t* offset,
                                   Py_ssize_t remaining) except -1:
    # sendfile(2) from *offset, advancing it; the bytes sent, or 0 when
    # the socket is full or the connection has just been closed. The GIL
    # is released: a page-cache miss makes this wait for the disk.
    cdef int out_fd = self.fd
    cdef int in_fd = entry.fd
    cdef size_t count = remaining if remaining < 0x7ffff000 else 0x7ffff000
    cdef ssize_t n
    cdef int err
    with nogil:
        n = sendfile(out_fd, in_fd, offset, count)
    if n < 0:
        err = errno
        if err != EAGAIN and err != EINTR:
            self.abort()
        return 0
    if n == 0:
        self.file_shrank(entry)
    return n


cdef int out_send_queue(Conn self) except -1:
    # Send queued items in order until the socket is full or nothing is
    # left: runs of bytes with one sendmsg(2), files with sendfile(2).
    # Bytes just before a file go with MSG_MORE, so that headers and
    # the first file bytes leave in one segment.
    cdef iovec iov[MAX_IOV]
    cdef msghdr msg
    cdef int fd
    cdef Py_ssize_t count, i, total, item_len
    cdef ssize_t n
    cdef int err, flags
    cdef bint full = False
    cdef object item
    cdef bytes data
    cdef list queue
    out_seal(self)
    queue = self.queue
    while self.queue is not None:
        fd = self.fd
        item = queue[self.qhead]
        if type(item) is FileSegment:
            if not out_send_file(self, <FileSegment>item):
                return 0
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
        with nogil:
            n = sendmsg(fd, &msg, flags)
        if n < 0:
            err = errno
            if err != EAGAIN and err != EINTR:
                self.abort()
            return 0
        out_progress(self, n)
        if n < total:
            full = True                      # the socket took only part
        while n > 0:
            item_len = PyBytes_GET_SIZE(<bytes>queue[self.qhead]) - self.qoff
            if n >= item_len:
                n -= item_len
                out_pop_item(self)
            else:
                self.qoff += n
                n = 0
        if full:
            return 0
    return 0


cdef bint out_send_file(Conn self, FileSegment segment) except -1:
    # The next part of a queued file; True when it is all sent.
    cdef off_t offset = segment.offset
    cdef Py_ssize_t n = out_send_file_part(self, segment.entry, &offset,
                                           segment.remaining)
    if n <= 0:
        return False
    segment.offset = offset
    segment.remaining -= n
    out_progress(self, n)
    if segment.remaining:
        return False
    out_pop_item(self)
    return True


cdef inline void out_progress(Conn self, Py_ssize_t n):
    # n queued bytes left: the client is reading.
    if n > 0:
        self.qbytes -= n
        self.wdeadline = self.loop.now + self.loop.write_timeout


cdef void out_pop_item(Conn self):
    self.queue[self.qhead] = None
    self.qhead += 1
    self.qoff = 0
    if self.qhead == len(self.queue):
        self.queue = None
    elif self.qhead > 64:
        del self.queue[:self.qhead]
        self.qhead = 0
