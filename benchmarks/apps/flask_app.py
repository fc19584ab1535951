"""The smallest Flask app: benchmarks.apps.flask_app:app for gunicorn,
granian, waitress and `fastcore run --interface wsgi`; bjoern serves it with
python -m benchmarks.apps.wsgi_app PORT DOCROOT benchmarks.apps.flask_app:app."""

from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    return "Hello, World!"
