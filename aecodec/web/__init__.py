"""A local web page to compare codecs side by side, compress and restore: `aecodec serve`.

app.py is the FastAPI application and its JSON API, coding.py the work one request asks for
(plain functions, no HTTP), jobs.py the bounded queue that runs that work off the event loop,
store.py the results kept for download, cli.py the `serve` command. The page itself is plain
HTML, CSS and JavaScript in static/, with no build step and nothing fetched from elsewhere.

Nothing here is imported by `aecodec --help`: fastapi, uvicorn and torch load inside `serve`.
"""
