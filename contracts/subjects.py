"""Every NATS subject, JetStream stream and consumer name. No subject string is written elsewhere.

Flow of one execution::

    edge ──jobs.submit.p<N>──▶ [JOBS] ──▶ dispatcher ──seats.<runner>.<seat>──▶ [SEATS] ──▶ runner
        (or ──jobs.run.<runner>──▶ [RUN] ──▶ a runner that announces no seats)
    dispatcher ──released.<id>──▶ every dispatcher and edge (core NATS: the seat another gave
        a job)
    edge ──seats.<runner>.<seat>──▶ [SEATS] ──▶ runner, then ──released.<id>──▶ every
        dispatcher and edge (a plain job put straight on a free seat while none waits)
    dispatcher ──placement.state──▶ every edge (core NATS: whether a job waits)
    runner ──exec.events.<id>──▶ edge (core NATS)
    runner ──runner.<runner>.completed.<id>──▶ dispatcher (request-reply: checks the job was
        given to that runner) ──exec.completed.<id>──▶ [COMPLETIONS] ──▶ edge, subscribers
    edge ──exec.control.<id>──▶ runner (core NATS)
    dispatcher ──slots.<id>──▶ [SLOTS] (the concurrency cap; purged on completion)
        and ──▶ every dispatcher (core NATS: which runner another dispatcher gave a job)
    runner ──$KV.runners.<runner>──▶ [KV runners] ──▶ dispatcher (heartbeats), edge (runtimes)
    edge ──stats.queue──▶ every dispatcher (request-reply, core NATS)
    edge ──notebook.control.<key>──▶ the runner holding the kernel (request-reply, core NATS)
    edge ──lsp.start.<server>──▶ a runner that runs it ──lsp.out.<key>──▶ edge (language servers)
    edge ──lsp.in.<key>──▶ the runner holding that language server (request-reply, core NATS)

KV buckets (each a stream ``KV_<bucket>``): ``runners``, ``placements``, ``executions``,
``limits``, ``workspaces``; one object store, ``workspace-files``; below, each name says who
writes and who reads it.
"""

from __future__ import annotations

import hashlib
import re

PRIORITIES = (2, 1, 0)
"""Highest first: WebSocket 2, HTTP API 1, notebooks and background 0."""
PRIORITY_WEBSOCKET = 2
PRIORITY_API = 1
PRIORITY_BACKGROUND = 0

JOBS_STREAM = "JOBS"
"""Submitted jobs waiting for the dispatcher. WorkQueue retention, file storage, de-duplicated
by ``Nats-Msg-Id`` = execution id. Published by the edge (JetStream publish, acked)."""
JOBS_SUBJECTS = "jobs.submit.*"


def job_submit(priority: int) -> str:
    """Edge publishes; the dispatcher consumes with one durable pull consumer per priority."""
    return f"jobs.submit.p{priority}"


def dispatcher_consumer(priority: int) -> str:
    """Durable pull consumer shared by every dispatcher, explicit ack."""
    return f"dispatcher-p{priority}"


def consumer_next(stream: str, consumer: str) -> str:
    """JetStream's pull request subject of a consumer: the dispatcher's long polls on the
    queue (``dispatcher/long_poll.py``); runners pull their own consumer through nats-py."""
    return f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"


RUN_STREAM = "RUN"
"""Jobs the dispatcher released to runners that announce no seats (older ones; see
``SEATS_STREAM`` for the others), each to one runner: WorkQueue retention, file storage. A job
is published on its runner's subject once the dispatcher has chosen the runner (free capacity,
warm containers of its language, the runner holding its session or notebook) and taken its
global concurrency slot; de-duplicated by ``Nats-Msg-Id`` = execution id (a job moved off a
vanished runner gets ``<executionId>.<attempt>``)."""
RUN_SUBJECTS = "jobs.run.>"
ATTEMPT_HEADER = "Coderunner-Attempt"
"""How many times a job was handed out before this message (0 on the first release): a job
moved off a vanished runner carries its earlier deliveries, so ``MAX_DELIVER`` bounds them all."""


def runner_token(runner_id: str) -> str:
    """A runner id as one subject token and consumer name (dots and wildcards replaced)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", runner_id)


def run_for(runner_id: str) -> str:
    """The dispatcher publishes a released job on its runner's subject."""
    return f"jobs.run.{runner_token(runner_id)}"


SEATS_STREAM = "SEATS"
"""Jobs released to runners that announce seats (``RunnerInfo.seats``), by a dispatcher or, while
no job waits, by an edge (``PLACEMENT_STATE``), one subject per seat of each runner (``seat``):
WorkQueue retention, file storage, at most one message per subject, and a publish to a subject
that holds one is refused ("discard new per subject"). So a seat holds one job at a time
whatever the dispatchers and edges decide at once: a runner is never given more
jobs than its seats. The job leaves its seat when the dispatcher relaying its completion purges
the seat up to the job's message (before it publishes the completion, so a dispatcher hearing
the completion finds the seat free), or when the runner acks it, or when a dispatcher moves it
off a silent runner. De-duplicated by ``Nats-Msg-Id`` like ``RUN``. A stream of its own: the
per-subject limit cannot be set on ``RUN`` in place (its runner subjects hold many jobs)."""
SEATS_SUBJECTS = "seats.>"
SEAT_HEADER = "Coderunner-Seat"
"""On a runner's completion request for a job it took from a seat: ``<seat> <stream sequence>``
of the job's message, which the relaying dispatcher purges (only on that runner's own subject)."""


def seat(runner_id: str, number: int) -> str:
    """The dispatcher publishes a released job on one of its runner's seats (0 to its capacity
    less one), or an edge a plain job while none waits (``PLACEMENT_STATE``)."""
    return f"seats.{runner_token(runner_id)}.{number}"


def seat_number(subject: str) -> int | None:
    """The seat of a ``seat`` subject; None for another subject (a job on RUN)."""
    prefix, _, number = subject.rpartition(".")
    return int(number) if prefix.startswith("seats.") and number.isdigit() else None


def seats_of(runner_id: str) -> str:
    """Every seat of one runner: its consumer's filter on ``SEATS``."""
    return f"seats.{runner_token(runner_id)}.*"


def released(execution_id: str) -> str:
    """A dispatcher that released a job on a seat, or an edge that put one there, tells every
    dispatcher and edge (core NATS, at most once; ``<runner token> <seat>``): the seat counts as
    held there at once. Runners may not publish it on a secured NATS."""
    return f"released.{execution_id}"


RELEASED_ALL = "released.*"


def execution_of_release(subject: str) -> str:
    """The execution id of a ``released`` subject."""
    return subject.removeprefix("released.")


RUNNER_CONSUMER_PREFIX = "runner-"


def runner_consumer(runner_id: str) -> str:
    """A runner's durable pull consumer on RUN, filtered to ``run_for(runner_id)``, and on
    SEATS, filtered to ``seats_of(runner_id)`` (the same name on each stream): explicit
    ack, in-progress acks while a job runs, ``max_ack_pending`` = the runner's capacity. The
    dispatcher creates it when the runner's first heartbeat arrives; when the runner goes
    silent, a dispatcher drains it (the jobs go to other runners) and deletes it."""
    return f"{RUNNER_CONSUMER_PREFIX}{runner_token(runner_id)}"


def is_runner_consumer(consumer: str) -> bool:
    """Whether a consumer on RUN is a runner's (the dispatcher lists them to find silent ones)."""
    return consumer.startswith(RUNNER_CONSUMER_PREFIX)


def runner_completed(runner_id: str, execution_id: str) -> str:
    """A runner asks for its completion to be published (request-reply, core NATS, with the
    job's seat in ``SEAT_HEADER`` when it came from one): a dispatcher (queue group
    ``COMPLETION_RELAY``) checks that the job was given to this runner (its release heard, or
    its message on the seat named, or its slot), empties the seat, publishes it on
    ``completed(execution_id)`` and answers ``ok``; otherwise it answers a refusal. A secured
    NATS lets a runner publish only under its own ``runner.<runner>.``."""
    return f"runner.{runner_token(runner_id)}.completed.{execution_id}"


RUNNER_COMPLETIONS = "runner.*.completed.*"


def runner_drain(runner_id: str) -> str:
    """Request-reply (core NATS): ``coderunner runner drain`` asks a runner to take no more
    jobs; it answers a ``DrainReply`` (jobs still running), again on each ask."""
    return f"runner.{runner_token(runner_id)}.drain"

COMPLETION_RELAY = "completion-relay"
COMPLETION_RELAYED = b"ok"
"""The dispatcher's answer to a completion it published; anything else is why it did not."""


def runner_and_execution(subject: str) -> tuple[str, str]:
    """The runner token and execution id of a ``runner_completed`` subject."""
    _, runner, _, execution_id = subject.split(".", 3)
    return runner, execution_id


def runner_inbox(runner_id: str) -> str:
    """A runner's inbox prefix: replies to it (JetStream's included) come under it alone, so
    a secured NATS lets no runner read another's (or anyone else's) replies."""
    return f"_INBOX_runner_{runner_token(runner_id)}"


JANITOR_INBOX = "_INBOX_janitor"
"""The janitors' inbox prefix (they read the runners bucket and nothing else)."""


def runner_permissions(runner_id: str) -> dict[str, object]:
    """What a runner may publish and subscribe to on a secured NATS (infra/deploy): take jobs
    from its own consumer, heartbeat its own key, store its jobs' output, send events, ask for
    its completions, answer control, notebook and session requests, read stored problems' tests.
    Not: another runner's jobs, a completion of its own making, the ``limits`` bucket, an
    execution's record."""
    token = runner_token(runner_id)
    consumer = runner_consumer(runner_id)
    return {
        "publish": {"allow": [
            f"$JS.API.CONSUMER.INFO.{RUN_STREAM}.{consumer}",
            consumer_next(RUN_STREAM, consumer),
            f"$JS.ACK.{RUN_STREAM}.{consumer}.>",
            f"$JS.API.CONSUMER.INFO.{SEATS_STREAM}.{consumer}",
            consumer_next(SEATS_STREAM, consumer),
            f"$JS.ACK.{SEATS_STREAM}.{consumer}.>",
            f"$JS.API.DIRECT.GET.{SEATS_STREAM}.{seats_of(runner_id)}",
            f"$JS.API.STREAM.MSG.GET.{SLOTS_STREAM}",
            f"$JS.API.STREAM.INFO.{kv_stream(RUNNERS_BUCKET)}",
            f"$KV.{RUNNERS_BUCKET}.{runner_id}",
            f"$JS.API.STREAM.INFO.{kv_stream(EXECUTIONS_BUCKET)}",
            f"$KV.{EXECUTIONS_BUCKET}.{running_key('*')}",
            f"$KV.{EXECUTIONS_BUCKET}.{output_key('*')}",
            f"$KV.{EXECUTIONS_BUCKET}.{judgement_key('*')}",
            f"$JS.API.STREAM.MSG.GET.{COMPLETIONS_STREAM}",
            *_object_store_reads(PROBLEMS_STORE),
            events("*"),
            lsp_out("*"),
            f"runner.{token}.completed.*",
        ]},
        "subscribe": {"allow": [f"{runner_inbox(runner_id)}.>", control("*"),
                                notebook_control("*"), runner_drain(runner_id),
                                SESSION_CONTROL, lsp_start("*"), lsp_in("*")]},
        "allow_responses": True,
    }


def _object_store_reads(store: str) -> list[str]:
    """Reading an object store's objects (nats-py: its stream's info, the object's meta by
    message get, its chunks through an ordered consumer delivered to the reader's inbox, whose
    stream it looks up by subject: the stream names, no more)."""
    stream = f"OBJ_{store}"
    return ["$JS.API.STREAM.NAMES", f"$JS.API.STREAM.INFO.{stream}",
            f"$JS.API.STREAM.MSG.GET.{stream}",
            f"$JS.API.DIRECT.GET.{stream}", f"$JS.API.DIRECT.GET.{stream}.>",
            f"$JS.API.CONSUMER.CREATE.{stream}", f"$JS.API.CONSUMER.CREATE.{stream}.>",
            f"$JS.API.CONSUMER.INFO.{stream}.>", f"$JS.API.CONSUMER.DELETE.{stream}.>"]


def janitor_permissions() -> dict[str, object]:
    """A janitor only lists the runners bucket's keys (which runners are alive)."""
    stream = kv_stream(RUNNERS_BUCKET)
    return {
        "publish": {"allow": [f"$JS.API.STREAM.INFO.{stream}",
                              f"$JS.API.CONSUMER.CREATE.{stream}",
                              f"$JS.API.CONSUMER.CREATE.{stream}.>",
                              f"$JS.API.CONSUMER.INFO.{stream}.>",
                              f"$JS.API.CONSUMER.DELETE.{stream}.>"]},
        "subscribe": {"allow": [f"{JANITOR_INBOX}.>"]},
    }


SLOTS_STREAM = "SLOTS"
"""The global concurrency cap, shared by every dispatcher: one message on ``slots.<executionId>``
per released job that has not completed, at most ``MAX_CONCURRENT_SESSIONS`` (``max_msgs``,
discard new: the publish that would exceed it is refused). The dispatcher that released a job
purges its slot when the completion comes; any dispatcher purges slots of completed jobs it
finds (one whose dispatcher died)."""
SLOTS_SUBJECTS = "slots.*"
"""Also followed by every dispatcher with a plain subscription (core NATS, at most once: a
JetStream publish reaches plain subscribers too, a refused one as well): another dispatcher's
job counts on its runner from the moment its slot is taken until its completion, not from the
runner's next heartbeat."""


def slot(execution_id: str) -> str:
    """The dispatcher that releases a job publishes its slot (JetStream), holding the
    ``runner_token`` of the runner it gave the job to: before the release when a cap is set,
    with it when not (a slot is never refused then; the completion relay looks again for a
    slot not stored yet). With no cap set, a job on a seat takes no slot (its seat holds it)."""
    return f"slots.{execution_id}"


def execution_of_slot(subject: str) -> str:
    """The execution id of a ``slot`` subject (the dispatcher reads the SLOTS stream's)."""
    return subject.removeprefix("slots.")


COMPLETIONS_STREAM = "COMPLETIONS"
"""Completion events, kept for a day (limits retention, file storage), de-duplicated by
execution id so that one execution has exactly one completion."""
COMPLETIONS_SUBJECTS = "exec.completed.*"


def completed(execution_id: str) -> str:
    """Runner (dispatcher for expired/cancelled) publishes via JetStream; edge and others read."""
    return f"exec.completed.{execution_id}"


def events(execution_id: str) -> str:
    """Runner publishes ``status`` and ``output`` events (core NATS, at most once) for the edge."""
    return f"exec.events.{execution_id}"


def control(execution_id: str) -> str:
    """Edge sends stdin / eof / stop (core NATS) as a request; the runner running the job
    subscribes and answers a ``ControlReply`` (taken, or refused: input past its window). The
    dispatcher also listens, for ``stop`` on a job still queued, and never answers. When a
    socket closes, the edge publishes ``eof`` without waiting for an answer."""
    return f"exec.control.{execution_id}"


def max_deliveries_advisory(stream: str, consumer: str = "*") -> str:
    """Published by nats-server when a message reached ``max_deliver``; the dispatcher listens
    (to every runner's consumer) and ends such a job with ``internal_error``."""
    return f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.{consumer}"


COMPLETIONS_MAX_AGE_S = 86_400
DUPLICATE_WINDOW_S = 600
"""Publish de-duplication window by ``Nats-Msg-Id`` (execution id) for every stream."""


def everything_of(execution_id: str) -> str:
    """One subscription for an execution's events and completion, in publication order
    (two subscriptions would be delivered by two tasks and could reorder). It also matches
    ``exec.control.<id>``, which watchers skip."""
    return f"exec.*.{execution_id}"


def is_completion(subject: str) -> bool:
    return subject.startswith("exec.completed.")


def execution_of_completion(subject: str) -> str:
    """The execution id of a ``completed`` subject (the edge's webhook deliverer reads it)."""
    return subject.removeprefix("exec.completed.")


def is_event(subject: str) -> bool:
    return subject.startswith("exec.events.")


RUNNERS_BUCKET = "runners"
"""JetStream KV bucket: key = runner id, value = ``RunnerInfo`` JSON. Each runner puts its own
entry every ``RUNNER_HEARTBEAT_S``; entries older than ``RUNNER_TTL_S`` expire, so a runner
that disappears drops out. The dispatcher creates the bucket; the edge reads it to list the
runtimes this installation has."""
RUNNER_HEARTBEAT_S = 3
RUNNER_SILENT_S = 10
"""A runner whose heartbeat is older than this gets no new jobs, and the jobs waiting for it go
to other runners (a runner that stops cleanly deletes its entry: at once)."""
RUNNER_TTL_S = 15


def heartbeats() -> str:
    """Every put and delete in the runners bucket, as core NATS messages (the dispatcher
    follows the fleet with a plain subscription, which survives reconnects)."""
    return f"$KV.{RUNNERS_BUCKET}.>"


def runner_of_heartbeat(subject: str) -> str:
    """The runner id of a ``heartbeats`` message's subject (its key in the runners bucket)."""
    return subject.removeprefix(f"$KV.{RUNNERS_BUCKET}.")


def kv_stream(bucket: str) -> str:
    """The JetStream stream that holds a KV bucket: the dispatcher updates its replicas, the
    edge asks whether it exists (``EXECUTIONS_BUCKET``: the queue is set up)."""
    return f"KV_{bucket}"


def kv_subjects(bucket: str, key_filter: str) -> str:
    """The stream subjects of a KV bucket's keys matching ``key_filter`` (the edge counts the
    keys a listing must read: ``ExecutionsBucket.values``)."""
    return f"$KV.{bucket}.{key_filter}"


REPLICAS_PROBE_STREAM = "CODERUNNER_PROBE"
"""A one-message memory stream a starting dispatcher creates and deletes at once, to learn how
many replicas the cluster allows. Nobody publishes on ``REPLICAS_PROBE_SUBJECT``."""
REPLICAS_PROBE_SUBJECT = "coderunner.probe"


PLACEMENTS_BUCKET = "placements"
"""JetStream KV bucket: which runner holds an owner's session (``session.<digest>``: its
private network, database and kept containers) or a notebook's kernel (``notebook.<key>``).
Put by the dispatcher when it first sends such a job to a runner, read by every dispatcher, so
the owner's later runs and cells go to the same runner while it lives. Kept a day."""


def session_placement(owner: str) -> str:
    return f"session.{owner_digest(owner)}"


def notebook_placement(key: str) -> str:
    return f"notebook.{key}"

EXECUTIONS_BUCKET = "executions"
"""JetStream KV bucket (file storage, entries kept ``RESULTS_MAX_AGE_S``) for the HTTP API:

- ``<id>``: the ``ExecutionRecord``, put by the edge when it accepts an API execution;
- ``<id>.run``: put by the runner when a ``keepOutput`` job starts running;
- ``<id>.out``: the ``StoredOutput``, put by the runner before it publishes the completion;
- ``<id>.hook``: the ``WebhookState``, put by the edge's webhook deliverer;
- ``own.<owner sha256>.<submitted ms>.<id>``: the ``ExecutionRecord`` again, put and deleted
  with ``<id>`` by the edge, so that it lists an owner's executions (``owned_executions``)
  without reading the whole bucket;
- ``idem.<sha256>``: an ``Idempotency-Key``'s first execution, created (never overwritten) by
  the edge;
- ``<id>.judgement``: a judgement's ``contracts.judging.JudgementResult``, put by the runner
  before it publishes the completion;
- ``<id>.judge0``: a Judge0 submission's request (``contracts.judge0.StoredSubmission``), and
  ``judge0.<sha256>`` an API key's Judge0 tokens (``Owned``), put by the edge.

The completion itself stays on the COMPLETIONS stream."""
RESULTS_MAX_AGE_S = 86_400


def record_key(execution_id: str) -> str:
    return execution_id


def owned_key(owner: str, submitted_at: float, execution_id: str) -> str:
    """An execution's entry in its owner's list (``EXECUTIONS_BUCKET``)."""
    return f"{_owned(owner)}.{round(submitted_at * 1000)}.{execution_id}"


def owned_executions(owner: str) -> str:
    """The key filter of every ``owned_key`` of one owner."""
    return f"{_owned(owner)}.>"


def _owned(owner: str) -> str:
    return f"own.{owner_digest(owner)}"


def running_key(execution_id: str) -> str:
    return f"{execution_id}.run"


def output_key(execution_id: str) -> str:
    return f"{execution_id}.out"


def webhook_key(execution_id: str) -> str:
    return f"{execution_id}.hook"


def judgement_key(execution_id: str) -> str:
    return f"{execution_id}.judgement"


PROBLEMS_STORE = "problems"
"""JetStream object store (file storage, no expiry) of stored problems (docs/judging.md): each
test's input and answer as an object named by its SHA-256 (hex), put once by the edge; and each
problem as ``problem_object``, its ``contracts.judging.StoredProblem``. The edge creates it with
the first problem; the runner judging a job that names stored tests reads their objects."""


def problem_object(owner: str, problem_id: str) -> str:
    """A problem's object: under its owner (another owner's id names nothing)."""
    return f"problem.{owner_digest(owner)}.{problem_id}"


def idempotency_key(digest: str) -> str:
    return f"idem.{digest}"


def judge0_key(execution_id: str) -> str:
    return f"{execution_id}.judge0"


def judge0_owned_key(owner: str) -> str:
    return f"judge0.{owner_digest(owner)}"


WEBHOOK_CONSUMER = "webhooks"
"""Durable pull consumer on COMPLETIONS shared by every edge's webhook deliverer (created by
the first edge, new completions only). A failed delivery is nak'ed with a delay, so JetStream holds
the retry schedule and a retry survives an edge restart; ``max_deliver`` bounds the attempts."""

QUEUE_STATS = "stats.queue"
"""Request-reply (core NATS): every dispatcher answers with its ``QueueStats``."""

PLACEMENT_STATE = "placement.state"
"""Each dispatcher tells every edge (core NATS, ``PlacementState``) whether a job waits in its
queue, every ``PLACEMENT_STATE_EVERY_S`` and at once when that changes. An edge puts a job
straight on a free seat (``seat``, then ``released``) only while every dispatcher it heard
within ``PLACEMENT_STATE_KEPT_S`` says none waits and no cap is set; an edge that hears none
(older dispatchers) leaves every job to the queue."""
PLACEMENT_STATE_EVERY_S = 1.0
PLACEMENT_STATE_KEPT_S = 3.0


def notebook_key(owner: str, notebook_id: str) -> str:
    """A notebook's identity across the platform: its owner's and its own id, hashed (a
    subject token that names neither, and that another owner cannot aim at)."""
    return hashlib.sha256(f"{owner}\n{notebook_id}".encode()).hexdigest()[:32]


def notebook_control(key: str) -> str:
    """Request-reply (core NATS): interrupt, restart or close a kernel. Only the runner holding
    the kernel subscribes, so no responder means no kernel is running."""
    return f"notebook.control.{key}"


LSP_STARTERS = "lsp-starters"
"""The queue group of the runners that answer ``lsp_start``: one of them starts the server."""


def lsp_start(server: str) -> str:
    """Request-reply (core NATS): the edge asks for a language server (``contracts.
    language_servers.LspStart``, for ``initialize``); every runner that has the server's image
    subscribes in queue group ``LSP_STARTERS``, so one answers (``LspReply``) and holds it from
    then on. No responder: no runner of this platform runs that server."""
    return f"lsp.start.{server}"


def lsp_in(key: str) -> str:
    """Request-reply (core NATS): the edge passes a browser's message on, or a stop
    (``LspCommand``); only the runner holding server ``key`` subscribes and answers an
    ``LspReply`` once the message is queued, so no responder means no such server runs."""
    return f"lsp.in.{key}"


def lsp_out(key: str) -> str:
    """The runner holding server ``key`` publishes its messages and states (core NATS, at most
    once, ready-encoded ``lsp`` and ``lsp_state`` socket events); the edge whose socket started
    it subscribes and sends them on as they are."""
    return f"lsp.out.{key}"


def notebook_record_key(key: str) -> str:
    """A notebook opened with the HTTP API (``NotebookRecord``) in the ``executions`` bucket."""
    return f"notebook.{key}"


LIMITS_BUCKET = "limits"
"""JetStream KV bucket shared by every edge (file storage, entries kept ``LIMITS_MAX_AGE_S``):
per API key, its rate-limit token bucket (``rate.<digest>``) and its unfinished executions
(``quota.<digest>``), changed with compare-and-set so that several edges enforce one limit.
The dispatcher creates it."""
LIMITS_MAX_AGE_S = 3_600


def rate_key(name: str) -> str:
    """An API key's token bucket; ``name`` (the key's name) is hashed into a subject token."""
    return "rate." + hashlib.sha256(name.encode()).hexdigest()[:32]


def quota_key(name: str) -> str:
    """An API key's unfinished executions."""
    return "quota." + hashlib.sha256(name.encode()).hexdigest()[:32]


WORKSPACES_BUCKET = "workspaces"
"""JetStream KV bucket (file storage, no expiry) of workspaces (docs/workspaces.md), written
and read by the edge only (the first edge to need it creates it):

- ``<owner digest>.<workspace id>``: its ``contracts.workspaces.Head`` (newest revision with its
  tree, and the list of revisions), changed with compare-and-set;
- ``<owner digest>.<workspace id>.<n>``: revision ``n`` (``Revision``), never changed once put.

File contents are in ``WORKSPACE_FILES_STORE``."""
WORKSPACE_FILES_STORE = "workspace-files"
"""JetStream object store (file storage) of workspace file contents, one object per content,
named by its SHA-256 (hex): put by the edge before the revision that names it, read by the edge
(a workspace's files, a run naming a workspace); deleted by the edge's content sweep once no
head or revision names it (``edge.workspace_sweep``)."""
WORKSPACE_FILES_STREAM = f"OBJ_{WORKSPACE_FILES_STORE}"
"""The stream behind ``WORKSPACE_FILES_STORE`` (nats' object store layout): the edge reads a
content's chunks from it with direct gets, one request each, no consumer."""
WORKSPACE_KEYS = ">"
"""Every key of ``WORKSPACES_BUCKET`` (a KV key filter: the content sweep reads them all)."""


def owner_digest(owner: str) -> str:
    """An owner as one subject token (its key in the workspaces bucket names no API key)."""
    return hashlib.sha256(owner.encode()).hexdigest()[:32]


def workspace_head_key(digest: str, workspace_id: str) -> str:
    return f"{digest}.{workspace_id}"


def workspace_revision_key(digest: str, workspace_id: str, revision: int) -> str:
    return f"{digest}.{workspace_id}.{revision}"


def workspace_content_chunks(nuid: str) -> str:
    """The subject of one stored content's chunks in ``WORKSPACE_FILES_STREAM`` (``nuid``: the
    object's, from its info)."""
    return f"$O.{WORKSPACE_FILES_STORE}.C.{nuid}"


def workspace_revisions(digest: str, workspace_id: str) -> str:
    """Every revision key of one workspace (a KV key filter)."""
    return f"{digest}.{workspace_id}.*"


def workspace_heads(digest: str) -> str:
    """Every head key of one owner (a KV key filter: its workspaces)."""
    return f"{digest}.*"


SESSION_CONTROL = "session.control"
"""Request-reply (core NATS): an edge asks every runner about one owner's session
(``contracts.session_control.SessionCommand``: its resources, or a reset); every runner answers
(``SessionResources``: what it holds, or removed), and the edge gathers the answers for a
moment, as for ``stats.queue``."""
