# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# The engine, one compilation unit: its parts are included below so that
# cdef calls between them cost no more than a C call. Each part's fields and
# cdef signatures are in its .pxd (included by _core.pxd).
#
#   _http.pyx      wire-format pieces in C: Date, sizes, tokens, errno policy
#   _files.pyx     open files, their ranges in the output, the file cache
#   _request.pyx   the Request a handler receives
#   _output.pyx    a connection's output and sending it
#   _stream.pyx    a streamed body while it is sent
#   _response.pyx  responses serialised into an Output
#   _pool.pyx      the handler threads and the jobs they run
#   _access.pyx    the access log: each response's fields, to fastcore.access
#   _health.pyx    health and readiness paths the engine answers itself
#   _dispatch.pyx  who answers a request, and running its handler
#   _request_line.pyx  what llhttp does not report of a request line: a
#                  refused method or version, an unfinished line's length
#   _reader.pyx    a connection's read side: httptools, limits, parsed requests
#   _proxy_protocol.pyx  the PROXY protocol header before a connection's first request
#   _conn.pyx      a connection: lifecycle, answering in order, timeouts
#   _accept.pyx    the listening sockets and accepting from them
#   _loop.pyx      epoll, the sweep, stopping
#   _wsgi.pyx      the WSGI environ of a request

cimport cython
from cpython.buffer cimport PyBUF_WRITABLE, PyObject_GetBuffer, PyBuffer_Release
from cpython.bytes cimport (
    PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize)
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.exc cimport PyErr_CheckSignals
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from cpython.pythread cimport PyThread_get_thread_ident
from cpython.unicode cimport PyUnicode_AsUTF8String, PyUnicode_DecodeLatin1
from libc.math cimport INFINITY
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memset
from posix.stat cimport fstat, struct_stat

from fastcore.includes.syscalls cimport *

cdef extern from "Python.h":
    object PyMemoryView_FromMemory(char* mem, Py_ssize_t size, int flags)
    enum:
        PyBUF_READ
    Py_ssize_t PY_SSIZE_T_MAX

from collections import deque
from _queue import SimpleQueue      # the C queue: the queue module costs 0.1 MiB
from threading import Thread
from time import monotonic
from io import BytesIO
from urllib.parse import unquote_to_bytes
from errno import ELOOP, ENAMETOOLONG, ENODEV, ENXIO
from json import loads as json_loads
from os import (O_CLOEXEC, O_NOCTTY, O_NONBLOCK, O_RDONLY, fstat as os_fstat,
                open as os_open, pread as os_pread, stat as os_stat,
                strerror as os_strerror)
from stat import S_ISREG

from httptools import (
    HttpRequestParser, HttpParserError, HttpParserCallbackError,
    HttpParserInvalidMethodError, HttpParserUpgrade)

from fastcore.errors import HTTPError, ProtocolError
from fastcore.headers import Headers
from fastcore.limits import DEFAULT_MAX_FORM_FIELDS, DEFAULT_UPLOAD_SPOOL_SIZE
from fastcore.responses import (
    OK_HTML_HEAD, OK_JSON_HEAD, FileBody, FileResponse, Response, error_body, error_head,
    json_body, status_line)
from fastcore.conditional import evaluate
from fastcore.streams import _END as STREAM_END, EventStream, Stream
from fastcore.static import file_fields
from fastcore._syntax import REG_NAME_CHARS, STANDARD_METHODS, TCHARS, TOKEN
from fastcore._target import authority, check_target_form, origin, split_target
from fastcore._wsgi_headers import check_wsgi_field, check_wsgi_status

include "_http.pyx"
include "_files.pyx"
include "_request.pyx"
include "_output.pyx"
include "_stream.pyx"
include "_response.pyx"
include "_pool.pyx"
include "_access.pyx"
include "_health.pyx"
include "_dispatch.pyx"
include "_request_line.pyx"
include "_reader.pyx"
include "_proxy_protocol.pyx"
include "_conn.pyx"
include "_accept.pyx"
include "_loop.pyx"
include "_wsgi.pyx"
