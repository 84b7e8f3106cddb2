"""Retries of upstream requests: a server error that is not known to pass is not retried."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from safe_pip.gateway.network import with_retries

# The server errors worth another try: overload, gateways and proxies in between.
RETRIED = frozenset({500, 502, 503, 504, 520, 527})
NOT_RETRIED = sorted(set(range(500, 600)) - RETRIED)


def _answering(*statuses: int) -> tuple[Callable[[], httpx.Response], list[int]]:
    """A request for a page whose server answers each time with the next status (an error
    status raises, as for every upstream request); and the statuses answered so far."""
    answered: list[int] = []
    request = httpx.Request("GET", "https://idx.example/simple/demo/")

    def get() -> httpx.Response:
        answered.append(statuses[len(answered)])
        return httpx.Response(answered[-1], request=request).raise_for_status()

    return get, answered


class TestServerErrors:
    @pytest.mark.parametrize("status", NOT_RETRIED)
    def test_a_server_error_outside_the_retried_set_fails_at_once(self, status: int) -> None:
        get, answered = _answering(status, 200)
        waits: list[float] = []
        with pytest.raises(httpx.HTTPStatusError) as caught:
            with_retries(get, 5, sleep=waits.append)
        assert caught.value.response.status_code == status
        assert answered == [status]
        assert waits == []

    @pytest.mark.parametrize("status", sorted(RETRIED))
    def test_a_server_error_in_the_retried_set_is_tried_again(self, status: int) -> None:
        get, answered = _answering(status, 200)
        waits: list[float] = []
        assert with_retries(get, 5, sleep=waits.append).status_code == 200
        assert answered == [status, 200]
        assert waits == [0.25]
