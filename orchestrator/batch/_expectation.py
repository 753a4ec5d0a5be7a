"""The batch runner's opening line: how long the rate limits make this run take (``orchestrator._expected``).

The runner knows how many jobs are left (`orchestrator.batch._io.scan_input`); what they cost, and which
models they use, it learns from a sample: the first :data:`SAMPLE_LINES` usable lines of the input, whose
model mix and token estimates are scaled to the jobs left. Reading them is one short pass at the start,
bounded whatever the file's size. The limits are those the client starts from
(`orchestrator._expected.starting_point`: configured, then the plan's table); Groq's headers may correct
them during the run, which the progress view then shows.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Final

from orchestrator._endpoint import Endpoint
from orchestrator._expected import ModelWork, expected_run_line, starting_point
from orchestrator._tokens import estimate_prompt_tokens
from orchestrator.batch._io import iter_input_lines
from orchestrator.batch._options import BatchOptions
from orchestrator.batch._records import BatchJob, parse_line

__all__ = ["SAMPLE_LINES", "expected_batch_line"]

#: Input lines read to learn the run's model mix and token costs.
SAMPLE_LINES: Final = 1000
#: Completion tokens the client's estimator charges a job that gives no ``max_completion_tokens``.
_DEFAULT_COMPLETION: Final = 256


def expected_batch_line(readable: Path, jobs_left: int, endpoint: Endpoint, options: BatchOptions) -> str:
    """``30 RPM on openai/gpt-oss-20b: 5,000 jobs need about 2 h 46 min (...)``, or "" with nothing to say.

    Args:
        readable: the input file (read from its start, at most :data:`SAMPLE_LINES` usable lines).
        jobs_left: the jobs this run will send (the input's jobs less those already answered).
        endpoint: where they go (its config's limits, model map and plan; its clock).
        options: the run's options (``model`` replaces every job's model).
    """
    if jobs_left <= 0:
        return ""
    models: Counter[str] = Counter()
    tokens: Counter[str] = Counter()
    sampled = 0
    model_map = endpoint.config.model_map
    for read, (number, raw) in enumerate(iter_input_lines(readable), start=1):
        if read > 4 * SAMPLE_LINES:
            break  # mostly unusable lines: they become error records, not requests
        parsed = parse_line(raw, number, model=options.model)
        if not isinstance(parsed, BatchJob) or not isinstance(parsed.request.model, str):
            continue
        model = model_map.get(parsed.request.model, parsed.request.model)
        request = parsed.request
        models[model] += 1
        tokens[model] += estimate_prompt_tokens(request) + (request.completion_budget or _DEFAULT_COMPLETION)
        sampled += 1
        if sampled >= SAMPLE_LINES:
            break
    if not sampled:
        return ""
    scale = jobs_left / sampled
    work = {model: ModelWork(round(count * scale), round(tokens[model] * scale)) for model, count in models.items()}
    limits, basis = starting_point(endpoint, work)
    return expected_run_line(work, limits, time_scale=endpoint.time_scale, basis=basis)
