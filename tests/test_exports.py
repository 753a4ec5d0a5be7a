"""The public surface: every exported name resolves, is documented, and importing stays cheap."""

from __future__ import annotations

import subprocess
import sys

import pytest

import orchestrator


@pytest.mark.parametrize("name", [name for name in orchestrator.__all__ if name != "__version__"])
def test_every_public_name_resolves_and_is_documented(name: str) -> None:
    """Each name in __all__ imports from its private module and carries a docstring."""
    value = getattr(orchestrator, name)
    if callable(value) or isinstance(value, type):
        assert (value.__doc__ or "").strip(), f"orchestrator.{name} has no docstring"


def test_unknown_names_raise_attribute_error() -> None:
    """A misspelt name fails like any module attribute would."""
    with pytest.raises(AttributeError, match="open_clinet"):
        orchestrator.open_clinet  # noqa: B018


def test_dir_lists_the_public_names() -> None:
    """dir(orchestrator) shows the public API for completion in a REPL."""
    assert "open_client" in dir(orchestrator) and "run_batch" in dir(orchestrator)


def test_import_is_lazy() -> None:
    """`import orchestrator` loads neither trio, httpx nor jsonschema until a name is used."""
    code = (
        "import sys, orchestrator;"
        "heavy = [m for m in ('trio', 'httpx', 'jsonschema', 'msgspec', 'rich') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_a_batch_on_the_in_process_emulator_imports_no_server_and_no_schema_checker() -> None:
    """hypercorn and jsonschema (a quarter of a second) load only when a server starts or a schema is checked."""
    code = (
        "import sys; from orchestrator.batch._local import run_batch; import orchestrator.emulator;"
        "print(','.join(m for m in ('hypercorn', 'jsonschema') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_cli_help_runs() -> None:
    """`python -m orchestrator --help` prints the subcommands and exits 0."""
    result = subprocess.run([sys.executable, "-m", "orchestrator", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for command in ("batch", "chat", "models", "transcribe", "translate", "speak", "health", "emulate", "rate-limits",
                    "bench"):
        assert command in result.stdout


def test_the_batch_api_names_are_exported() -> None:
    """``client.files`` / ``client.batches``: their wire types, the content reader and the batch errors are public."""
    from orchestrator import _batch_wire, _errors, _files

    names = {
        "Batch": _batch_wire, "BatchList": _batch_wire, "BatchRequestCounts": _batch_wire,
        "BatchErrorDetail": _batch_wire, "BatchErrors": _batch_wire, "FileObject": _batch_wire,
        "FileList": _batch_wire, "FileDeleted": _batch_wire, "FileContent": _files, "BatchError": _errors,
        "BatchValidationError": _errors, "BatchExpiredError": _errors, "BatchCancelledError": _errors,
        "batch_failure": _errors,
    }
    for name, module in names.items():
        assert name in orchestrator.__all__ and getattr(orchestrator, name) is getattr(module, name)


def test_the_responses_api_names_are_exported() -> None:
    """``client.responses``: the response, its items, parts, usage, events and the stream are public."""
    from orchestrator import _responses, _responses_wire

    names = {
        "Response": _responses_wire, "ResponseEvent": _responses_wire, "ResponseOutputItem": _responses_wire,
        "ResponseContent": _responses_wire, "ResponseUsage": _responses_wire, "ResponseStream": _responses,
    }
    for name, module in names.items():
        assert name in orchestrator.__all__ and getattr(orchestrator, name) is getattr(module, name)


def test_the_embeddings_and_model_deletion_names_are_exported() -> None:
    """``client.embeddings.create`` and ``client.models.delete`` answer with public types."""
    from orchestrator import _embeddings, _wire

    names = {"Embedding": _embeddings, "EmbeddingResponse": _embeddings, "EmbeddingUsage": _embeddings, "ModelDeleted": _wire}
    for name, module in names.items():
        assert name in orchestrator.__all__ and getattr(orchestrator, name) is getattr(module, name)
