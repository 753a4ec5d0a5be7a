"""The official groq SDK's own server tests (groq-python ``tests/api_resources/``) against ``groq-orch emulate``.

This is the check behind "the official SDK cannot tell the emulator from Groq": Stainless generates those
tests to run against a mock server that answers any request; here they run against our emulator instead,
unchanged. The script

1. copies ``tests/`` out of a groq-python checkout or bare clone (``--sdk``; the ``fetch`` tool's mirror works),
2. makes a scratch venv with the SDK and its test tools (pip, at the versions the SDK's lock file pins),
3. starts ``python -m orchestrator.emulator`` on a free port, accepting the suite's key (``My API Key``),
4. runs ``pytest tests/api_resources`` with ``TEST_API_BASE_URL`` pointing at it, and
5. prints passed / failed (the ``Groq`` tests; ``--with-async`` adds their ``AsyncGroq`` twins), and sorts the failures: a test that sends a placeholder (``"batch_id"``, ``"file_id"``,
   ``"model"``, ``completion_window="completion_window"``) expects the mock to answer anything, so a 404 or 400
   there is the emulator being right; so is a 400 ``model_decommissioned`` for a model the suite still names
   after Groq shut it down; every other failure is listed by name.

It needs the package registry (pip) once for the scratch venv and nothing else; it is not part of the test
suite, whose own tests drive the same calls with the SDK.

Usage::

    python bench/groq_sdk_suite.py --sdk /path/to/groq-python [--keep] [--json bench/results/groq_sdk_suite.json]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ElementTree
from io import BytesIO
from pathlib import Path

from _common import ROOT, default_json, print_table, write_json

#: The SDK's own pins (groq-python requirements-dev.lock, snapshot 2026-08-18): its session-scoped async
#: fixtures break on other pytest / pytest-asyncio releases.
_TEST_TOOLS = ["groq[aiohttp]", "pytest==9.1.1", "pytest-asyncio==1.4.0", "respx==0.22.0", "dirty-equals==0.11",
               "time-machine==2.19.0", "nest_asyncio", "pydantic==2.12.5", "httpx==0.28.1", "anyio==4.12.1"]
_SUITE_KEY = "My API Key"
#: The suite sends these placeholders as ids and values (``retrieve("batch_id")``, ``completion_window=
#: "completion_window"``): a mock server answers anything; Groq, and the emulator, refuse them (404, 400).
_MISSING_ID = re.compile(r"[`'\"](batch_id|file_id|model|input_file_id)[`'\"]")
_PLACEHOLDER_VALUE = re.compile(r"completion_window '(completion_window)'")


def copy_tests(sdk: Path, into: Path) -> None:
    """``tests/`` of a groq-python work tree, or of a bare clone's HEAD."""
    if (sdk / "tests").is_dir():
        shutil.copytree(sdk / "tests", into / "tests")
        return
    archive = subprocess.run(["git", "--git-dir", str(sdk), "archive", "HEAD", "tests"], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def make_venv(where: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    python = where / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", *_TEST_TOOLS], check=True)
    return python


def start_emulator() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.emulator", "--port", "0", "--latency", "instant",
         "--api-key", _SUITE_KEY],
        cwd=ROOT, stderr=subprocess.PIPE, text=True,
    )
    assert process.stderr is not None
    line = process.stderr.readline()
    if not line.startswith("Groq emulator listening on "):
        process.kill()
        raise RuntimeError(f"the emulator did not start: {line}{process.stderr.read()}")
    return process, line.rsplit(" ", 1)[1].strip().removesuffix("/openai/v1")


def run_suite(python: Path, folder: Path, base_url: str, *, with_async: bool) -> Path:
    report = folder / "report.xml"
    subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/api_resources", f"--junitxml={report}",
         "-o", "addopts=", *([] if with_async else ["-k", "not Async"])],
        cwd=folder, env={"PATH": str(python.parent), "TEST_API_BASE_URL": base_url, "HOME": str(folder)},
        check=False,
    )
    return report


def sort_results(report: Path) -> dict[str, list[str]]:
    sorted_: dict[str, list[str]] = {"passed": [], "skipped": [], "needs_any_id": [], "retired_model": [],
                                     "failed": []}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        if case.find("skipped") is not None:
            sorted_["skipped"].append(name)
        elif failure is None:
            sorted_["passed"].append(name)
        else:
            text = (failure.get("message") or "") + (failure.text or "")
            placeholder = ("Error code: 404" in text and _MISSING_ID.search(text)) or (
                "Error code: 400" in text and _PLACEHOLDER_VALUE.search(text))
            if placeholder:
                kind = "needs_any_id"
            elif "model_decommissioned" in text:
                kind = "retired_model"  # the suite still names a model Groq has shut down
            else:
                kind = "failed"
            sorted_[kind].append(name)
    return sorted_


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdk", type=Path, required=True, help="a groq-python work tree or bare clone")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (its path is printed)")
    parser.add_argument("--with-async", action="store_true",
                        help="also the AsyncGroq twins of each test; on this machine their session-scoped fixture "
                             "fails in setup under the SDK's pinned pytest before any request is sent")
    parser.add_argument("--json", default=default_json("groq_sdk_suite"))
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="groq-sdk-suite-"))
    try:
        copy_tests(args.sdk, folder)
        python = make_venv(folder / "venv")
        process, base_url = start_emulator()
        try:
            results = sort_results(run_suite(python, folder, base_url, with_async=args.with_async))
        finally:
            process.terminate()
            process.wait(timeout=30)
    finally:
        if args.keep:
            print(f"scratch folder: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print_table(
        "groq-python tests/api_resources against groq-orch emulate",
        ["passed", "skipped", "a placeholder a mock would answer", "a retired model", "failed"],
        [[len(results["passed"]), len(results["skipped"]), len(results["needs_any_id"]), len(results["retired_model"]),
          len(results["failed"])]],
    )
    for name in results["failed"]:
        print(f"  failed: {name}")
    write_json(args.json, {"suite": "groq_sdk_suite", "counts": {k: len(v) for k, v in results.items()},
                           "failed": results["failed"], "needs_any_id": results["needs_any_id"]})


if __name__ == "__main__":
    main()
