"""fastcore: a Cython-accelerated, embeddable HTTP/1.1 server core.

    import fastcore

    app = fastcore.App()

    @app.route("/")
    def index(request):
        return b"<h1>Hello, World!</h1>"

    app.run(host="127.0.0.1", port=8081)
"""

from typing import TYPE_CHECKING

from fastcore._core import Request
from fastcore.app import App
from fastcore.conditional import make_conditional
from fastcore.errors import HTTPError
from fastcore.headers import Headers
from fastcore.limits import Limits
from fastcore.responses import FileResponse, Response, json_response, redirect
from fastcore.server import Server
from fastcore.streams import EventStream, Stream

if TYPE_CHECKING:
    from fastcore.forms import MultiDict, UploadFile

__all__ = ["App", "EventStream", "FileResponse", "Headers", "HTTPError", "Limits",
           "MultiDict", "Request", "Response", "Server", "Stream", "UploadFile",
           "__version__", "json_response", "make_conditional", "redirect"]

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # The form types load with fastcore.forms, on first use: a server whose
    # handlers read no form does not import it.
    if name in ("MultiDict", "UploadFile"):
        from fastcore import forms
        return getattr(forms, name)
    raise AttributeError(f"module 'fastcore' has no attribute {name!r}")
