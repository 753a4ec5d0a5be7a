"""groq-orchestrator: push thousands of Groq calls through as fast as the rate limits allow.

The public API is re-exported here; every other module is private and may change. Names
are loaded on first use, so ``import orchestrator`` stays fast (the CLI's ``--help`` does
not pay for trio, httpx or jsonschema)::

    import orchestrator

    async with orchestrator.open_client() as groq:
        reply = await groq.chat.completions.create(
            model="openai/gpt-oss-20b",
            messages=[{"role": "user", "content": "Hello"}],
        )
"""

from __future__ import annotations

import importlib
import logging as _logging
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# A library must not print unasked: with no handler anywhere, stdlib logging would hand our warnings
# (``breaker_state_changed``...) to ``logging.lastResort``, which writes them to stderr. This handler stops
# that, and only that: an application's own logging configuration still receives every event (the
# ``orchestrator.*`` loggers propagate), and ``configure_logging`` / the CLI write through structlog.
# The engine (``actors``) logs only through the product's loggers, so it needs no handler of its own.
_logging.getLogger("orchestrator").addHandler(_logging.NullHandler())

#: public name -> private module that defines it
_EXPORTS: dict[str, str] = {
    # client
    "open_client": "._client",
    "Client": "._client",
    "ClientStatistics": "._client",
    "HealthStatus": "._client",
    "JobResult": "._map",
    "BlockingClient": "._blocking",
    "JobHandle": "actors._job",
    "ChatStream": "actors._stream",
    "BudgetSnapshot": "actors._budget",
    # observability
    "Telemetry": ".observe._telemetry",
    "MetricsServer": ".observe._metrics",
    # batch
    "run_batch": ".batch._local",
    "run_batch_async": ".batch._local",
    "BatchSummary": ".batch._summary",
    # configuration
    "Config": "._config",
    "ConfigBuilder": "._config",
    "RetryConfig": "._config",
    "BreakerConfig": "._config",
    "RateLimitConfig": "._config",
    "ModelLimits": "._config",
    "SecretString": "._secret",
    # observability
    "configure_logging": ".observe._logging",
    "Redactor": ".observe._redact",
    "register_secret": ".observe._redact",
    # models
    "ModelCatalog": "._catalog",
    "ModelInfo": "._catalog",
    "DEFAULT_CATALOG": "._catalog",
    # errors
    "GroqError": "._errors",
    "AuthenticationError": "._errors",
    "AuthorizationError": "._errors",
    "NotFoundError": "._errors",
    "ModelDecommissionedError": "._errors",
    "ModelError": "._errors",
    "ValidationError": "._errors",
    "ConfigError": "._errors",
    "ContextLengthError": "._errors",
    "ContentFilterError": "._errors",
    "RequestTooLargeError": "._errors",
    "RateLimitError": "._errors",
    "CapacityExceededError": "._errors",
    "ServerError": "._errors",
    "TimeoutError": "._errors",
    "NetworkError": "._errors",
    "StreamError": "._errors",
    "CircuitOpenError": "._errors",
    "CoordinationError": "._errors",
    "BatchError": "._errors",
    "BatchValidationError": "._errors",
    "BatchExpiredError": "._errors",
    "BatchCancelledError": "._errors",
    "batch_failure": "._errors",
    # wire types
    "ChatRequest": "._wire",
    "ChatResponse": "._wire",
    "ChatChunk": "._wire",
    "Choice": "._wire",
    "ChunkChoice": "._wire",
    "Delta": "._wire",
    "SystemMessage": "._wire",
    "UserMessage": "._wire",
    "AssistantMessage": "._wire",
    "ToolMessage": "._wire",
    "TextPart": "._wire",
    "ImageUrlPart": "._wire",
    "ImageUrl": "._wire",
    "Tool": "._wire",
    "FunctionDefinition": "._wire",
    "ToolCall": "._wire",
    "FunctionCall": "._wire",
    "ToolChoiceFunction": "._wire",
    "ResponseFormat": "._wire",
    "JsonSchemaFormat": "._wire",
    "StreamOptions": "._wire",
    "ResponseMessage": "._wire",
    "Usage": "._wire",
    "XGroq": "._wire",
    "Transcription": "._wire",
    "VerboseTranscription": "._wire",
    "Segment": "._wire",
    "Word": "._wire",
    "Model": "._wire",
    "ModelList": "._wire",
    "ModelDeleted": "._wire",
    # client.embeddings
    "Embedding": "._embeddings",
    "EmbeddingResponse": "._embeddings",
    "EmbeddingUsage": "._embeddings",
    # Batch API (client.files, client.batches)
    "FileContent": "._files",
    "FileObject": "._batch_wire",
    "FileList": "._batch_wire",
    "FileDeleted": "._batch_wire",
    "Batch": "._batch_wire",
    "BatchList": "._batch_wire",
    "BatchRequestCounts": "._batch_wire",
    "BatchErrorDetail": "._batch_wire",
    "BatchErrors": "._batch_wire",
    # text to speech (client.audio.speech)
    "SpeechAudio": "._speech",
    "SpeechModel": "._speech",
    "SPEECH_MODELS": "._speech",
    # Responses API (client.responses)
    "Response": "._responses_wire",
    "ResponseEvent": "._responses_wire",
    "ResponseOutputItem": "._responses_wire",
    "ResponseContent": "._responses_wire",
    "ResponseUsage": "._responses_wire",
    "ResponseStream": "._responses",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'orchestrator' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from actors._budget import BudgetSnapshot as BudgetSnapshot
    from actors._job import JobHandle as JobHandle
    from actors._stream import ChatStream as ChatStream

    from .batch._local import run_batch as run_batch
    from .batch._local import run_batch_async as run_batch_async
    from .batch._summary import BatchSummary as BatchSummary
    from ._blocking import BlockingClient as BlockingClient
    from ._catalog import DEFAULT_CATALOG as DEFAULT_CATALOG
    from ._catalog import ModelCatalog as ModelCatalog
    from ._catalog import ModelInfo as ModelInfo
    from ._client import Client as Client
    from ._client import ClientStatistics as ClientStatistics
    from ._client import HealthStatus as HealthStatus
    from ._client import open_client as open_client
    from ._config import BreakerConfig as BreakerConfig
    from ._config import Config as Config
    from ._config import ConfigBuilder as ConfigBuilder
    from ._config import ModelLimits as ModelLimits
    from ._config import RateLimitConfig as RateLimitConfig
    from ._config import RetryConfig as RetryConfig
    from ._batch_wire import Batch as Batch
    from ._batch_wire import BatchErrorDetail as BatchErrorDetail
    from ._batch_wire import BatchErrors as BatchErrors
    from ._batch_wire import BatchList as BatchList
    from ._batch_wire import BatchRequestCounts as BatchRequestCounts
    from ._batch_wire import FileDeleted as FileDeleted
    from ._batch_wire import FileList as FileList
    from ._batch_wire import FileObject as FileObject
    from ._errors import *  # noqa: F403
    from ._errors import BatchCancelledError as BatchCancelledError
    from ._errors import BatchError as BatchError
    from ._errors import BatchExpiredError as BatchExpiredError
    from ._errors import BatchValidationError as BatchValidationError
    from ._errors import batch_failure as batch_failure
    from ._embeddings import Embedding as Embedding
    from ._embeddings import EmbeddingResponse as EmbeddingResponse
    from ._embeddings import EmbeddingUsage as EmbeddingUsage
    from ._files import FileContent as FileContent
    from ._speech import SPEECH_MODELS as SPEECH_MODELS
    from ._speech import SpeechAudio as SpeechAudio
    from ._speech import SpeechModel as SpeechModel
    from ._responses import ResponseStream as ResponseStream
    from ._responses_wire import Response as Response
    from ._responses_wire import ResponseContent as ResponseContent
    from ._responses_wire import ResponseEvent as ResponseEvent
    from ._responses_wire import ResponseOutputItem as ResponseOutputItem
    from ._responses_wire import ResponseUsage as ResponseUsage
    from .observe._logging import configure_logging as configure_logging
    from ._map import JobResult as JobResult
    from .observe._redact import Redactor as Redactor
    from .observe._redact import register_secret as register_secret
    from .observe._metrics import MetricsServer as MetricsServer
    from ._secret import SecretString as SecretString
    from .observe._telemetry import Telemetry as Telemetry
    from ._wire import *  # noqa: F403
