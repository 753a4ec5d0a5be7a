"""LangChain's structured output against ``groq-orch emulate``: ``ChatGroq(...).with_structured_output(method="json_mode")``.

Structured-output libraries ask for JSON mode and then parse the reply into the keys the prompt names; an
emulator whose JSON mode ignored the prompt broke them. This check starts the emulator in its own process,
asks LangChain for an object with named keys, and prints what it parsed. It needs ``langchain-groq``, which
is not a dependency of this project::

    pip install langchain-groq
    python bench/langchain_json_mode.py

Exit status 0 when every prompt's keys came back exactly, 1 otherwise.
"""

from __future__ import annotations

import subprocess
import sys

from _common import ROOT

PROMPTS = {
    "Describe a fictional person. Reply in JSON with keys name and age.": {"name", "age"},
    "Return a JSON object with fields: title, year, director for a made-up film.": {"title", "year", "director"},
}


def main() -> int:
    try:
        from langchain_groq import ChatGroq
    except ImportError:
        print("langchain-groq is not installed: pip install langchain-groq", file=sys.stderr)
        return 2
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.emulator", "--port", "0", "--latency", "instant"],
        cwd=ROOT, stderr=subprocess.PIPE, text=True,
    )
    assert process.stderr is not None
    try:
        line = process.stderr.readline()
        base_url = line.rsplit(" ", 1)[1].strip().removesuffix("/openai/v1")
        llm = ChatGroq(model="openai/gpt-oss-20b", api_key="gsk_local", base_url=base_url, max_retries=0)
        structured = llm.with_structured_output(method="json_mode")
        failures = 0
        for prompt, keys in PROMPTS.items():
            parsed = structured.invoke(prompt)
            ok = isinstance(parsed, dict) and set(parsed) == keys
            failures += not ok
            print(f"{'ok ' if ok else 'BAD'} {sorted(keys)} -> {parsed}")
        return 1 if failures else 0
    finally:
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
