"""The rate-limit benchmark's workload: realistic chat jobs, the same for every contender.

A batch user's jobs are not one repeated one-liner: prompts range from a one-line
classification to a support ticket with a long history, and ``max_completion_tokens`` is set
per task, usually far above what the model ends up writing. Both matter here: the prompt
length decides how many tokens a job costs, and the completion *budget* decides how much of
the tokens-per-minute limit Groq (and a client's own budget) reserves before the request runs.

Five task kinds, mixed by weight (prompt sizes in words; the emulator counts ``ceil(chars/4)``
tokens per text plus 4 per message, about 1.5 tokens per word here):

=============  ======  ==================================  ======================
kind           weight  prompt                              max_completion_tokens
=============  ======  ==================================  ======================
summarize      30 %    system + ticket of 120-450 words    300
classify       20 %    review of 30-150 words              10
extract        20 %    system + invoice of 80-300 words    400
chat           20 %    system + 2-6 turns of 20-80 words   512
translate      10 %    paragraph of 60-200 words           400
=============  ======  ==================================  ======================

Prompts come to 85-860 tokens (mean about 395); the emulator writes 16-160 tokens unless the
budget cuts it first. So a job uses about 470 tokens on average while reserving about 710 up
front (prompt + budget): the workload is bound by the 8,000 tokens-per-minute limit (about 17
jobs a minute), not by the 30 requests-per-minute one.

Everything is drawn from ``random.Random(seed)``: the same seed gives the same jobs, in the
same order, byte for byte. Two variations leave the prompts as they are: jobs may alternate
between several models, and one ``max_completion_tokens`` may replace every task's own (the
benchmark's ``two-models`` and ``generous-caps`` workloads).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, Final

__all__ = ["KINDS", "MODEL", "SECOND_MODEL", "make_jobs"]

MODEL: Final = "openai/gpt-oss-20b"
#: The other model of the ``two-models`` workload (the same free-tier limits as ``MODEL``).
SECOND_MODEL: Final = "openai/gpt-oss-120b"

_WORDS: Final = (
    "account access after again agent already amount answer application approve april area "
    "available balance bank before billing broken business call card case change charge check "
    "client closed code company confirm contact contract cost credit customer data date day "
    "delivery department description details device discount document done email error "
    "estimate event expected failed feature file final follow form free future group help "
    "history hour identity important include invoice issue item last late later limit line "
    "list local login manager march message method minute missing model money month network "
    "new night notice number october office open order original package page paid partner "
    "password payment period person phone plan please policy price problem product project "
    "purchase quarter question quick reason receipt record refund region release renewal "
    "report request required response result return review room schedule screen second "
    "security send server service settings shipping short since software soon status still "
    "storage subscription support system team terms thanks ticket time today total transfer "
    "update upgrade usage user value vendor version wait warehouse week window within work "
    "working yesterday"
).split()

_NAMES: Final = ("Alice Moreau", "Bao Tran", "Carlos Ruiz", "Dana Kim", "Emeka Obi", "Fatima Zahra", "Gustav Lind")

#: (kind, weight, max_completion_tokens)
KINDS: Final = (
    ("summarize", 30, 300),
    ("classify", 20, 10),
    ("extract", 20, 400),
    ("chat", 20, 512),
    ("translate", 10, 400),
)


def _text(rng: random.Random, low: int, high: int) -> str:
    """Sentences of plausible support-desk vocabulary, ``low``-``high`` words in all."""
    count = rng.randint(low, high)
    sentences: list[str] = []
    written = 0
    while written < count:
        length = min(count - written, rng.randint(6, 18))
        words = rng.choices(_WORDS, k=length)
        if rng.random() < 0.3:
            words[rng.randrange(length)] = str(rng.randint(2, 9999))
        sentences.append(" ".join(words).capitalize() + ".")
        written += length
    return " ".join(sentences)


def _summarize(rng: random.Random) -> list[dict[str, str]]:
    name = rng.choice(_NAMES)
    return [
        {"role": "system", "content": "You are a support lead. Summarize tickets for the morning hand-over."},
        {
            "role": "user",
            "content": f"Summarize this ticket from {name} in three bullet points, then give it a priority "
            f"(P1-P4).\n\nTicket #{rng.randint(10000, 99999)}:\n{_text(rng, 120, 450)}",
        },
    ]


def _classify(rng: random.Random) -> list[dict[str, str]]:
    return [
        {
            "role": "user",
            "content": "Classify the sentiment of this product review as positive, negative or neutral. "
            f"Answer with one word.\n\nReview: {_text(rng, 30, 150)}",
        }
    ]


def _extract(rng: random.Random) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "Extract structured data. Reply with a JSON object only."},
        {
            "role": "user",
            "content": "From the invoice below, extract vendor, invoice number, dates, line items (description, "
            f"quantity, unit price) and the total.\n\n{_text(rng, 80, 300)}",
        },
    ]


def _chat(rng: random.Random) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": "You are a helpful assistant for a software company's customers."}]
    for turn in range(rng.randint(2, 6)):
        role = "user" if turn % 2 == 0 else "assistant"
        messages.append({"role": role, "content": _text(rng, 20, 80)})
    if messages[-1]["role"] == "user":
        messages.append({"role": "assistant", "content": _text(rng, 20, 80)})
    messages.append({"role": "user", "content": f"Thanks. {_text(rng, 8, 30)} What should I do next?"})
    return messages


def _translate(rng: random.Random) -> list[dict[str, str]]:
    language = rng.choice(("French", "German", "Spanish", "Japanese", "Portuguese"))
    return [{"role": "user", "content": f"Translate into {language}, keeping the formatting:\n\n{_text(rng, 60, 200)}"}]


_BUILDERS: Final = {
    "summarize": _summarize,
    "classify": _classify,
    "extract": _extract,
    "chat": _chat,
    "translate": _translate,
}


def make_jobs(
    count: int,
    seed: int = 0,
    model: str | Sequence[str] = MODEL,
    *,
    max_completion_tokens: int | None = None,
) -> list[tuple[int, dict[str, Any]]]:
    """``count`` ``(key, request)`` pairs: chat requests as plain dicts, keys ``0..count-1``.

    Plain dicts in the OpenAI shape, so every contender sends the same JSON body: our client
    takes them as they are, the SDK as keyword arguments, the parallel processor as the body.

    ``model`` may be several models: job ``key`` then asks for ``model[key % len(model)]`` (they
    alternate). ``max_completion_tokens`` replaces every task's own budget. Neither draws from
    the random generator, so the prompts are the same whatever the models and the budget.
    """
    if count < 1:
        raise ValueError(f"count={count!r} must be at least 1 job")
    models = (model,) if isinstance(model, str) else tuple(model)
    if not models:
        raise ValueError("model must name at least one model")
    if max_completion_tokens is not None and max_completion_tokens < 1:
        raise ValueError(f"max_completion_tokens={max_completion_tokens!r} must be at least 1")
    rng = random.Random(seed)
    kinds = [kind for kind, _, _ in KINDS]
    weights = [weight for _, weight, _ in KINDS]
    budgets = {kind: budget for kind, _, budget in KINDS}
    jobs = []
    for key in range(count):
        kind = rng.choices(kinds, weights)[0]
        request = {
            "model": models[key % len(models)],
            "messages": _BUILDERS[kind](rng),
            "max_completion_tokens": budgets[kind] if max_completion_tokens is None else max_completion_tokens,
            "temperature": round(rng.uniform(0.0, 1.0), 2),
        }
        jobs.append((key, request))
    return jobs
