"""The emulator core: one async ``handle(request) -> response`` that both adapters share.

Every request goes through the same gates, in Groq's order as far as it can be observed:

1. routing (``404 unknown_url``, ``405``) and the body size limit (``413``);
2. auth (``401 invalid_api_key``; carries ``x-request-id`` but no rate-limit headers);
3. decoding, retired models (``400 model_decommissioned``) and Groq's request rules (``400``;
   ``404 model_not_found`` for an unknown model);
4. fault injection (``500/502/503/498`` or a reset; not charged against the limits);
5. rate limits per (key, model) (``413`` when one request exceeds TPM, ``429`` with ``retry-after``);
6. the reply, after the latency model's delays, possibly bent by a body fault.

Responses tied to a model (chat, audio and speech, including their 400/413/429/5xx) carry the
``x-ratelimit-*`` headers; every response carries ``x-request-id``. Time is ``trio.current_time()``,
so tests under ``autojump_clock`` run instantly; the limiter sees emulated time (real time multiplied
by ``time_scale``), and waits it reports are divided back into real seconds.

A chat request admitted by the limiter is looked up in the prompt cache (:mod:`._prompt_cache`) for the
models that have one, and its charge is reconciled to ``prompt_tokens - cached_tokens + completion_tokens``
when it is done (reasoning tokens are completion tokens).

The Batch API (``/files``, ``/batches``) is served by :mod:`._batches`; the core routes to it and lends it
the chat machinery for the lines (:meth:`Emulator._batch_line`), which skips rate limits, faults, latency
and the prompt cache: batch lines never count against the standard limits (console.groq.com/docs/batch).
A batch for ``/v1/audio/transcriptions`` or ``/v1/audio/translations`` runs JSON lines with a ``url`` through
the audio machinery instead (:meth:`Emulator._batch_audio_line`).

``POST /embeddings`` (:mod:`._embeddings`) is charged per (key, model) like chat; ``DELETE /models/{id}``
refuses every catalog model (the emulator has no fine-tuned models) and 404s an unknown one.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, final

import msgspec
import trio

from actors._duration import format_go_duration
from actors._ratelimit_headers import RateLimitReport, ReportedWindow, rate_limit_header_pairs
from orchestrator._catalog import ModelInfo
from orchestrator._retired import retired_model
from orchestrator.emulator import _shaping
from orchestrator.emulator._asgi import asgi_app_for
from orchestrator.emulator._audio import AudioError, parse_audio_request, render_audio
from orchestrator.emulator._batches import BATCH_ENDPOINT, BatchService, FileStore, LineRejected, audio_line_form
from orchestrator.emulator._chat import (
    ChatContext,
    ChatRejected,
    check_chat_request,
    parse_chat_request,
    plan_reply,
    reasoning_plan,
    render_completion,
    stream_completion,
    text_rng,
)
from orchestrator.emulator._embeddings import EmbeddingRejected, parse_embedding_request, render_embeddings
from orchestrator.emulator._responses import serve_responses
from orchestrator.emulator._faults import STATUS_KINDS, FaultPlan, FaultRule
from orchestrator.emulator._http import (
    ConnectionReset,
    EmulatorRequest,
    EmulatorResponse,
    error_response,
    json_response,
    model_not_found,
    model_refusal,
    nesting_problem,
    unreadable_response,
)
from orchestrator.emulator._limiter import (
    Denied,
    KeyModelLimiter,
    RateLimiter,
    RateLimitState,
    TooLarge,
)
from orchestrator.emulator._prompt_cache import PromptCache, prompt_prefixes
from orchestrator.emulator._settings import EmulatorSettings
from orchestrator.emulator._speech import SpeechError, audio_chunks, parse_speech_request, render_speech
from orchestrator.emulator._stats import EmulatorStats, StatsRecorder, served_stats
from orchestrator.observe._logging import get_logger

if TYPE_CHECKING:
    import httpx

__all__ = ["Emulator"]

log = get_logger("orchestrator.emulator")

API_PREFIX = "/openai/v1"
STATS_PATH = "/_emulator/stats"
#: The upload route, whose bodies may be as large as ``max_upload_size`` (the others: ``max_body_size``).
UPLOAD_PATH = API_PREFIX + "/files"
_ORGANIZATION = "org_emulator"
#: A byte to a letter of lower-case Crockford base32, as in Groq's req_ ids (256 is a multiple of 32: uniform).
_ID_LETTER_OF_BYTE = bytes(b"0123456789abcdefghjkmnpqrstvwxyz"[byte % 32] for byte in range(256))
#: Fault kinds that replace the whole response (the others bend its body).
_ANSWERING_KINDS = STATUS_KINDS | {"reset"}
#: The bytes hashed into a request's ids: 26 letters of its x-request-id, then 16 of a chat completion's uuid.
_ID_BYTES = 26 + 16
#: Routes whose POST body is JSON: their nesting is measured before anything parses them.
_JSON_ROUTES = frozenset({"/chat/completions", "/responses", "/embeddings", "/audio/speech", "/batches"})
#: With instant latency, SSE events are written in batches of about this many bytes (one send each).
_COALESCE_BYTES = 16 * 1024
_FAULT_BODIES = {
    "500": ("Internal Server Error", "internal_server_error", "internal_server_error"),
    "502": ("Bad Gateway", "internal_server_error", "bad_gateway"),
    "503": ("Service Unavailable", "internal_server_error", "service_unavailable"),
    "498": ("`flex` tier capacity exceeded", "invalid_request_error", "capacity_exceeded"),
}


def _rate_headers(state: RateLimitState, scale: float) -> list[tuple[str, str]]:
    """Groq's ``x-ratelimit-*`` headers (requests per day, tokens per minute; resets in real seconds)."""

    def real(seconds: float | None) -> float | None:
        return None if seconds is None else seconds / scale

    return rate_limit_header_pairs(
        RateLimitReport(
            ReportedWindow(state.limit_requests, state.remaining_requests, real(state.reset_requests)),
            ReportedWindow(state.limit_tokens, state.remaining_tokens, real(state.reset_tokens)),
        )
    )


def _allowed_methods(route: str) -> tuple[str, ...]:
    """The methods a route (the path after ``/openai/v1``) takes; empty for an unknown route."""
    if route in ("/chat/completions", "/audio/transcriptions", "/audio/translations", "/audio/speech"):
        return ("POST",)
    if route == "/embeddings":
        return ("POST",)
    if route == "/responses":
        return ("POST",)
    if route == "/models":
        return ("GET",)
    if route.startswith("/models/"):
        return ("GET", "DELETE")
    parts = route.split("/")
    if parts[1] not in ("files", "batches") or len(parts) > 4 or (len(parts) > 2 and not parts[2]):
        return ()
    if len(parts) == 2:
        return ("GET", "POST")
    if len(parts) == 3:
        return ("GET", "DELETE") if parts[1] == "files" else ("GET",)
    if parts[3] == ("content" if parts[1] == "files" else "cancel"):
        return ("GET",) if parts[1] == "files" else ("POST",)
    return ()


@final
class Emulator:
    """A Groq-compatible API in a box: chat, models, audio and Batch API endpoints with Groq's limits and faults.

    One core, two ways in: :meth:`transport` serves it in-process to an ``httpx.AsyncClient`` (no socket,
    so tests run under ``autojump_clock``), :attr:`asgi_app` serves it over real HTTP with hypercorn
    (:func:`~orchestrator.emulator.open_emulator_server`, ``groq-orch emulate``).

    Args:
        settings: behaviour (latency, limits, faults, keys...); the default is an instant emulator.
    """

    def __init__(self, settings: EmulatorSettings | None = None) -> None:
        self.settings = settings if settings is not None else EmulatorSettings()
        self._latency = self.settings.latency_model()
        self._scale = self.settings.time_scale
        self._limiter = RateLimiter(self.settings.limits_for, max_pairs=self.settings.max_tracked_pairs)
        self._faults = FaultPlan(self.settings.faults, seed=self.settings.seed)
        self._prompt_cache = PromptCache(
            ttl=self.settings.prompt_cache_ttl, max_entries=self.settings.prompt_cache_entries
        )
        self._stats = StatsRecorder()
        self._counter = 0
        self._epoch: float | None = None
        self._wall_epoch = 0.0
        self._fingerprints: dict[str, str] = {}
        self._batches = BatchService(
            store=FileStore(self.settings.files_dir),
            pace=self.settings.batch_pace(),
            run_line=self._batch_line,
            stats=self._stats,
            clock=self.emulated_now,
            unix=self._unix,
            seed=self.settings.seed,
            upload_resets=self.settings.upload_resets,
            max_upload_size=self.settings.max_upload_size,
        )
        self._route_limits = {("POST", UPLOAD_PATH): self.settings.max_upload_size}
        #: The ASGI 3 application serving this emulator (for hypercorn, or any ASGI server running on trio).
        self.asgi_app = asgi_app_for(self, self.settings.max_body_size, self._route_limits)

    def __repr__(self) -> str:
        return (
            f"<Emulator latency={self.settings.latency} time_scale={self._scale} seed={self.settings.seed} "
            f"requests={self._stats.requests}>"
        )

    # ------------------------------------------------------------------ public surface

    def stats(self) -> EmulatorStats:
        """What the emulator has served so far (a frozen snapshot)."""
        return self._stats.snapshot()

    def reset_stats(self) -> None:
        """Zero the counters (rate-limit state is kept: it is behaviour, not statistics)."""
        self._stats.reset()

    def batch_line_runs(self, custom_id: str) -> int:
        """How many times a batch line with this ``custom_id`` has run, across all batches since the last reset.

        A client that never submits a line twice leaves every id at 0 or 1 (and ``stats().batch_duplicate_runs``
        at 0). The tally keeps up to a million ids; an id past that reads 0.
        """
        return self._stats.batch_line_runs(custom_id)

    def transport(self) -> httpx.AsyncBaseTransport:
        """An in-process ``httpx`` transport to this emulator: ``httpx.AsyncClient(transport=emulator.transport())``.

        Bodies stream (SSE is not buffered); closing a response closes its stream, which the emulator
        counts as a client disconnect.
        """
        # Imported here: it loads httpx, which the emulator served over HTTP (hypercorn) never needs.
        from orchestrator.emulator._transport import EmulatorTransport

        return EmulatorTransport(self, self.settings.max_body_size, self._route_limits)

    def emulated_now(self) -> float:
        """Emulated seconds since the emulator started (trio's clock times ``time_scale``).

        "Started" is the first call: :func:`~orchestrator.emulator.open_emulator_server` makes it when the
        server is up; in-process, the first request does. Fault windows (``from``/``to``) count from there.
        """
        now = trio.current_time()
        if self._epoch is None:
            self._epoch = now
            self._wall_epoch = float(math.floor(time.time()))  # whole seconds: emulated offsets stay exact
        return (now - self._epoch) * self._scale

    def _unix(self, emulated: float) -> int:
        """Unix seconds of an emulated moment: wall time at the start plus emulated seconds (batch timestamps).

        With ``time_scale`` 3600 a 24 h completion window passes in 24 real seconds, and the timestamps say so.
        """
        self.emulated_now()  # fixes the start, if nothing did yet
        return int(self._wall_epoch + emulated)

    # ------------------------------------------------------------------ dispatch

    async def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        """Answer one request.

        Raises:
            ConnectionReset: the ``reset`` fault fired: close the connection without a response.
        """
        stats = self._stats
        stats.requests += 1
        stats.saw_client(request.client)
        self._counter += 1
        number = self._counter
        # A request's ids are a hash of the seed and its number, not draws from a seeded generator: the same on
        # every run, at a third of the cost (a Random is built only for the routes that draw more).
        digest = hashlib.blake2b(b"%d:%d" % (self.settings.seed, number), digest_size=_ID_BYTES).digest()
        request_id = "req_" + digest[:26].translate(_ID_LETTER_OF_BYTE).decode("ascii")
        response = await self._route(request, request_id, number, digest)
        response.headers.append(("x-request-id", request_id))
        stats.responded(response.status)
        return response

    async def _route(self, request: EmulatorRequest, request_id: str, number: int, digest: bytes) -> EmulatorResponse:
        path, method = request.path, request.method
        if path == STATS_PATH and method == "GET":
            return json_response(200, served_stats(self._stats.snapshot()))
        if not path.startswith(API_PREFIX + "/"):
            return self._unknown_url(request)
        route = path[len(API_PREFIX) :]
        allowed = _allowed_methods(route)
        # Only POST /embeddings is served: Groq itself has no such route ("Unknown request URL: POST
        # /openai/v1/embeddings", crewAIInc/crewAI#522, 2024-04-26), so other methods stay unknown URLs.
        if not allowed or (route == "/embeddings" and method != "POST"):
            return self._unknown_url(request)
        if method not in allowed:
            return error_response(
                405, f"Method {method} is not allowed on {path}; use {' or '.join(allowed)}.", code="method_not_allowed"
            )
        if request.oversized:
            limit = self._route_limits.get((method, path), self.settings.max_body_size)
            return error_response(
                413, f"Request Entity Too Large: the body exceeds {limit} bytes", code="request_too_large"
            )
        key = self._api_key(request)
        if key is None:
            return error_response(401, "Invalid API Key", code="invalid_api_key")
        if method == "POST" and route in _JSON_ROUTES and (deep := nesting_problem(request.body)) is not None:
            return error_response(400, deep)
        try:
            return await self._serve(request, route, key, request_id, number, digest)
        except ConnectionReset:
            raise
        except Exception as exc:  # noqa: BLE001 - a body no rule anticipated is the client's error, never a 500
            log.warning("emulator_unreadable_request", method=method, path=path, error=repr(exc)[:300], exc_info=True)
            return unreadable_response(exc)

    async def _serve(
        self, request: EmulatorRequest, route: str, key: str, request_id: str, number: int, digest: bytes
    ) -> EmulatorResponse:
        """The authenticated routes, by path (``_route`` has checked path, method, size, key and nesting)."""
        method = request.method
        if route == "/chat/completions":
            chat_id = f"chatcmpl-{uuid.UUID(bytes=digest[26:], version=4)}"
            return await self._chat(request, key, request_id, number, chat_id)
        rng = random.Random((self.settings.seed << 64) | number)
        if route == "/responses":  # Groq's Responses API (beta): orchestrator.emulator._responses
            return await serve_responses(self, request, key, request_id, number, rng)
        if route == "/audio/speech":
            return await self._speech(request, key, number)
        if route.startswith("/audio/"):
            return await self._audio(request, route[len("/audio/") :], key, number, request_id, rng)
        if route.startswith(("/files", "/batches")):
            return await self._batch_api(request, route, rng)
        if route == "/embeddings":
            return await self._embeddings(request, key, number)
        if method == "DELETE":
            return self._delete_model(route[len("/models/") :])
        return self._models(route)

    def _models(self, route: str) -> EmulatorResponse:
        """``/models`` and ``/models/{id}``."""
        catalog = self.settings.catalog
        # Retired models are not served, even while a catalog still lists them: Groq's /models lists what
        # can be called, and /models/{id} of a retired id is the same 404 as any unknown id (the
        # deprecations page says nothing of /models; this is what a shut-down model most plausibly gets).
        if route == "/models":
            served = [self._model_json(info) for info in catalog if retired_model(info.id) is None]
            return json_response(200, {"object": "list", "data": served})
        model = route[len("/models/") :]
        if not catalog.known(model) or retired_model(model) is not None:
            return model_not_found(model).response()
        return json_response(200, self._model_json(catalog.get(model)))

    def _delete_model(self, model: str) -> EmulatorResponse:
        """``DELETE /models/{id}`` (groq-python ``resources/models.py``: ``ModelDeleted {id, object, deleted}``).

        The emulator has no fine-tuned models, so nothing is ever deleted: an unknown or retired id is the same
        404 ``model_not_found`` as ``GET``, and a catalog (base) model is refused. [I] Groq documents neither the
        endpoint's rules nor its refusal; this follows OpenAI's (only an organization's fine-tuned models can be
        deleted), with a 403 and a message of our own.
        """
        catalog = self.settings.catalog
        if not catalog.known(model) or retired_model(model) is not None:
            return model_not_found(model).response()
        return error_response(
            403,
            f"The model `{model}` is a base model and cannot be deleted; only fine-tuned models your organization "
            "owns can be deleted.",
            code="model_not_deletable",
            param="model",
        )

    async def _embeddings(self, http: EmulatorRequest, key: str, number: int) -> EmulatorResponse:
        """``POST /embeddings``: checked by :mod:`._embeddings`, then faults and limits, then rendered.

        Charged like chat, per (key, model): one request and the inputs' estimated tokens (input tokens, no
        output), so the 413/429 bodies and ``x-ratelimit-*`` headers are chat's.
        """
        catalog = self.settings.catalog
        try:
            request = parse_embedding_request(http.body, catalog)
        except EmbeddingRejected as exc:
            headers = None
            if exc.model is not None:
                headers = self._headers_now(self._limiter.get(key, exc.model, self.emulated_now()))
            return error_response(exc.status, exc.message, code=exc.code, param=exc.param, headers=headers)
        limiter = self._limiter.get(key, request.model, self.emulated_now())
        rule = self._fault(request.model, number, streaming=False)
        if rule is not None and rule.kind in _ANSWERING_KINDS:
            return self._fault_response(rule, self._headers_now(limiter))
        tokens = request.prompt_tokens
        refused, headers = self._admit(limiter, request.model, tokens=tokens, input_tokens=tokens)
        if refused is not None:
            return refused
        await self._delay(self._latency.queue_time + self._latency.time_to_first_token)
        headers.append(("content-type", "application/json"))
        body = render_embeddings(request, catalog)
        return EmulatorResponse(200, headers, self._bend(body, rule, lambda: None))

    async def _batch_api(self, request: EmulatorRequest, route: str, rng: random.Random) -> EmulatorResponse:
        """The Batch API's routes (``_allowed_methods`` has checked the path and method)."""
        service = self._batches
        parts = route.split("/")  # ["", "files" | "batches", id?, "content" | "cancel"?]
        method = request.method
        if parts[1] == "files":
            if len(parts) == 2:
                return await (service.upload(request, rng) if method == "POST" else service.list_files())
            if len(parts) == 4:
                return await service.file_content(parts[2])
            return await (service.delete_file(parts[2]) if method == "DELETE" else service.file_info(parts[2]))
        if len(parts) == 2:
            return await (service.create_batch(request.body, rng) if method == "POST" else service.list_batches())
        if len(parts) == 4:
            return await service.cancel_batch(parts[2])
        return await service.get_batch(parts[2])

    def _unknown_url(self, request: EmulatorRequest) -> EmulatorResponse:
        """Groq's 404 for an unknown URL; a base URL off by ``/openai/v1`` gets a message naming the right one.

        The ``groq`` SDK and LangChain's ``ChatGroq`` append ``/openai/v1`` to their base URL themselves, so given
        ``http://host/openai/v1`` they ask for ``/openai/v1/openai/v1/...``; OpenAI-style clients (the ``openai``
        SDK) append only the route, so given ``http://host`` they ask for ``/chat/completions``.
        """
        path = request.path
        root = f"{request.scheme}://{(request.headers.get('host') or '127.0.0.1:8000')[:200]}"
        hint = "Please check the URL for typos"
        if path.startswith(API_PREFIX + API_PREFIX + "/"):
            hint = (
                f"The path repeats {API_PREFIX}: the groq SDK and LangChain's ChatGroq add {API_PREFIX} themselves, "
                f"so give them the server root as base URL ({root}); only OpenAI-style clients such as the openai "
                f"SDK take a base URL ending in {API_PREFIX} ({root}{API_PREFIX})"
            )
        elif not path.startswith(API_PREFIX + "/") and _allowed_methods(path):
            hint = (
                f"The path lacks {API_PREFIX}: OpenAI-style clients such as the openai SDK need the base URL "
                f"{root}{API_PREFIX}; the groq SDK and LangChain's ChatGroq take the server root ({root})"
            )
        message = f"Unknown request URL: {request.method} {path}. {hint}, or see the docs at https://console.groq.com/docs/"
        return error_response(404, message, code="unknown_url")

    def _api_key(self, request: EmulatorRequest) -> str | None:
        scheme, _, key = request.headers.get("authorization", "").strip().partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not self.settings.accepts_key(key):
            return None
        return key

    @staticmethod
    def _model_json(info: ModelInfo) -> dict[str, object]:
        return {
            "id": info.id,
            "object": "model",
            "created": info.created,
            "owned_by": info.owned_by,
            "active": info.active,
            "context_window": info.context_window,
            "public_apps": None,
            "max_completion_tokens": info.max_completion_tokens,
        }

    def _fingerprint(self, model: str) -> str:
        fingerprint = self._fingerprints.get(model)
        if fingerprint is None:
            fingerprint = "fp_" + hashlib.blake2b(model.encode(), digest_size=5).hexdigest()
            if len(self._fingerprints) < 1024:
                self._fingerprints[model] = fingerprint
        return fingerprint

    # ------------------------------------------------------------------ limits and faults

    def _fault(self, model: str, number: int, *, streaming: bool) -> FaultRule | None:
        if not self._faults:
            return None
        rule = self._faults.decide(model=model, now=self.emulated_now(), request_number=number, streaming=streaming)
        if rule is not None:
            self._stats.fault(rule.kind)
        return rule

    def _fault_response(self, rule: FaultRule, headers: list[tuple[str, str]]) -> EmulatorResponse:
        """The response of a status fault; raises :class:`ConnectionReset` for ``reset``."""
        if rule.kind == "reset":
            raise ConnectionReset("reset fault: connection closed before the response")
        message, type_, code = _FAULT_BODIES[rule.kind]
        return error_response(int(rule.kind), message, type=type_, code=code, headers=headers)

    def _admit(
        self,
        limiter: KeyModelLimiter,
        model: str,
        *,
        tokens: int = 0,
        input_tokens: int = 0,
        output_tokens: int = 0,
        audio_seconds: int = 0,
    ) -> tuple[EmulatorResponse | None, list[tuple[str, str]]]:
        """Charge one request; on refusal return Groq's 413/429 response (with headers), else the headers.

        The bodies name the window with its numbers in Groq's words, for every window (RPM, RPD, TPM,
        TPD, ITPM, OTPM, ASH, ASD), with ``type`` ``requests`` or ``tokens`` (GROQ-API.md 1.3, captured
        429 and 413 bodies). The 413's "Upgrade to Dev Tier" line is for free organisations only: a
        Developer organisation has nothing to upgrade to there (Groq's paid-tier wording is not
        published; the line is dropped rather than invented).
        """
        now = self.emulated_now()
        decision = limiter.admit(
            now, tokens=tokens, input_tokens=input_tokens, output_tokens=output_tokens, audio_seconds=audio_seconds
        )
        headers = _rate_headers(limiter.state(now), self._scale)
        if isinstance(decision, TooLarge):
            unit = "message size" if decision.window.kind == "tokens" else "request"
            upsell = (
                " Need more tokens? Upgrade to Dev Tier today at https://console.groq.com/settings/billing"
                if self.settings.tier == "free"
                else ""
            )
            return error_response(
                413,
                f"Request too large for model `{model}` in organization `{_ORGANIZATION}` service tier `on_demand` "
                f"on {decision.window.description}: Limit {decision.limit}, Requested {decision.requested}, please "
                f"reduce your {unit} and try again.{upsell}",
                type=decision.window.kind,
                code="rate_limit_exceeded",
                headers=headers,
            ), headers
        if isinstance(decision, Denied):
            wait = decision.wait / self._scale
            headers.insert(0, ("retry-after", str(max(1, math.ceil(wait)))))
            return error_response(
                429,
                f"Rate limit reached for model `{model}` in organization `{_ORGANIZATION}` service tier `on_demand` "
                f"on {decision.window.description}: Limit {decision.limit}, Used {decision.used}, Requested "
                f"{decision.requested}. Please try again in {format_go_duration(wait)}. "
                "Visit https://console.groq.com/docs/rate-limits for more information.",
                type=decision.window.kind,
                code="rate_limit_exceeded",
                headers=headers,
            ), headers
        return None, headers

    def _headers_now(self, limiter: KeyModelLimiter) -> list[tuple[str, str]]:
        return _rate_headers(limiter.state(self.emulated_now()), self._scale)

    async def _delay(self, emulated_seconds: float) -> None:
        if emulated_seconds > 0:
            await trio.sleep(emulated_seconds / self._scale)

    def _bend(
        self, body: bytes | AsyncIterator[bytes], rule: FaultRule | None, on_drop: Callable[[], None]
    ) -> bytes | AsyncIterator[bytes]:
        """Apply a body fault (drop, malformed event, slow drip) to a response body."""
        if rule is None:
            return body
        if rule.kind == "drop-mid-stream":
            return _shaping.drop_after(body, rule.chunks, on_drop)
        if rule.kind == "malformed-sse" and not isinstance(body, bytes):
            return _shaping.malform_event(body, rule.chunk)
        if rule.kind == "slow":
            return _shaping.drip(body, rule.bytes_per_s)
        return body

    # ------------------------------------------------------------------ chat

    async def _chat(
        self, http: EmulatorRequest, key: str, request_id: str, number: int, chat_id: str
    ) -> EmulatorResponse:
        settings = self.settings
        try:
            request = parse_chat_request(http.body, depth_checked=True)  # _route measured it
        except ChatRejected as exc:
            return self._rejected(exc, None)
        model = request.model
        if (refusal := model_refusal(model, settings.catalog.known(model))) is not None:
            return refusal.response()
        limiter = self._limiter.get(key, model, self.emulated_now())
        try:
            prompt_tokens = check_chat_request(request, settings.catalog)
        except ChatRejected as exc:
            return self._rejected(exc, self._headers_now(limiter))
        streaming = bool(request.stream)
        rule = self._fault(model, number, streaming=streaming)
        if rule is not None and rule.kind in _ANSWERING_KINDS:
            return self._fault_response(rule, self._headers_now(limiter))
        budget = request.completion_budget or 0
        refused, headers = self._admit(
            limiter, model, tokens=prompt_tokens + budget, input_tokens=prompt_tokens, output_tokens=budget
        )
        if refused is not None:
            return refused
        cached: int | None = None
        if model in settings.prompt_cache_models:
            cached = self._prompt_cache.serve(key, model, prompt_prefixes(request), self.emulated_now())
        info = settings.catalog.get(model)
        content_rng = text_rng(settings.seed, request)
        try:
            reply = plan_reply(request, content_rng, settings.completion_tokens, reasoning_plan(request, info))
        except ChatRejected as exc:
            if cached:  # the prompt was processed; its cached part never counts
                limiter.charge(self.emulated_now(), tokens=-cached, input_tokens=-cached)
            return self._rejected(exc, headers)
        seed = request.seed if request.seed is not None else content_rng.getrandbits(31)
        ctx = ChatContext(
            request_id=request_id,
            chat_id=chat_id,
            created=int(time.time()),
            model=model,
            fingerprint=self._fingerprint(model),
            prompt_tokens=prompt_tokens,
            seed=seed,
            latency=self._latency,
            time_scale=self._scale,
            tokens_per_chunk=settings.tokens_per_chunk,
            include_usage=bool(request.stream_options and request.stream_options.include_usage),
            cached_tokens=cached,
            reasoning=info.reasoning,
        )
        if streaming:
            return self._event_stream(
                lambda on_finish: stream_completion(ctx, reply, on_finish), limiter, budget, cached or 0, headers, rule
            )
        body = render_completion(ctx, reply)
        return await self._whole_reply(body, reply.completion_tokens, limiter, budget, cached or 0, headers, rule)

    async def _whole_reply(
        self, body: bytes, completion_tokens: int, limiter: KeyModelLimiter, budget: int, cached: int,
        headers: list[tuple[str, str]], rule: FaultRule | None,
    ) -> EmulatorResponse:
        """A JSON answer (chat or Responses), after reconciling its charge and waiting out the latency model."""
        self._reconcile(limiter, completion_tokens, budget, cached)
        if not self._latency.instant:
            timing = self._latency.timing(completion_tokens)
            await self._delay(timing.queue_time + timing.total_time)
        headers.append(("content-type", "application/json"))
        return EmulatorResponse(200, headers, self._bend(body, rule, lambda: None))

    def _event_stream(
        self,
        events: Callable[[Callable[[int, bool], None]], AsyncIterator[bytes]],
        limiter: KeyModelLimiter,
        budget: int,
        cached: int,
        headers: list[tuple[str, str]],
        rule: FaultRule | None,
    ) -> EmulatorResponse:
        """An SSE answer (chat or Responses) with what every stream shares: the charge reconciled when it
        ends, the stream counters, body faults, and coalesced writes on the instant emulator.

        ``events(on_finish)`` makes the body; it calls ``on_finish(completion_tokens, completed)`` once.
        """
        stats = self._stats
        dropped = False

        def on_drop() -> None:
            nonlocal dropped
            dropped = True

        def on_finish(completion_tokens: int, completed: bool) -> None:
            self._reconcile(limiter, completion_tokens, budget, cached)
            if completed:
                stats.streams_completed += 1
            elif not dropped:
                stats.streams_disconnected += 1

        stats.streams_started += 1
        body = self._bend(events(on_finish), rule, on_drop)
        if self._latency.instant and (rule is None or rule.kind != "slow"):
            body = _shaping.coalesce(body, _COALESCE_BYTES)  # type: ignore[arg-type]
        headers.extend((("content-type", "text/event-stream"), ("cache-control", "no-cache")))
        return EmulatorResponse(200, headers, body)

    def _reconcile(self, limiter: KeyModelLimiter, completion_tokens: int, budget: int, cached: int) -> None:
        """Turn the admission charge (prompt + budget) into what was used: uncached prompt + completion.

        TPM and TPD get ``completion - budget - cached``, ITPM ``-cached``, OTPM ``completion - budget``
        (reasoning tokens are inside ``completion``: they are output).
        """
        limiter.charge(
            self.emulated_now(),
            tokens=completion_tokens - budget - cached,
            input_tokens=-cached,
            output_tokens=completion_tokens - budget,
        )

    def _batch_audio_line(self, kind: str, body: bytes, request_id: str, rng: random.Random) -> tuple[int, bytes]:
        """One audio batch line (JSON with a ``url``), answered as ``POST /audio/{kind}`` would answer its form.

        The same checks and rendering as :meth:`_audio` (:func:`._batches.audio_line_form` turns the JSON into the
        form), without rate limits (no audio seconds are charged), faults or latency, as for chat lines. A body that
        is not JSON (``text``, ``srt``, ``vtt``) is written as a JSON string, so the output line stays JSON ([I]
        Groq's batch docs show only JSON bodies).
        """
        try:
            content_type, form = audio_line_form(body)
            audio = parse_audio_request(kind, content_type, form, catalog=self.settings.catalog)
        except LineRejected as exc:
            return 400, self._body_of(error_response(400, exc.message, param=exc.param))
        except AudioError as error:
            return error.status, error.result().body
        result = render_audio(audio, rng=rng, request_id=request_id)
        is_json = dict(result.headers).get("content-type", "").startswith("application/json")
        return result.status, result.body if is_json else msgspec.json.encode(result.body.decode("utf-8"))

    def _batch_line(self, endpoint: str, body: bytes, request_id: str, rng: random.Random) -> tuple[int, bytes]:
        """One batch line answered (:meth:`_answer_batch_line`); a line that breaks the reading gets Groq's 400.

        A batch runs in the background, so an exception here would not become one request's 500 but stop every
        line after it: a line no rule anticipated is answered like the endpoint answers such a body.
        """
        try:
            return self._answer_batch_line(endpoint, body, request_id, rng)
        except Exception as exc:  # noqa: BLE001 - the line is at fault, not the batch
            log.warning("emulator_unreadable_batch_line", endpoint=endpoint, error=repr(exc)[:300], exc_info=True)
            return 400, self._body_of(unreadable_response(exc))

    def _answer_batch_line(
        self, endpoint: str, body: bytes, request_id: str, rng: random.Random
    ) -> tuple[int, bytes]:
        """One batch line's request for the batch's ``endpoint``: audio lines go to :meth:`_batch_audio_line`.

        A chat line is answered as ``POST /chat/completions`` would, minus the account's state.

        The same parse, Groq rules, reply plan and rendering as :meth:`_chat`, so an output line's body is a
        ``chat.completion`` exactly as the endpoint renders it; but no rate limit is charged (batches do not
        touch the standard limits, console.groq.com/docs/batch), no fault or latency applies, and the prompt
        cache is neither read nor filled ([I] Groq's batch docs do not say; ``cached_tokens`` reads 0).

        Returns:
            ``(status, body)``: 200 and the completion, or Groq's error status and error body.
        """
        if endpoint != BATCH_ENDPOINT:
            return self._batch_audio_line(endpoint.rsplit("/", 1)[-1], body, request_id, rng)
        settings = self.settings
        try:
            request = parse_chat_request(body)
            model = request.model
            if (refusal := model_refusal(model, settings.catalog.known(model))) is not None:
                return refusal.status, self._body_of(refusal.response())
            if request.stream:  # [I] a batch line has no connection to stream to
                raise ChatRejected(400, "stream is not supported in batch requests; remove it", param="stream")
            prompt_tokens = check_chat_request(request, settings.catalog)
            info = settings.catalog.get(model)
            content_rng = text_rng(settings.seed, request)
            reply = plan_reply(request, content_rng, settings.completion_tokens, reasoning_plan(request, info))
        except ChatRejected as exc:
            return exc.status, self._body_of(self._rejected(exc, None))
        ctx = ChatContext(
            request_id=request_id,
            chat_id=f"chatcmpl-{uuid.UUID(int=rng.getrandbits(128), version=4)}",
            created=self._unix(self.emulated_now()),
            model=model,
            fingerprint=self._fingerprint(model),
            prompt_tokens=prompt_tokens,
            seed=request.seed if request.seed is not None else content_rng.getrandbits(31),
            latency=self._latency,
            time_scale=self._scale,
            tokens_per_chunk=settings.tokens_per_chunk,
            include_usage=False,
            cached_tokens=0 if model in settings.prompt_cache_models else None,
            reasoning=info.reasoning,
        )
        return 200, render_completion(ctx, reply)

    @staticmethod
    def _body_of(response: EmulatorResponse) -> bytes:
        """The bytes of a response built from bytes (error and JSON responses always are)."""
        assert isinstance(response.body, bytes)
        return response.body

    def _rejected(self, exc: ChatRejected, headers: list[tuple[str, str]] | None) -> EmulatorResponse:
        return error_response(exc.status, exc.message, headers=headers, **exc.fields)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ audio

    async def _audio(
        self, http: EmulatorRequest, kind: str, key: str, number: int, request_id: str, rng: random.Random
    ) -> EmulatorResponse:
        """Transcriptions and translations: checked by :mod:`._audio`, then faults and limits, then rendered.

        Audio requests are charged one request and their billed audio seconds (at least 10) at admission,
        against RPM/RPD and ASH/ASD; the seconds are known from the upload before anything is transcribed.
        """
        catalog = self.settings.catalog
        try:
            audio = parse_audio_request(kind, http.headers.get("content-type", ""), http.body, catalog=catalog)
        except AudioError as error:
            result = error.result()
            headers = list(result.headers)
            if error.model is not None:
                headers += self._headers_now(self._limiter.get(key, error.model, self.emulated_now()))
            return EmulatorResponse(result.status, headers, result.body)
        limiter = self._limiter.get(key, audio.model, self.emulated_now())
        rule = self._fault(audio.model, number, streaming=False)
        if rule is not None and rule.kind in _ANSWERING_KINDS:
            return self._fault_response(rule, self._headers_now(limiter))
        refused, headers = self._admit(limiter, audio.model, audio_seconds=math.ceil(audio.billed_seconds))
        if refused is not None:
            return refused
        await self._delay(self._latency.queue_time + self._latency.time_to_first_token)
        result = render_audio(audio, rng=rng, request_id=request_id)
        return EmulatorResponse(result.status, headers + result.headers, self._bend(result.body, rule, lambda: None))

    async def _speech(self, http: EmulatorRequest, key: str, number: int) -> EmulatorResponse:
        """Text to speech: checked by :mod:`._speech`, then faults and limits, then a WAV sent in pieces.

        Charged one request and the input's characters as tokens (RPM/RPD, TPM/TPD) at admission.
        """
        try:
            speech = parse_speech_request(http.body, self.settings.catalog)
        except SpeechError as error:
            model = error.model
            headers = None if model is None else self._headers_now(self._limiter.get(key, model, self.emulated_now()))
            return error.response(headers)
        limiter = self._limiter.get(key, speech.model, self.emulated_now())
        rule = self._fault(speech.model, number, streaming=False)
        if rule is not None and rule.kind in _ANSWERING_KINDS:
            return self._fault_response(rule, self._headers_now(limiter))
        refused, headers = self._admit(limiter, speech.model, tokens=speech.characters)
        if refused is not None:
            return refused
        await self._delay(self._latency.queue_time + self._latency.time_to_first_token)
        audio = render_speech(speech)
        headers += [("content-type", "audio/wav"), ("content-length", str(len(audio)))]
        return EmulatorResponse(200, headers, self._bend(audio_chunks(audio), rule, lambda: None))
