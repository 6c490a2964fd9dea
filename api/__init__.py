"""The planner's desk: the HTTP API, live events out, and the web page planners use.

``prognos.api.app.create_app(ApiDeps(...))`` builds it; see ``api/README.md``.
"""
