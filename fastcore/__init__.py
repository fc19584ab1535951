"""fastcore: a Cython-accelerated, embeddable HTTP/1.1 server core.

    import fastcore

    app = fastcore.App()

    @app.route("/")
    def index(request):
        return b"<h1>Hello, World!</h1>"

    app.run(host="127.0.0.1", port=8081)
"""

from fastcore._core import Request
from fastcore.app import App
from fastcore.errors import HTTPError
from fastcore.headers import Headers
from fastcore.limits import Limits
from fastcore.responses import FileResponse, Response
from fastcore.server import Server
from fastcore.streams import EventStream, Stream

__all__ = ["App", "EventStream", "FileResponse", "Headers", "HTTPError", "Limits",
           "Request", "Response", "Server", "Stream", "__version__"]

__version__ = "0.1.0"
