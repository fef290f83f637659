"""``POST /api/v1/judgements`` and ``GET /api/v1/judgements/{id}`` (docs/judging.md): a
submission judged against many tests. Accepted, counted and queued as an execution (the same
record, quota, ``?wait=true`` and webhook), run by a runner as a ``JudgementJob``; its result is
the runner's stored ``JudgementResult``. It may name a workspace instead of sending its files,
as an execution may (``Api.with_workspace``).
"""

from __future__ import annotations

import uuid

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from contracts import subjects
from contracts.api import Accepted
from contracts.judging import (
    JudgementRequest,
    JudgementResult,
    JudgementStatus,
    judgement_request_decoder,
    judgement_result_decoder,
)
from contracts.messages import CompletionEvent, ExecutionRecord
from edge.api import Api, ApiProblem, decode, json_response, read_body
from edge.intake import NotRunnable, judgement_job
from edge.problem_store import ProblemStore

PENDING = b'{"pending":true}'
"""Put under the judgement's key when it is accepted (the runner's result replaces it): the
mark that an execution id names a judgement."""


class Judgements:
    def __init__(self, api: Api, problems: ProblemStore) -> None:
        self.api = api
        self.bus = api.bus
        self.problems = problems

    def routes(self) -> list[Route]:
        """Paths under ``/api`` (the app mounts them there)."""
        return [
            Route("/v1/judgements", self.create, methods=["POST"]),
            Route("/v1/judgements/{id}", self.get, methods=["GET"]),
        ]

    async def create(self, request: Request) -> Response:
        principal = await self.api.caller(request)
        body = await self.api.with_workspace(principal, await read_body(request))
        spec: JudgementRequest = decode(judgement_request_decoder, body)
        execution_id = uuid.uuid4().hex
        stored = None
        if spec.problem_id is not None:
            stored = await self.problems.problem(principal.owner, spec.problem_id)
            if stored is None:
                raise ApiProblem(404, "not_found", f"no problem {spec.problem_id!r} for this "
                                 "caller")
        try:
            job = judgement_job(spec, principal.owner, self.api.catalog, execution_id,
                                principal.isolation, stored)
        except NotRunnable as refused:
            raise ApiProblem(400, refused.code, refused.message) from None
        if spec.callback_url and (problem := self.api.policy.url_problem(spec.callback_url)):
            raise ApiProblem(400, "invalid_callback_url", problem)
        record = ExecutionRecord(execution_id, principal.owner, job.language, job.submitted_at,
                                 spec.request_id, spec.callback_url)
        await self.bus.executions.put(subjects.judgement_key(execution_id), PENDING)
        await self.api.submit(principal, record, job)
        headers = {"Location": f"/api/v1/judgements/{execution_id}"}
        wait_s = self.api.wait_of(request)
        if wait_s is None:
            return json_response(Accepted(execution_id), 202, headers)
        answer = await self._wait(record, wait_s)
        return json_response(answer, 200 if answer.status == "completed" else 202, headers)

    async def get(self, request: Request) -> Response:
        principal = await self.api.caller(request)
        record = await self.api.owned(principal, request.path_params["id"])
        if await self.bus.executions.get(subjects.judgement_key(record.execution_id)) is None:
            raise ApiProblem(404, "not_found", f"{record.execution_id!r} is not a judgement")
        wait_s = self.api.wait_of(request)
        return json_response(await (self._wait(record, wait_s) if wait_s else
                                    self.answer(record)))

    async def _wait(self, record: ExecutionRecord, wait_s: float
                    ) -> JudgementResult | JudgementStatus:
        completion = await self.bus.events.completion_within(record.execution_id, wait_s)
        return await self.answer(record, completion)

    async def answer(self, record: ExecutionRecord, completion: CompletionEvent | None = None
                     ) -> JudgementResult | JudgementStatus:
        """The result once completed, else the status (queued or running)."""
        execution_id = record.execution_id
        completion = completion or await self.bus.events.completion(execution_id)
        if completion is None:
            running = await self.bus.records.is_running(execution_id)
            return JudgementStatus(execution_id, "running" if running else "queued",
                                   record.request_id)
        stored = await self.bus.executions.get(subjects.judgement_key(execution_id))
        if completion.verdict == "ok" and stored and stored != PENDING:
            result = judgement_result_decoder.decode(stored)
            return msgspec.structs.replace(result, request_id=record.request_id)
        return JudgementResult(  # never judged: cancelled, expired, the runner failed
            id=execution_id, verdict="internal_error", passed=0, total=0, score=0.0,
            max_score=0.0, tests=[], message=completion.message or completion.verdict,
            request_id=record.request_id)

    async def callback_body(self, record: ExecutionRecord) -> bytes | None:
        """The webhook's body for a judgement (its result), None for any other execution."""
        if await self.bus.executions.get(subjects.judgement_key(record.execution_id)) is None:
            return None
        return msgspec.json.encode(await self.answer(record))
