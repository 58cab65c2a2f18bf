"""The read-only REST API: a Falcon app over the Redis store, served by Gunicorn.

`create_app(store, settings)` builds it; `get_app()` is Gunicorn's entry point.
"""
