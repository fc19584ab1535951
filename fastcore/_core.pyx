# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# The engine, one compilation unit: its parts are included below so that
# cdef calls between them cost no more than a C call.

cimport cython
from cpython.bytes cimport (
    PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize)
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.exc cimport PyErr_CheckSignals
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from cpython.unicode cimport PyUnicode_AsUTF8String
from libc.math cimport INFINITY
from libc.stdint cimport uint64_t
from libc.string cimport memset
from posix.stat cimport fstat, struct_stat

from fastcore.includes.syscalls cimport *

cdef extern from "Python.h":
    object PyMemoryView_FromMemory(char* mem, Py_ssize_t size, int flags)
    enum:
        PyBUF_READ
    Py_ssize_t PY_SSIZE_T_MAX

from json import loads as json_loads
from os import (O_CLOEXEC, O_RDONLY, fstat as os_fstat, open as os_open,
                stat as os_stat, strerror as os_strerror)
from stat import S_ISREG

from httptools import (
    HttpRequestParser, HttpParserError, HttpParserCallbackError,
    HttpParserInvalidMethodError, HttpParserUpgrade)

from fastcore.errors import HTTPError, ProtocolError
from fastcore.headers import Headers
from fastcore.responses import (
    ERROR_STATUSES, OK_HTML_HEAD, STATUS_LINES, FileResponse, Response,
    error_body, error_head)
from fastcore.static import evaluate, file_fields
from fastcore._target import check_target_form, split_target

include "_http.pyx"
include "_files.pyx"
include "_request.pyx"
include "_output.pyx"
include "_response.pyx"
include "_conn.pyx"
include "_loop.pyx"
