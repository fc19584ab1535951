"""The Flask application test_flask.py serves, in a thread or in a child
process (``ServerProcess(app="flask_site:create_app")``): routes with
parameters, query arguments, forms (urlencoded and multipart), cookies and
the session, redirects, JSON, a streamed response, files by send_file, an
error handler, and a view that fails."""

from __future__ import annotations

import flask


def create_app(files: str | None = None) -> flask.Flask:
    """The app; `files` is the directory /files/<name> sends from."""
    app = flask.Flask(__name__)
    app.secret_key = "test-only-secret"

    @app.route("/")
    def index():
        return "Hello from Flask"

    @app.route("/users/<int:user_id>")
    def user(user_id: int):
        return f"user {user_id} ({type(user_id).__name__})"

    @app.route("/search")
    def search():
        return flask.jsonify(q=flask.request.args.get("q"),
                             tags=flask.request.args.getlist("tag"),
                             path=flask.request.path, full=flask.request.full_path)

    @app.route("/form", methods=["POST"])
    def form():
        upload = flask.request.files.get("upload")
        return flask.jsonify(
            fields=flask.request.form.to_dict(flat=False),
            upload=None if upload is None else [upload.filename, upload.read().decode()])

    @app.route("/login", methods=["POST"])
    def login():
        flask.session["user"] = flask.request.form["name"]
        response = flask.redirect(flask.url_for("me"))
        response.set_cookie("theme", flask.request.form.get("theme", "light"))
        return response

    @app.route("/me")
    def me():
        if "user" not in flask.session:
            return flask.redirect(flask.url_for("index"), 302)
        return flask.jsonify(user=flask.session["user"],
                             theme=flask.request.cookies.get("theme"))

    @app.route("/logout")
    def logout():
        flask.session.clear()
        return "bye"

    @app.route("/old-place")
    def old_place():
        return flask.redirect("/users/1", 301)

    @app.route("/api/echo", methods=["POST"])
    def api_echo():
        data = flask.request.get_json()
        return flask.jsonify(received=data, kind=type(data).__name__), 201

    @app.route("/stream")
    def stream():
        @flask.stream_with_context
        def lines():
            # The request context is still there while the body streams.
            count = int(flask.request.args.get("n", "3"))
            for i in range(count):
                yield f"line {i} of {flask.request.path}\n"
        return flask.Response(lines(), mimetype="text/plain")

    @app.route("/files/<name>")
    def files_(name: str):
        assert files is not None
        # send_from_directory: send_file, and 404 for a name that is not there.
        return flask.send_from_directory(files, name, mimetype="application/octet-stream")

    @app.route("/teapot")
    def teapot():
        flask.abort(418)

    @app.errorhandler(418)
    def short_and_stout(error):
        return flask.jsonify(error="I'm a teapot", code=418), 418

    @app.errorhandler(404)
    def not_found(error):
        return f"no page at {flask.request.path}", 404

    @app.route("/crash")
    def crash():
        raise RuntimeError("the view failed")

    return app
