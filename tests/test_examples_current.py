"""README.md and examples/ name only models Groq still serves: a retired id there would fail every job.

README.md is checked in its fenced code blocks (what a reader copies and runs); its prose may name
retired models when it explains them. Everything in examples/ is checked line by line. In both, a
line that shows the way off a retired model (``--model-map`` or ``model_map``) may name one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestrator._retired import RETIRED_MODELS

ROOT = Path(__file__).resolve().parents[1]
_ALLOWED = ("--model-map", "model_map")
# A model id as a whole token: not part of a longer id ("gemma2-9b-it" is not "gemma2-9b-it-v2").
_RETIRED = re.compile(
    r"(?<![\w./-])(" + "|".join(re.escape(model) for model in sorted(RETIRED_MODELS, key=len, reverse=True)) + r")(?![\w.-])"
)


def code_block_lines(markdown: str) -> list[tuple[int, str]]:
    """(line number, text) of every line inside a fenced code block."""
    lines, inside = [], False
    for number, line in enumerate(markdown.splitlines(), start=1):
        if line.lstrip().startswith("```"):
            inside = not inside
            continue
        if inside:
            lines.append((number, line))
    return lines


def offenders(lines: list[tuple[int, str]]) -> list[str]:
    """``line N: model`` for each retired model named on a line that does not show --model-map."""
    found = []
    for number, line in lines:
        if any(word in line for word in _ALLOWED):
            continue
        found.extend(f"line {number}: {match.group(1)}" for match in _RETIRED.finditer(line))
    return found


def example_files() -> list[Path]:
    return sorted(path for path in (ROOT / "examples").rglob("*") if path.is_file() and "__pycache__" not in path.parts)


def test_readme_code_names_no_retired_model() -> None:
    """Every command and snippet in README.md uses a model Groq serves."""
    assert offenders(code_block_lines((ROOT / "README.md").read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize("path", example_files(), ids=lambda path: path.name)
def test_example_names_no_retired_model(path: Path) -> None:
    """No line of an example (jobs file, generator, docs) names a retired model."""
    text = path.read_text(encoding="utf-8", errors="replace")
    assert offenders(list(enumerate(text.splitlines(), start=1))) == [], path


def test_the_check_finds_a_retired_model() -> None:
    """The matcher itself works: a retired id in a code block is found, a current one and a --model-map line are not."""
    markdown = (
        "Prose may say llama-3.1-8b-instant.\n```bash\n"
        'groq-orch chat hi --model llama-3.3-70b-versatile\n'
        'echo \'{"model": "gemma2-9b-it"}\'\n'
        "groq-orch batch j.jsonl -o o.jsonl --model-map llama-3.1-8b-instant=openai/gpt-oss-20b\n"
        "groq-orch chat hi --model openai/gpt-oss-20b\n```\n"
    )
    assert offenders(code_block_lines(markdown)) == ["line 3: llama-3.3-70b-versatile", "line 4: gemma2-9b-it"]


def test_examples_directory_is_not_empty() -> None:
    """The parametrized check above has files to look at (the jobs file and its generator at least)."""
    names = {path.name for path in example_files()}
    assert {"chat-jobs.jsonl", "make_chat_jobs.py", "README.md"} <= names
