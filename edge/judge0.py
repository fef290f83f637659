"""Judge0 CE 1.13.1's API (docs/compat.md), mounted at ``JUDGE0_PREFIX``.

A submission is an execution of the HTTP API: the same keys (``X-Auth-Token`` is taken as an
API key), rate limits, quota, priority-1 queue, record, results and callbacks (``Api.accept``);
only the request and answer shapes are Judge0's. Its request is kept under ``<id>.judge0``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from contracts import judge0 as j
from contracts import subjects
from contracts.api import ExecutionRequest, ExecutionResult
from contracts.judging import judgement_result_decoder
from contracts.messages import ExecutionRecord, SourceFile
from edge.api import Api, ApiProblem, read_body
from edge.auth import AuthError, Principal
from edge.intake import NotRunnable, judgement_job
from edge.judge0_files import ZipProblem, extract
from edge.judge0_http import (
    Judge0Error,
    config_info,
    count_problem,
    error,
    field_of,
    fields_of,
    guarded,
    integer,
)
from edge.judge0_languages import BY_ID, LAUNCHER, Judge0Language, program_files, served
from edge.judge0_rules import (
    Judged,
    Plan,
    execution_id_of,
    flag,
    judged_by_engine,
    plan,
    render,
    token_of,
)
from edge.judge0_runs import judged_view, judgement_payload, request_of
from edge.judgements import PENDING
from edge.runner_versions import RunnerVersions

MAX_OWNED = 1000
MAX_PER_PAGE = 100


class Judge0:
    def __init__(self, api: Api, versions: RunnerVersions) -> None:
        self.api = api
        self.bus = api.bus
        self.runner_versions = versions

    def routes(self) -> list[Route]:
        """Paths under the prefix (the app mounts them there)."""
        return [Route(path, guarded(handler), methods=methods) for path, handler, methods in (
            ("/submissions", self.submissions, ["GET", "POST"]),
            ("/submissions/batch", self.batch, ["GET", "POST"]),
            ("/submissions/{token}", self.one, ["GET", "DELETE"]),
            ("/languages", self.languages, ["GET"]),
            ("/languages/all", self.all_languages, ["GET"]),
            ("/languages/{id}", self.language, ["GET"]),
            ("/statuses", self.statuses, ["GET"]),
            ("/about", self.about, ["GET"]),
            ("/version", self.version, ["GET"]),
            ("/config_info", self.config_info, ["GET"]),
            ("/workers", self.workers, ["GET"]),
        )]

    # --- callers --------------------------------------------------------------------------------

    async def caller(self, request: Request, cost: int = 1) -> Principal:
        """The caller by ``X-Auth-Token`` (Judge0's header) or ``Authorization: Bearer``."""
        header = request.headers.get("authorization")
        token = request.headers.get("x-auth-token")
        if token and not header:
            header = f"Bearer {token}"
        try:
            principal = self.api.keys.authenticate(header)
        except AuthError as exc:
            raise error(exc.status, str(exc)) from None
        await self.api.charge(principal, cost)
        return principal

    def runtimes(self) -> set[str]:
        return set(self.api.catalog.names())

    async def versions(self) -> dict[str, str]:
        return await self.runner_versions.get()

    # --- submissions ----------------------------------------------------------------------------

    async def submissions(self, request: Request) -> Response:
        return await (self.create(request) if request.method == "POST" else self.index(request))

    async def create(self, request: Request) -> Response:
        principal = await self.caller(request)
        fields = fields_of(request)
        base64_encoded = flag(request.query_params.get("base64_encoded"))
        wait = request.query_params.get("wait") == "true"
        body = await read_body(request)
        try:
            submission = j.submission_request_decoder.decode(body)
        except msgspec.DecodeError as exc:
            raise error(400, f"the body is not a Judge0 submission: {exc}") from None
        token = await self.accept(principal, submission, base64_encoded)
        if not wait:
            return JSONResponse({"token": token}, 201)
        execution_id = execution_id_of(token)
        record = await self.bus.records.get(execution_id)
        if record is None:
            raise error(503, "the submission was accepted but cannot be read yet")
        result = await self.api.wait_for(record, float(self.api.settings.wait_max_s))
        return await self.answer(token, result, base64_encoded, fields, 201)

    async def accept(self, principal: Principal, submission: j.SubmissionRequest,
                     base64_encoded: bool) -> str:
        """Validate, keep the request and queue the execution (``Api.accept``); its token.
        Raises Judge0Error (422 with the errors by field)."""
        planned, errors = plan(submission, base64_encoded, self.runtimes(), time.time())
        files: list[SourceFile] = []
        if planned and submission.additional_files:
            try:
                taken = {LAUNCHER, planned.language.source_file or LAUNCHER}
                files = extract(submission.additional_files, taken)
            except ZipProblem as exc:
                errors["additional_files"] = [str(exc)]
        if planned is None or errors:
            raise Judge0Error(422, errors)
        stored = msgspec.structs.replace(planned.stored, additional_files=len(files))
        spec = self.execution_request(planned, files, principal)
        execution_id = uuid.uuid4().hex
        await self.bus.executions.put(subjects.judge0_key(execution_id),
                                      msgspec.json.encode(stored))
        try:
            if judged_by_engine(stored):
                await self.judge(principal, planned, spec, execution_id)
            else:
                await self.api.accept(principal, spec, execution_id,
                                      compile_options=tuple(planned.compile_options))
        except ApiProblem as exc:
            await self.bus.executions.delete(subjects.judge0_key(execution_id))
            await self.bus.executions.delete(subjects.judgement_key(execution_id))
            if exc.status == 400:  # the program itself: a field's error, as Judge0 has it
                raise Judge0Error(422, {field_of(exc.code): [exc.message]}) from None
            raise
        await self.remember(principal, token_of(execution_id))
        return token_of(execution_id)

    def execution_request(self, planned: Plan, files: list[SourceFile],
                          principal: Principal) -> ExecutionRequest:
        """Our execution for a Judge0 submission, validated as any request body is."""
        language = planned.language
        program = program_files(language, planned.stored.source_code)
        stored = planned.stored
        payload = {
            "language": language.runtime,
            "files": msgspec.to_builtins([*program, *files]),
            "mainFile": program[0].name,
            "stdin": stored.stdin or "",
            "args": planned.args,
            "limits": msgspec.to_builtins(planned.limits),
            "callbackUrl": stored.callback_url,
        }
        try:
            return msgspec.convert(payload, ExecutionRequest)
        except msgspec.ValidationError as exc:
            raise Judge0Error(422, {field_of(str(exc)): [str(exc)]}) from None

    async def judge(self, principal: Principal, planned: Plan, spec: ExecutionRequest,
                    execution_id: str) -> None:
        """Queue a submission with ``expected_output`` or several runs as a judgement
        (edge/judge0_runs.py); raises ApiProblem as ``Api.accept`` does."""
        stored = planned.stored
        program = msgspec.to_builtins(spec)
        payload = judgement_payload(
            {name: program[name] for name in ("language", "files", "mainFile", "limits",
                                              "callbackUrl") if name in program},
            stored.number_of_runs, stored.stdin or "", stored.expected_output)
        try:
            job = judgement_job(request_of(payload), principal.owner, self.api.catalog,
                                execution_id, principal.isolation)
        except msgspec.ValidationError as exc:  # the code names the field (field_of)
            raise ApiProblem(400, str(exc), str(exc)) from None
        except NotRunnable as exc:
            raise ApiProblem(400, exc.code, exc.message) from None
        job = msgspec.structs.replace(job, args=spec.args, report_runs=True,
                                      compile_options=list(planned.compile_options))
        if spec.callback_url and (problem := self.api.policy.url_problem(spec.callback_url)):
            raise ApiProblem(400, "invalid_callback_url", problem)
        record = ExecutionRecord(execution_id, principal.owner, job.language, job.submitted_at,
                                 None, spec.callback_url)
        await self.bus.executions.put(subjects.judgement_key(execution_id), PENDING)
        await self.api.submit(principal, record, job)

    async def remember(self, principal: Principal, token: str) -> None:
        def add(value: bytes | None) -> bytes:
            owned = j.owned_decoder.decode(value) if value else j.Owned()
            return msgspec.json.encode(j.Owned([token, *owned.tokens][:MAX_OWNED]))
        await self.bus.executions.change(subjects.judge0_owned_key(principal.owner), add)

    async def found(self, principal: Principal, token: str
                    ) -> tuple[ExecutionRecord, j.StoredSubmission] | None:
        """A Judge0 submission of this caller, or None."""
        execution_id = execution_id_of(token)
        if len(execution_id) != 32 or any(c not in "0123456789abcdef" for c in execution_id):
            return None
        record = await self.bus.records.get(execution_id)
        if record is None or record.owner != principal.owner:
            return None
        data = await self.bus.executions.get(subjects.judge0_key(execution_id))
        return (record, j.stored_decoder.decode(data)) if data else None

    async def submission(self, record: ExecutionRecord, stored: j.StoredSubmission,
                         base64_encoded: bool, result: ExecutionResult | None = None
                         ) -> j.Submission:
        result = result or await self.api.result(record)
        language = BY_ID[stored.language_id]
        version = (await self.versions()).get(language.runtime)
        judged = await self.judged(stored, result) if judged_by_engine(stored) else None
        return render(token_of(record.execution_id), stored, result, language.name(version),
                      base64_encoded, judged)

    async def judged(self, stored: j.StoredSubmission, result: ExecutionResult
                     ) -> Judged | None:
        """The engine's view of a judged submission; None until it is judged, or when it never
        was (cancelled, expired, its runner failed: the execution's verdict says it), or when
        its result is missing though the execution completed (``render`` says 13 then)."""
        if result.status != "completed" or result.verdict != "ok":
            return None
        data = await self.bus.executions.get(subjects.judgement_key(result.id))
        if not data or data == PENDING:
            return None
        return judged_view(result, judgement_result_decoder.decode(data))

    async def answer(self, token: str, result: ExecutionResult, base64_encoded: bool,
                     fields: tuple[str, ...], status: int = 200) -> Response:
        record = await self.bus.records.get(result.id)
        data = await self.bus.executions.get(subjects.judge0_key(result.id))
        if record is None or data is None:
            raise error(404, "Not Found")
        submission = await self.submission(record, j.stored_decoder.decode(data),
                                           base64_encoded, result)
        return JSONResponse(j.select(submission, fields), status)

    async def one(self, request: Request) -> Response:
        principal = await self.caller(request)
        fields = fields_of(request)
        base64_encoded = flag(request.query_params.get("base64_encoded"))
        found = await self.found(principal, request.path_params["token"])
        if found is None:
            raise error(404, "Not Found")
        record, stored = found
        if request.method == "DELETE":
            return await self.delete(record, stored, fields)
        submission = await self.submission(record, stored, base64_encoded)
        return JSONResponse(j.select(submission, fields))

    async def delete(self, record: ExecutionRecord, stored: j.StoredSubmission,
                     fields: tuple[str, ...]) -> Response:
        """Judge0 deletes only finished submissions, and answers base64 (the data is gone)."""
        submission = await self.submission(record, stored, True)
        if submission.status.id in (1, 2):
            raise error(400, "submission cannot be deleted because its status is "
                        f"{submission.status.id} ({submission.status.description})")
        execution_id = record.execution_id
        for key in (subjects.judge0_key(execution_id), subjects.output_key(execution_id),
                    subjects.webhook_key(execution_id), subjects.judgement_key(execution_id)):
            await self.bus.executions.delete(key)
        await self.bus.records.delete(record)  # and its entry in the key's list
        return JSONResponse(j.select(submission, fields))

    async def index(self, request: Request) -> Response:
        """``GET /submissions``: this key's own, newest first."""
        principal = await self.caller(request)
        fields = fields_of(request)
        base64_encoded = flag(request.query_params.get("base64_encoded"))
        page = integer(request.query_params.get("page"), 1)
        per_page = integer(request.query_params.get("per_page"), j.PER_PAGE)
        if page <= 0:
            raise error(400, f"invalid page: {page}")
        if per_page < 0:
            raise error(400, f"invalid per_page: {per_page}")
        per_page = min(per_page, MAX_PER_PAGE)
        data = await self.bus.executions.get(subjects.judge0_owned_key(principal.owner))
        tokens = j.owned_decoder.decode(data).tokens if data else []
        shown = []
        for token in tokens[(page - 1) * per_page: page * per_page]:
            found = await self.found(principal, token)
            if found is not None:
                shown.append(j.select(await self.submission(*found, base64_encoded), fields))
        pages = -(-len(tokens) // per_page) if per_page else 0
        meta = {"current_page": page, "next_page": page + 1 if page < pages else None,
                "prev_page": page - 1 if page > 1 else None, "total_pages": pages,
                "total_count": len(tokens)}
        return JSONResponse({"submissions": shown, "meta": meta})

    async def batch(self, request: Request) -> Response:
        if request.method == "GET":
            return await self.batch_show(request)
        principal = await self.caller(request, cost=0)
        base64_encoded = flag(request.query_params.get("base64_encoded"))
        try:
            submissions = j.batch_request_decoder.decode(await read_body(request)).submissions
        except msgspec.DecodeError as exc:
            raise error(400, f"the body is not a Judge0 batch: {exc}") from None
        count_problem(len(submissions or []))
        await self.api.charge(principal, len(submissions or []))
        answers: list[dict[str, Any]] = []
        for submission in submissions or []:
            try:
                answers.append({"token": await self.accept(principal, submission,
                                                           base64_encoded)})
            except Judge0Error as exc:
                if exc.status != 422:
                    raise
                answers.append(exc.body)
        accepted = any("token" in answer for answer in answers)
        return JSONResponse(answers, 201 if accepted else 422)

    async def batch_show(self, request: Request) -> Response:
        principal = await self.caller(request)
        fields = fields_of(request)
        base64_encoded = flag(request.query_params.get("base64_encoded"))
        raw = request.headers.get("tokens") or request.query_params.get("tokens") or ""
        tokens = [token for token in raw.strip().split(",") if token]
        count_problem(len(tokens))
        shown: list[dict[str, Any] | None] = []
        for token in tokens:
            found = await self.found(principal, token)
            shown.append(None if found is None else
                         j.select(await self.submission(*found, base64_encoded), fields))
        return JSONResponse({"submissions": shown})

    # --- languages, statuses, configuration ------------------------------------------------------

    async def languages(self, request: Request) -> Response:
        await self.caller(request)
        versions = await self.versions()
        return JSONResponse(msgspec.to_builtins([
            language.ref(versions.get(language.runtime))
            for language in served(self.runtimes())]))

    async def all_languages(self, request: Request) -> Response:
        await self.caller(request)
        versions = await self.versions()
        listed = [language.listed(versions.get(language.runtime))
                  for language in served(self.runtimes())]
        return JSONResponse(msgspec.to_builtins(sorted(listed, key=lambda x: x.name)))

    async def language(self, request: Request) -> Response:
        await self.caller(request)
        language = self.language_by(request.path_params["id"])
        version = (await self.versions()).get(language.runtime)
        return JSONResponse(msgspec.to_builtins(language.info(version)))

    def language_by(self, raw: str) -> Judge0Language:
        language = BY_ID.get(int(raw)) if raw.isdigit() else None
        if language is None or language.runtime not in self.runtimes():
            raise error(404, "Not Found")
        return language

    async def statuses(self, request: Request) -> Response:
        await self.caller(request)
        return JSONResponse([{"id": k, "description": v} for k, v in j.STATUSES.items()])

    async def about(self, request: Request) -> Response:
        await self.caller(request)
        return JSONResponse({
            "version": j.VERSION,
            "homepage": "https://github.com/judge0/judge0 (compatible API of CodeRunner)",
            "source_code": "https://github.com/judge0/judge0",
            "maintainer": "CodeRunner (docs/compat.md)",
        })

    async def version(self, request: Request) -> Response:
        await self.caller(request)
        return PlainTextResponse(j.VERSION)

    async def config_info(self, request: Request) -> Response:
        await self.caller(request)
        return JSONResponse(config_info(self.api.settings.wait_max_s > 0,
                                        self.api.settings.webhook_max_attempts,
                                        float(self.api.settings.webhook_timeout_s)))

    async def workers(self, request: Request) -> Response:
        await self.caller(request)
        view = await self.bus.jobs.stats()
        if view is None:
            raise error(503, "no dispatcher answered")
        queue = view.queue
        working = queue.running
        return JSONResponse([{
            "queue": j.VERSION, "size": queue.depth, "available": queue.capacity,
            "idle": max(0, queue.capacity - working), "working": working, "paused": 0,
            "failed": view.failed,
        }])

    async def callback_body(self, record: ExecutionRecord) -> bytes | None:
        """A Judge0 submission's callback body (base64, the default fields, as Judge0 PUTs
        it), or None when the execution is not a Judge0 submission."""
        data = await self.bus.executions.get(subjects.judge0_key(record.execution_id))
        if data is None:
            return None
        submission = await self.submission(record, j.stored_decoder.decode(data), True)
        return msgspec.json.encode(j.select(submission, j.DEFAULT_FIELDS))
