"""``POST /api/v1/problems`` (docs/judging.md): a problem's tests stored once, content-addressed
in the NATS object store, with its checker, groups and limits; judgements name it by
``problemId``. The id comes from the problem's content and its owner, so storing the same
problem again answers with the same id."""

from __future__ import annotations

import hashlib

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from contracts.judging import (
    Case,
    CustomChecker,
    Interactor,
    ProblemCreated,
    ProblemRequest,
    StoredCase,
    StoredProblem,
    problem_request_decoder,
    stored_problem_problem,
)
from edge.api import Api, ApiProblem, decode, json_response, read_body
from edge.problem_store import ProblemStore, ProblemStoreFull


class Problems:
    def __init__(self, api: Api, store: ProblemStore) -> None:
        self.api = api
        self.store = store

    def routes(self) -> list[Route]:
        """Paths under ``/api`` (the app mounts them there)."""
        return [Route("/v1/problems", self.create, methods=["POST"])]

    async def create(self, request: Request) -> Response:
        principal = await self.api.caller(request)
        spec: ProblemRequest = decode(problem_request_decoder, await read_body(request))
        if problem := stored_problem_problem(spec):
            raise ApiProblem(400, "invalid_request", problem)
        match spec.checker:
            case CustomChecker() | Interactor() as helper if (
                    self.api.catalog.get(helper.language) is None):
                raise ApiProblem(400, "unknown_language",
                                 f"unknown language {helper.language!r} for the checker")
            case _:
                pass
        try:
            stored = StoredProblem(principal.owner,
                                   [await self._stored(case) for case in spec.tests],
                                   spec.checker, spec.groups, spec.limits)
            data = msgspec.json.encode(stored)
            problem_id = hashlib.sha256(data).hexdigest()[:32]
            await self.store.put_problem(principal.owner, problem_id, data)
        except ProblemStoreFull as exc:
            raise ApiProblem(507, "insufficient_storage", str(exc)) from None
        return json_response(ProblemCreated(problem_id, len(stored.tests)), 201)

    async def _stored(self, case: Case) -> StoredCase:
        hashes = []
        for text in (case.stdin, case.expected_output):
            data = text.encode()
            sha256 = hashlib.sha256(data).hexdigest()
            await self.store.put_content(sha256, data)
            hashes.append(sha256)
        return StoredCase(case.name, hashes[0], hashes[1], case.points, case.limits)
