"""HTTP errors: what a handler raises to answer with a status, and what an
extractor raises for bad input (which parameter, where, why)."""

from __future__ import annotations

from collections.abc import Mapping


class HTTPError(Exception):
    """Answer the request with `status` and a JSON body `{"error": message}`
    (plus `"in"` and `"parameter"` when bad input is to blame)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        where: str | None = None,
        parameter: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.where = where  # "path", "query", "header", "cookie", "body", "form"
        self.parameter = parameter

    def body(self) -> dict[str, str]:
        body = {"error": self.message}
        if self.where is not None:
            body["in"] = self.where
        if self.parameter is not None:
            body["parameter"] = self.parameter
        return body


def bad_input(where: str, parameter: str, reason: str, status: int = 400) -> HTTPError:
    """A 4xx naming the parameter at fault: `query parameter 'limit': expected an integer`."""
    if not parameter:
        return HTTPError(status, f"{where}: {reason}", where=where)
    what = {"body": "body field", "form": "form field"}.get(where, f"{where} parameter")
    return HTTPError(status, f"{what} {parameter!r}: {reason}", where=where, parameter=parameter)
