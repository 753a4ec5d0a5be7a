"""Deterministic instances of a JSON Schema: the emulator's tool-call arguments and json_schema replies.

Why this exists: when a client asks the emulator for a tool call or a ``json_schema`` response, a real model
returns *some* JSON that (usually) fits the schema.  The emulator must return JSON that always fits it, and the
same JSON for the same seed, so tests can assert on it and benchmarks are repeatable.

Theory of operation
-------------------
``fake_instance(schema, rng)`` walks the schema once, top-down, drawing every choice from ``rng``:

1. *Normalise* the node: ``$ref`` (local JSON pointers only: ``#/$defs/x``, ``#/definitions/x``, ``#``) is
   replaced by its target merged with its sibling keywords; ``allOf`` branches are merged into one schema
   (bounds tightened, ``required`` united, ``properties`` combined, ``type``/``enum`` intersected).
2. *Choose*: ``anyOf`` / ``oneOf`` pick a branch (in an rng-shuffled order) and merge it with the siblings;
   for ``oneOf`` the instance is then checked with ``jsonschema`` against the other branches and the next
   branch is tried if it matched more than one.
3. *Generate*: ``const`` and ``enum`` win; otherwise ``type`` (a list of types picks one, preferring non-null;
   a missing type is inferred from the keywords present) selects a generator for objects, arrays, strings,
   numbers, integers, booleans or null, each honouring its bounds.

Optional object properties are included with probability one half until the nesting depth reaches
``_SOFT_DEPTH``; below that only what is required is generated, so recursive schemas (trees, linked lists)
terminate.  Required recursion deeper than ``_HARD_DEPTH`` is unsatisfiable in practice and raises.

What it does *not* do: remote ``$ref``s, ``$id``-relative resolution, ``not``, ``if/then/else``,
``propertyNames`` and ``dependentSchemas`` are ignored (the result may then not validate); string
``pattern`` is supported for the regular-expression subset Python's parser understands without lookarounds.
A schema that cannot be satisfied raises ``UnsatisfiableSchemaError`` naming the schema path and rule.

JSON mode without a schema (``json_object``): :func:`json_object_for` builds the object whose keys the prompt
names ("with keys name and age", "fields: title, year", "JSON with `name` and `age`"), values chosen by key
name; see the section above it.
"""

from __future__ import annotations

import copy
import datetime
import functools
import json
import math
import random
import re
import uuid
from fractions import Fraction
from urllib.parse import unquote
from typing import Any

from re import _constants as _sre  # type: ignore[attr-defined]
from re import _parser as _sre_parse  # type: ignore[attr-defined]

__all__ = ["WORDS", "UnsatisfiableSchemaError", "fake_instance", "json_object_for", "keys_named_in"]

_SOFT_DEPTH = 4
_HARD_DEPTH = 32
_MAX_REF_CHAIN = 64
_DEFAULT_SPAN = 100
_ATTEMPTS = 20
_ONE_OF_TRIES = 4
# Bounds on the work one (possibly hostile) schema can ask for: values generated, string length, repeats.
_MAX_VALUES = 20_000
_MAX_STRING = 10_000

_WORDS = (
    "alpha", "amber", "apple", "breeze", "cedar", "cobalt", "delta", "ember", "falcon", "garden",
    "harbor", "indigo", "juniper", "kettle", "lantern", "meadow", "nectar", "orbit", "pepper", "quartz",
    "river", "saffron", "timber", "umber", "velvet", "willow", "xenon", "yonder", "zephyr", "north",
)
#: The filler words of generated strings (also the emulator's search-result titles).
WORDS = _WORDS
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_PRINTABLE = _LETTERS + _LETTERS.upper() + "0123456789 _-.,:;!?/@#"

_OBJECT_KEYS = frozenset(
    {"properties", "required", "additionalProperties", "patternProperties", "minProperties", "maxProperties",
     "dependentRequired", "dependencies"}
)
_ARRAY_KEYS = frozenset({"items", "prefixItems", "additionalItems", "minItems", "maxItems", "uniqueItems", "contains"})
_NUMBER_KEYS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"})
_LOWER_BOUNDS = frozenset({"minLength", "minItems", "minProperties", "minContains"})
_UPPER_BOUNDS = frozenset({"maxLength", "maxItems", "maxProperties", "maxContains"})


class UnsatisfiableSchemaError(ValueError):
    """The schema admits no instance this generator can build.

    Raised instead of returning JSON that would fail validation: the emulator turns it into a 400, so a client
    with a broken schema learns about it rather than receiving a silently wrong tool call.

    Attributes:
        path: JSON-pointer-like location in the schema (``#/properties/items/minItems``).
        rule: what cannot be satisfied, in words.
    """

    def __init__(self, path: str, rule: str) -> None:
        self.path = path
        self.rule = rule
        super().__init__(f"schema at {path} cannot be satisfied: {rule}; fix the schema so it admits a value")


def fake_instance(schema: dict[str, Any] | bool, rng: random.Random) -> object:
    """Return a JSON-compatible value valid against ``schema``, built only from draws on ``rng``.

    The same schema and the same ``rng`` state always give the same value, so seeding ``rng`` from the
    emulator seed and the request makes tool-call arguments reproducible.

    Args:
        schema: a JSON Schema (draft 4 to 2020-12 keywords) as decoded JSON, or a boolean schema.
        rng: the source of every choice; advanced by the call.

    Returns:
        Plain ``dict``/``list``/``str``/``int``/``float``/``bool``/``None`` data, ready for ``json.dumps``.

    Raises:
        UnsatisfiableSchemaError: the schema is contradictory (``false``, ``minimum > maximum``, an empty
            ``enum``, unresolvable ``$ref``, required recursion without end, ...).
    """
    return _Generator(schema, rng).generate(schema, "#", 0)


# -- JSON mode: the keys the prompt names ---------------------------------------------------------------------
#
# A ``json_object`` request has no schema, but its prompt usually says what the object holds: "with keys name
# and age", "fields: title, year", "return JSON with `name` and `age`". A model follows that, so the emulator
# does too: the named keys, exactly, with values a reader would expect of the name (numbers for age, year,
# counts and prices, booleans for is_/has_ flags, lists for tags, formatted strings for emails, URLs and
# dates, strings otherwise). No key named: the caller's default object.

#: "keys: a, b", "with the fields a and b", "properties `a`, `b`" ... up to the end of the clause.
_KEY_LIST = re.compile(
    r"\b(?:(?:keys|fields|properties|attributes|columns)\b\s*(?:named|called)?\s*[:=]?"
    r"|(?:key|field|property|attribute|column)\s*(?:[:=]|\bnamed\b|\bcalled\b|(?=\s*[`\"'])))\s*"
    r"(?P<items>[^.;!?\n]+)",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"[`\"']([^`\"']{1,64})[`\"']")
#: "JSON with `a` and `b`", "a JSON object containing "a", "b"".
_JSON_WITH = re.compile(
    r"\bjson(?:\s+object)?\s+(?:with|containing|having|that has)\s+(?P<items>[^.;!?\n]+)", re.IGNORECASE
)
#: Words that end the list of names ("with keys name and age for a person").
_LIST_END = re.compile(
    r"\s(?:for|about|describing|that|which|where|to|from|of|in|representing|based|if|when|so|please|each|with|"
    r"whose|like|as|only|describe|given|are|is|should|must|will|you|we)\s", re.IGNORECASE,
)
#: "the keys are a, b", "fields should be a and b", "with properties including a, b".
_LEAD_IN = re.compile(r"^\s*(?:are|is|should be|must be|include|including)\s+", re.IGNORECASE)
_SPLIT = re.compile(r"\s*(?:,|\band\b|\bor\b|&|/|\+)\s*", re.IGNORECASE)
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
_STOP_WORDS = frozenset({"a", "an", "the", "these", "following", "this", "its", "their", "some", "two", "three"})
_MAX_KEYS = 32

_INTEGER_KEYS = frozenset({
    "age", "year", "count", "number", "num", "quantity", "qty", "total", "id", "size", "length", "width", "height",
    "weight", "population", "rank", "index", "level", "minutes", "seconds", "hours", "days", "pages", "votes",
    "stock", "views", "likes", "floor", "month", "day", "duration", "runtime", "capacity", "version", "priority",
})
_FLOAT_KEYS = frozenset({
    "price", "cost", "amount", "score", "rating", "percent", "percentage", "temperature", "latitude", "longitude",
    "lat", "lon", "lng", "confidence", "probability", "ratio", "rate", "salary", "balance", "distance",
})
_BOOL_KEYS = frozenset({
    "active", "enabled", "valid", "available", "verified", "done", "completed", "success", "approved", "visible",
})
_LIST_KEYS = frozenset({
    "tags", "keywords", "items", "skills", "genres", "ingredients", "steps", "authors", "languages", "topics",
    "categories", "hobbies", "colors", "colours", "features", "examples", "aliases", "members", "actors",
})
_FIRST_NAMES = ("Alex", "Maria", "Jun", "Priya", "Omar", "Lena", "Tomas", "Aiko", "Sam", "Nadia")
_LAST_NAMES = ("Rivera", "Chen", "Okafor", "Novak", "Haddad", "Silva", "Berg", "Tanaka", "Kowalski", "Moreau")


def _clean_key(item: str, *, quoted_only: bool) -> str | None:
    """One listed name as a key, or None if it is not one.

    A quoted name (backticks, double or single quotes) may hold spaces, which become underscores; an unquoted
    one must be a single word ("key facts", "fields you think are relevant" name nothing). Leading articles
    ("the", "a") are dropped.
    """
    words = item.split()
    while len(words) > 1 and words[0].lower() in _STOP_WORDS:  # "a" alone is a key, "a title" is not
        words.pop(0)
    text = " ".join(words).rstrip(":")
    quoted = _QUOTED.fullmatch(text)
    if quoted is not None:
        key = "_".join(quoted.group(1).split())
    elif quoted_only or len(words) != 1:
        return None
    else:
        key = text.strip("*()[]{}")
    return key if _KEY.fullmatch(key) else None


def _keys_in(items: str, *, quoted_only: bool) -> list[str]:
    items = _LEAD_IN.sub("", items)
    items = _LIST_END.split(" " + items + " ", maxsplit=1)[0]
    keys: list[str] = []
    for item in _SPLIT.split(items):
        key = _clean_key(item, quoted_only=quoted_only)
        if key is None:
            continue
        if key not in keys:
            keys.append(key)
    return keys[:_MAX_KEYS]


def keys_named_in(texts: list[str]) -> list[str]:
    """The JSON keys a prompt names ("with keys name and age", "fields: title, year", "JSON with `a` and `b`").

    ``texts`` are the messages' texts, oldest first; the latest message that names keys wins. After "keys",
    "fields", "properties"... (plural, or singular before a colon) the names may be bare words; after "JSON
    with" they must be quoted. Empty if no message names keys.
    """
    for text in reversed(texts):
        for pattern, quoted_only in ((_KEY_LIST, False), (_JSON_WITH, True)):
            for match in pattern.finditer(text):
                keys = _keys_in(match.group("items"), quoted_only=quoted_only)
                if keys:
                    return keys
    return []


def _value_for(key: str, rng: random.Random) -> object:
    """A plausible value for a key, judged by its name (its last ``_``/``.``/``-`` part, lower-cased)."""
    name = key.lower()
    last = re.split(r"[_.-]", name)[-1] or name
    if name.startswith(("is_", "has_", "can_", "should_")) or last in _BOOL_KEYS:
        return rng.random() < 0.5
    if last == "age":
        return rng.randint(18, 90)
    if last == "year":
        return rng.randint(1950, 2025)
    if last in _INTEGER_KEYS or name.startswith(("num_", "n_", "number_of_", "count_")) or name.endswith("_count"):
        return rng.randint(1, 100)
    if last in ("rating", "stars"):
        return round(rng.uniform(1, 5), 1)
    if last in _FLOAT_KEYS:
        return round(rng.uniform(0, 1), 2) if last in ("confidence", "probability", "ratio") else round(
            rng.uniform(1, 500), 2)
    if last in _LIST_KEYS:
        return [rng.choice(_WORDS) for _ in range(rng.randint(1, 3))]
    if last in ("email", "mail"):
        return _fake_email(rng)
    if last in ("url", "uri", "link", "website", "homepage"):
        return _fake_uri(rng)
    if last in ("date", "birthday", "dob") or name.endswith("_at") or name.endswith("_on"):
        return _fake_date(rng)
    if last == "name" or name in ("author", "person", "director", "artist", "owner", "user", "username"):
        if name in ("username", "user_name"):
            return f"{rng.choice(_WORDS)}{rng.randint(1, 99)}"
        return f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}"
    if last in ("title", "headline", "subject"):
        return " ".join(word.capitalize() for word in rng.sample(_WORDS, rng.randint(2, 4)))
    if last in ("city", "country", "location", "place", "color", "colour", "category", "genre", "status", "type"):
        return rng.choice(_WORDS)
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(2, 6)))


def json_object_for(texts: list[str], rng: random.Random) -> dict[str, object] | None:
    """The ``json_object`` reply whose keys are exactly those the prompt names, or None if it names none.

    Deterministic: the same texts and ``rng`` state give the same object (``rng`` is drawn only when keys are named).
    """
    keys = keys_named_in(texts)
    if not keys:
        return None
    return {key: _value_for(key, rng) for key in keys}


class _Generator:
    """One generation run: the root (for ``$ref``) and the rng, shared by the recursive walk."""

    __slots__ = ("_root", "_rng", "_budget")

    def __init__(self, root: dict[str, Any] | bool, rng: random.Random) -> None:
        self._root = root
        self._rng = rng
        self._budget = _MAX_VALUES

    # -- normalisation -------------------------------------------------------------------------------

    def generate(self, schema: Any, path: str, depth: int) -> object:
        """Produce an instance of ``schema`` found at ``path``, ``depth`` containers below the root."""
        if depth > _HARD_DEPTH:
            raise UnsatisfiableSchemaError(path, f"required nesting deeper than {_HARD_DEPTH} levels")
        self._budget -= 1
        if self._budget < 0:
            raise UnsatisfiableSchemaError(path, f"an instance needs more than {_MAX_VALUES} values; lower minItems/minProperties")
        node = self._normalise(schema, path)
        for key in ("oneOf", "anyOf"):
            if key in node:
                return self._choose(node, key, path, depth)
        return self._concrete(node, path, depth)

    def _normalise(self, schema: Any, path: str, hops: int = 0) -> dict[str, Any]:
        """Resolve ``$ref`` and fold ``allOf`` so the node is one plain schema dict.

        ``hops`` counts ``$ref``/``allOf`` steps taken so far, so a reference cycle raises instead of recursing.
        """
        node = _as_dict(schema, path)
        while hops <= _MAX_REF_CHAIN:
            hops += 1
            if "$ref" in node:
                target = _as_dict(self._resolve(node["$ref"], path), path)
                rest = {k: v for k, v in node.items() if k != "$ref"}
                node = _merge(target, rest, path) if rest else target
            elif "allOf" in node:
                branches = node["allOf"]
                if not isinstance(branches, list):
                    raise UnsatisfiableSchemaError(path + "/allOf", "allOf must be a list of schemas")
                folded = {k: v for k, v in node.items() if k != "allOf"}
                for i, branch in enumerate(branches):
                    folded = _merge(folded, self._normalise(branch, f"{path}/allOf/{i}", hops), path)
                node = folded
            else:
                return node
        raise UnsatisfiableSchemaError(path, f"more than {_MAX_REF_CHAIN} chained $ref/allOf hops (a cycle?)")

    def _resolve(self, ref: Any, path: str) -> Any:
        """Follow a local JSON pointer (``#``, ``#/$defs/name``, ``#/definitions/name``) from the root."""
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise UnsatisfiableSchemaError(path, f"only local $ref pointers starting with '#' are supported, got {ref!r}")
        target: Any = self._root
        pointer = ref[1:]
        if pointer and not pointer.startswith("/"):
            raise UnsatisfiableSchemaError(path, f"$ref {ref!r} is not a JSON pointer ('#/...')")
        for raw in pointer.split("/")[1:]:
            part = _unescape_pointer(raw)
            if isinstance(target, dict) and part in target:
                target = target[part]
            elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                target = target[int(part)]
            else:
                raise UnsatisfiableSchemaError(path, f"$ref {ref!r} points at nothing in the schema")
        return target

    def _choose(self, node: dict[str, Any], key: str, path: str, depth: int) -> object:
        """Pick an ``anyOf``/``oneOf`` branch, merged with its siblings; ``oneOf`` must match only one."""
        branches = node[key]
        if not isinstance(branches, list) or not branches:
            raise UnsatisfiableSchemaError(f"{path}/{key}", f"{key} must be a non-empty list of schemas")
        rest = {k: v for k, v in node.items() if k != key}
        order = list(range(len(branches)))
        self._rng.shuffle(order)
        last_error: UnsatisfiableSchemaError | None = None
        for i in order:
            branch_path = f"{path}/{key}/{i}"
            try:
                merged = _merge(rest, self._normalise(branches[i], branch_path), branch_path)
            except UnsatisfiableSchemaError as error:
                last_error = error
                continue
            for _ in range(_ONE_OF_TRIES):
                try:
                    value = self.generate(merged, branch_path, depth)
                except UnsatisfiableSchemaError as error:
                    last_error = error
                    break
                if key == "anyOf" or not any(
                    self._matches(branches[j], value) for j in range(len(branches)) if j != i
                ):
                    return value
                last_error = UnsatisfiableSchemaError(branch_path, "every generated value also matched another oneOf branch")
        assert last_error is not None
        raise last_error

    def _matches(self, branch: Any, value: object) -> bool:
        """Whether ``value`` validates against ``branch`` with the root's definitions in scope."""
        if isinstance(branch, bool):
            return branch
        wrapped = dict(branch)
        if isinstance(self._root, dict):
            for defs in ("$defs", "definitions"):
                if defs in self._root and defs not in wrapped:
                    wrapped[defs] = self._root[defs]
        # Imported here, as in the validator: jsonschema takes a tenth of a second to import and only oneOf needs it.
        import referencing.exceptions
        from jsonschema.validators import Draft202012Validator, validator_for

        validator = validator_for(self._root, default=Draft202012Validator)
        try:
            return bool(validator(wrapped).is_valid(value))
        except referencing.exceptions.Unresolvable:
            return False

    # -- concrete values -----------------------------------------------------------------------------

    def _concrete(self, node: dict[str, Any], path: str, depth: int) -> object:
        """Generate from a normalised node without combinators."""
        if "const" in node:
            return copy.deepcopy(node["const"])
        kind = self._pick_type(node, path)
        if "enum" in node:
            options = [v for v in node["enum"] if kind is None or _has_type(v, kind)]
            if not options:
                raise UnsatisfiableSchemaError(f"{path}/enum", f"no enum value has type {kind!r}")
            return copy.deepcopy(self._rng.choice(options))
        if kind == "object":
            return self._object(node, path, depth)
        if kind == "array":
            return self._array(node, path, depth)
        if kind in ("number", "integer"):
            return self._number(node, path, kind == "integer")
        if kind == "boolean":
            return self._rng.random() < 0.5
        if kind == "null":
            return None
        return self._string(node, path)

    def _pick_type(self, node: dict[str, Any], path: str) -> str | None:
        """The one JSON type to generate: declared, chosen from a list, or inferred from keywords."""
        declared = node.get("type")
        if isinstance(declared, str):
            return declared
        if isinstance(declared, list):
            if not declared:
                raise UnsatisfiableSchemaError(f"{path}/type", "an empty list of types admits nothing")
            non_null = [t for t in declared if t != "null"]
            return self._rng.choice(non_null) if non_null else "null"
        if "enum" in node:
            return None
        keys = node.keys()
        if keys & _OBJECT_KEYS:
            return "object"
        if keys & _ARRAY_KEYS:
            return "array"
        if keys & _NUMBER_KEYS:
            return "number"
        return "string"

    def _object(self, node: dict[str, Any], path: str, depth: int) -> dict[str, object]:
        properties: dict[str, Any] = node.get("properties") or {}
        required = list(dict.fromkeys(node.get("required") or []))
        additional = node.get("additionalProperties", True)
        minimum = int(node.get("minProperties", 0))
        maximum = int(node.get("maxProperties", max(len(properties), minimum, len(required))))
        if len(required) > maximum:
            raise UnsatisfiableSchemaError(path, f"{len(required)} required properties but maxProperties is {maximum}")
        for name in required:
            if name not in properties and additional is False and not _pattern_schema(node, name):
                raise UnsatisfiableSchemaError(path, f"property {name!r} is required but additionalProperties is false")
        chosen = dict.fromkeys(required)  # an ordered set: iteration order must not depend on str hashing
        optional = [name for name in properties if name not in chosen and properties[name] is not False]
        if depth < _SOFT_DEPTH:
            for name in optional:
                if len(chosen) < maximum and self._rng.random() < 0.5:
                    chosen[name] = None
        for name in optional:
            if len(chosen) >= minimum:
                break
            chosen[name] = None
        self._add_dependencies(node, chosen)
        result: dict[str, object] = {}
        for name in [*[n for n in properties if n in chosen], *[n for n in chosen if n not in properties]]:
            schema = properties.get(name, _pattern_schema(node, name) or _extra_schema(additional))
            result[name] = self.generate(schema, f"{path}/properties/{name}", depth + 1)
        extra = 0
        while len(result) < minimum:
            if additional is False:
                raise UnsatisfiableSchemaError(path, f"minProperties {minimum} needs more properties than are allowed")
            extra += 1
            name = f"extra_{extra}"
            schema = _pattern_schema(node, name) or _extra_schema(additional)
            result[name] = self.generate(schema, f"{path}/additionalProperties", depth + 1)
        return result

    def _add_dependencies(self, node: dict[str, Any], chosen: dict[str, None]) -> None:
        """Close ``chosen`` under ``dependentRequired`` (and draft-7 array ``dependencies``)."""
        rules: dict[str, Any] = {**(node.get("dependencies") or {}), **(node.get("dependentRequired") or {})}
        changed = True
        while changed:
            changed = False
            for trigger, needed in rules.items():
                if trigger in chosen and isinstance(needed, list):
                    for name in needed:
                        if name not in chosen:
                            chosen[name] = None
                            changed = True

    def _array(self, node: dict[str, Any], path: str, depth: int) -> list[object]:
        items = node.get("items", True)
        prefix: list[Any] = node.get("prefixItems") or []
        if isinstance(items, list):
            prefix, items = items, node.get("additionalItems", True)
        low = int(node.get("minItems", 0))
        high = node.get("maxItems")
        if items is False:
            high = len(prefix) if high is None else min(int(high), len(prefix))
        if high is not None and int(high) < low:
            raise UnsatisfiableSchemaError(path, f"minItems {low} is greater than maxItems {high}")
        if depth >= _SOFT_DEPTH:
            count = low
        else:
            start = max(low, 1)
            top = start + 2
            if high is not None:
                top = min(top, int(high))
                start = min(start, top)
            count = self._rng.randint(start, top)
        unique = bool(node.get("uniqueItems"))
        result: list[object] = []
        seen: set[str] = set()
        for index in range(count):
            schema = prefix[index] if index < len(prefix) else items
            item_path = f"{path}/prefixItems/{index}" if index < len(prefix) else f"{path}/items"
            value = self.generate(schema, item_path, depth + 1)
            attempts = 1
            while unique and _canonical(value) in seen and attempts < _ATTEMPTS:
                value = self.generate(schema, item_path, depth + 1)
                attempts += 1
            if unique and _canonical(value) in seen:
                if len(result) >= low:
                    break
                raise UnsatisfiableSchemaError(item_path, f"cannot find {low} distinct items for uniqueItems")
            seen.add(_canonical(value))
            result.append(value)
        if "contains" in node:
            self._place_contains(node, result, items, prefix, path, depth)
        return result

    def _place_contains(
        self, node: dict[str, Any], result: list[object], items: Any, prefix: list[Any], path: str, depth: int
    ) -> None:
        """Overwrite ``minContains`` (default 1) slots with values valid for ``contains`` and the slot's schema."""
        wanted = int(node.get("minContains", 1))
        if wanted == 0:
            return
        if wanted > _MAX_VALUES:
            raise UnsatisfiableSchemaError(path, f"minContains {wanted} is over the emulator's {_MAX_VALUES}-value limit")
        while len(result) < wanted:
            result.append(None)
        for index in sorted(self._rng.sample(range(len(result)), wanted)):
            slot = prefix[index] if index < len(prefix) else items
            merged = _merge(self._normalise(slot, path + "/items"), self._normalise(node["contains"], path + "/contains"), path)
            result[index] = self.generate(merged, f"{path}/contains", depth + 1)

    def _string(self, node: dict[str, Any], path: str) -> str:
        low = int(node.get("minLength", 0))
        high = int(node["maxLength"]) if "maxLength" in node else None
        if high is not None and high < low:
            raise UnsatisfiableSchemaError(path, f"minLength {low} is greater than maxLength {high}")
        if low > _MAX_STRING:
            raise UnsatisfiableSchemaError(path, f"minLength {low} is over the emulator's {_MAX_STRING}-character limit")
        fmt = node.get("format")
        maker = _FORMATS.get(fmt) if isinstance(fmt, str) else None
        pattern = node.get("pattern")
        compiled = self._compiled(pattern, path) if isinstance(pattern, str) else None
        if maker is not None:
            text = maker(self._rng)
            fits = low <= len(text) and (high is None or len(text) <= high)
            if fits and (compiled is None or compiled[0].search(text)):
                return text
            if not isinstance(pattern, str):
                raise UnsatisfiableSchemaError(path, f"format {fmt!r} values do not fit minLength {low} / maxLength {high}")
        if isinstance(pattern, str) and compiled is not None:
            return self._patterned(pattern, compiled, low, high, path)
        if high is None:
            high = low + 20 if low > 0 else 16
        length = self._rng.randint(max(low, min(3, high)), max(low, min(high, max(low, 3) + 12)))
        return _text_of_length(self._rng, length)

    @staticmethod
    def _compiled(pattern: str, path: str) -> tuple[re.Pattern[str], Any]:
        """The pattern compiled and parsed, or an UnsatisfiableSchemaError if it is not a regex."""
        try:
            return _parse_pattern(pattern)
        except re.error as error:
            raise UnsatisfiableSchemaError(path + "/pattern", f"pattern {pattern!r} is not a valid regex ({error})") from None

    def _patterned(self, pattern: str, parsed: tuple[re.Pattern[str], Any], low: int, high: int | None, path: str) -> str:
        """A string matching ``pattern`` (``re.search`` semantics, as jsonschema checks) within the bounds."""
        compiled, tree = parsed
        spread = max(4, low)
        for _ in range(_ATTEMPTS):
            try:
                text = _RegexWriter(self._rng, spread).emit(tree)
            except _UnsupportedRegex as error:
                raise UnsatisfiableSchemaError(path + "/pattern", f"pattern {pattern!r} uses {error}, which is unsupported")
            if compiled.search(text) and low <= len(text) and (high is None or len(text) <= high):
                return text
        raise UnsatisfiableSchemaError(
            path + "/pattern", f"no string matching {pattern!r} with length {low}..{high} was found"
        )

    def _number(self, node: dict[str, Any], path: str, integer: bool) -> int | float:
        low, low_open = _bound(node, "minimum", "exclusiveMinimum")
        high, high_open = _bound(node, "maximum", "exclusiveMaximum")
        if low is None and high is None:
            low, high = 0.0, float(_DEFAULT_SPAN)
        elif low is None:
            assert high is not None
            low = high - _DEFAULT_SPAN
        elif high is None:
            high = low + _DEFAULT_SPAN
        step = node.get("multipleOf")
        if step is not None or integer:
            return self._stepped(low, low_open, high, high_open, step, integer, path)
        if low > high or (low == high and (low_open or high_open)):
            raise UnsatisfiableSchemaError(path, f"no number between {low} and {high} (exclusive bounds)")
        for _ in range(_ATTEMPTS):
            value = round(self._rng.uniform(low, high), 2)
            if _inside(value, low, low_open, high, high_open):
                return value
        middle = (low + high) / 2
        if _inside(middle, low, low_open, high, high_open):
            return middle
        raise UnsatisfiableSchemaError(path, f"no number strictly between {low} and {high}")

    def _stepped(
        self, low: float, low_open: bool, high: float, high_open: bool, step: Any, integer: bool, path: str
    ) -> int | float:
        """A multiple of ``step`` (or of 1 for integers) inside the bounds."""
        if step is not None and (not isinstance(step, (int, float)) or step <= 0):
            raise UnsatisfiableSchemaError(path + "/multipleOf", f"multipleOf must be a positive number, got {step!r}")
        unit = Fraction(step if step is not None else 1).limit_denominator(10**9)
        if integer:
            unit = Fraction(unit.numerator)  # k * p/q is an integer exactly when k * p/q is a multiple of p
        first = math.ceil(Fraction(low) / unit)
        last = math.floor(Fraction(high) / unit)
        if last - first <= _ATTEMPTS:
            candidates = list(range(first, last + 1))
            self._rng.shuffle(candidates)
        else:
            candidates = [self._rng.randint(first, last) for _ in range(_ATTEMPTS)] + [first + 1, last - 1]
        for k in candidates:
            exact = unit * k
            value: int | float = int(exact) if integer or isinstance(step, int) else float(exact)
            if not _inside(value, low, low_open, high, high_open):
                continue
            if isinstance(step, float) and isinstance(value, float) and not (value / step).is_integer():
                continue
            return value
        raise UnsatisfiableSchemaError(path, f"no {'integer' if integer else 'multiple of ' + str(step)} between {low} and {high}")


# -- helpers ----------------------------------------------------------------------------------------------


def _merge(a: dict[str, Any], b: dict[str, Any], path: str) -> dict[str, Any]:
    """Combine two normalised schemas as ``allOf`` would: every constraint of both applies."""
    merged = dict(a)
    for key, value in b.items():
        if key not in merged:
            merged[key] = value
            continue
        mine = merged[key]
        if key == "properties":
            combined = dict(mine)
            for name, schema in value.items():
                combined[name] = {"allOf": [combined[name], schema]} if name in combined else schema
            merged[key] = combined
        elif key == "required":
            merged[key] = list(dict.fromkeys([*mine, *value]))
        elif key == "type":
            left = {mine} if isinstance(mine, str) else set(mine)
            right = {value} if isinstance(value, str) else set(value)
            both = left & right
            if "integer" in left and "number" in right or "number" in left and "integer" in right:
                both.add("integer")
            if not both:
                raise UnsatisfiableSchemaError(path, f"types {sorted(left)} and {sorted(right)} do not overlap")
            merged[key] = sorted(both)
        elif key == "enum":
            merged[key] = [v for v in mine if any(_canonical(v) == _canonical(w) for w in value)]
            if not merged[key]:
                raise UnsatisfiableSchemaError(path, "the enums of merged schemas have no value in common")
        elif key == "const" and _canonical(mine) != _canonical(value):
            raise UnsatisfiableSchemaError(path, f"const {mine!r} conflicts with const {value!r}")
        elif key in ("minimum", "exclusiveMinimum") and not isinstance(value, bool) and not isinstance(mine, bool):
            merged[key] = max(mine, value)
        elif key in ("maximum", "exclusiveMaximum") and not isinstance(value, bool) and not isinstance(mine, bool):
            merged[key] = min(mine, value)
        elif key in _LOWER_BOUNDS:
            merged[key] = max(mine, value)
        elif key in _UPPER_BOUNDS:
            merged[key] = min(mine, value)
        elif key in ("items", "additionalProperties", "contains") and isinstance(mine, dict) and isinstance(value, dict):
            merged[key] = {"allOf": [mine, value]}
        elif key in ("additionalProperties", "items") and (mine is False or value is False):
            merged[key] = False
        elif key in ("anyOf", "oneOf"):
            merged[key] = [{"allOf": [branch, {key: value}]} for branch in mine]  # distribute: (a1|a2) & B
        elif key == "allOf":
            merged[key] = [*mine, *value]
        elif key == "uniqueItems":
            merged[key] = bool(mine) or bool(value)
        else:
            merged[key] = value
    _restrict_closed_properties(merged, a, b, path)
    return merged


def _restrict_closed_properties(merged: dict[str, Any], a: dict[str, Any], b: dict[str, Any], path: str) -> None:
    """Honour ``additionalProperties: false`` of one side: the other side may not add property names."""
    for side in (a, b):
        if side.get("additionalProperties") is False and "properties" in merged:
            allowed = set(side.get("properties") or {})
            if side.get("patternProperties"):
                continue
            merged["properties"] = {k: v for k, v in merged["properties"].items() if k in allowed}
            missing = [name for name in merged.get("required", []) if name not in allowed]
            if missing:
                raise UnsatisfiableSchemaError(path, f"required {missing} excluded by additionalProperties: false")


def _as_dict(schema: Any, path: str) -> dict[str, Any]:
    """A schema as a dict: ``true`` is ``{}``, ``false`` and non-schemas raise."""
    if schema is True:
        return {}
    if schema is False:
        raise UnsatisfiableSchemaError(path, "the schema is `false`, which admits nothing")
    if not isinstance(schema, dict):
        raise UnsatisfiableSchemaError(path, f"a schema must be an object or a boolean, got {schema!r:.60}")
    return schema


def _unescape_pointer(part: str) -> str:
    """Undo JSON-pointer (``~1`` ``~0``) and URI percent escaping of one reference token."""
    return unquote(part).replace("~1", "/").replace("~0", "~")


def _pattern_schema(node: dict[str, Any], name: str) -> Any:
    """The ``patternProperties`` schema that applies to ``name``, or None."""
    for pattern, schema in (node.get("patternProperties") or {}).items():
        if re.search(pattern, name):
            return schema
    return None


def _extra_schema(additional: Any) -> Any:
    """The schema for a property not listed in ``properties``."""
    return additional if isinstance(additional, dict) else {"type": "string"}


def _bound(node: dict[str, Any], inclusive: str, exclusive: str) -> tuple[float | None, bool]:
    """A numeric bound and whether it is open; reads both draft-4 boolean and draft-6 numeric exclusives."""
    value = node.get(inclusive)
    flag = node.get(exclusive)
    if isinstance(flag, bool):
        return (None if value is None else float(value)), flag and value is not None
    if flag is not None and (value is None or (flag >= value if exclusive == "exclusiveMinimum" else flag <= value)):
        return float(flag), True
    return (None if value is None else float(value)), False


def _inside(value: float, low: float, low_open: bool, high: float, high_open: bool) -> bool:
    """Whether ``value`` lies within the (possibly open) interval."""
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    return above and below


def _has_type(value: object, kind: str) -> bool:
    """JSON Schema's notion of ``value`` having ``kind`` (booleans are not numbers; 2.0 is an integer)."""
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return not isinstance(value, bool) and (isinstance(value, int) or isinstance(value, float) and value.is_integer())
    if kind == "number":
        return not isinstance(value, bool) and isinstance(value, (int, float))
    if kind == "string":
        return isinstance(value, str)
    if kind == "array":
        return isinstance(value, list)
    return isinstance(value, dict)


def _canonical(value: object) -> str:
    """A key equal for JSON-Schema-equal values (``1`` and ``1.0`` are equal, ``true`` and ``1`` are not)."""

    def norm(v: object) -> object:
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return [norm(x) for x in v]
        return v

    return json.dumps(norm(value), sort_keys=True)


def _text_of_length(rng: random.Random, length: int) -> str:
    """Words joined by spaces, cut or padded to exactly ``length`` characters, never ending in a space."""
    text = ""
    while len(text) < length:
        word = rng.choice(_WORDS)
        text = f"{text} {word}" if text else word
    text = text[:length]
    if text.endswith(" "):
        text = text[:-1] + rng.choice(_LETTERS)
    return text


def _fake_date(rng: random.Random) -> str:
    return datetime.date.fromordinal(rng.randint(730120, 741000)).isoformat()


def _fake_time(rng: random.Random) -> str:
    return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z"


def _fake_email(rng: random.Random) -> str:
    return f"{rng.choice(_WORDS)}.{rng.choice(_WORDS)}@example.com"


def _fake_uri(rng: random.Random) -> str:
    return f"https://example.com/{rng.choice(_WORDS)}/{rng.randint(1, 999)}"


_FORMATS = {
    "date": _fake_date,
    "time": _fake_time,
    "date-time": lambda rng: f"{_fake_date(rng)}T{_fake_time(rng)}",
    "email": _fake_email,
    "idn-email": _fake_email,
    "uri": _fake_uri,
    "iri": _fake_uri,
    "uri-reference": _fake_uri,
    "iri-reference": _fake_uri,
    "url": _fake_uri,
    "hostname": lambda rng: f"{rng.choice(_WORDS)}.example.com",
    "idn-hostname": lambda rng: f"{rng.choice(_WORDS)}.example.com",
    "ipv4": lambda rng: ".".join(str(rng.randint(1, 254)) for _ in range(4)),
    "ipv6": lambda rng: f"2001:db8::{rng.randint(1, 0xFFFF):x}",
    "uuid": lambda rng: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
    "duration": lambda rng: f"PT{rng.randint(1, 59)}M",
}


@functools.lru_cache(maxsize=256)
def _parse_pattern(pattern: str) -> tuple[re.Pattern[str], Any]:
    """The compiled pattern and its parse tree; cached, as tool schemas repeat on every request."""
    return re.compile(pattern), _sre_parse.parse(pattern)


class _UnsupportedRegex(Exception):
    """A regex construct (lookaround, conditional) the writer cannot produce text for."""


class _RegexWriter:
    """Writes one string matched by a parsed regex (``re._parser`` tree), drawing choices from ``rng``."""

    __slots__ = ("_rng", "_spread", "_groups")

    def __init__(self, rng: random.Random, spread: int) -> None:
        self._rng = rng
        self._spread = spread
        self._groups: dict[int, str] = {}

    def emit(self, tree: Any) -> str:
        out: list[str] = []
        for op, arg in tree:
            if op is _sre.LITERAL:
                out.append(chr(arg))
            elif op is _sre.NOT_LITERAL:
                out.append(self._rng.choice([c for c in _PRINTABLE if ord(c) != arg]))
            elif op is _sre.ANY:
                out.append(self._rng.choice(_LETTERS))
            elif op is _sre.IN:
                out.append(self._char_in(arg))
            elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", None)):
                low, high, sub = arg
                if low > _MAX_STRING:
                    raise _UnsupportedRegex(f"a repeat of more than {_MAX_STRING}")
                top = low + self._spread if high is _sre.MAXREPEAT else min(high, low + self._spread)
                out.extend(self.emit(sub) for _ in range(self._rng.randint(low, top)))
            elif op is _sre.SUBPATTERN:
                group, _add, _del, sub = arg
                text = self.emit(sub)
                if group:
                    self._groups[group] = text
                out.append(text)
            elif op is getattr(_sre, "ATOMIC_GROUP", None):
                out.append(self.emit(arg))
            elif op is _sre.BRANCH:
                out.append(self.emit(self._rng.choice(arg[1])))
            elif op is _sre.GROUPREF:
                out.append(self._groups.get(arg, ""))
            elif op is _sre.AT:
                continue
            else:
                raise _UnsupportedRegex(str(op).lower())
        return "".join(out)

    def _char_in(self, members: list[tuple[Any, Any]]) -> str:
        """One character of a ``[...]`` class (or ``\\d``-like category)."""
        if members and members[0][0] is _sre.NEGATE:
            allowed = [c for c in _PRINTABLE if not _class_has(members[1:], c)]
            if not allowed:
                raise _UnsupportedRegex("a negated class excluding every printable character")
            return self._rng.choice(allowed)
        op, arg = self._rng.choice(members)
        if op is _sre.LITERAL:
            return chr(arg)
        if op is _sre.RANGE:
            return chr(self._rng.randint(arg[0], arg[1]))
        if op is _sre.CATEGORY:
            return self._rng.choice(_CATEGORY_CHARS.get(arg) or ["_"])
        raise _UnsupportedRegex(str(op).lower())


def _class_has(members: list[tuple[Any, Any]], char: str) -> bool:
    """Whether a (non-negated) class member list contains ``char``."""
    code = ord(char)
    for op, arg in members:
        if op is _sre.LITERAL and arg == code:
            return True
        if op is _sre.RANGE and arg[0] <= code <= arg[1]:
            return True
        if op is _sre.CATEGORY and _category_has(arg, char):
            return True
    return False


_CATEGORY_TESTS = {
    _sre.CATEGORY_DIGIT: str.isdigit,
    _sre.CATEGORY_NOT_DIGIT: lambda c: not c.isdigit(),
    _sre.CATEGORY_SPACE: str.isspace,
    _sre.CATEGORY_NOT_SPACE: lambda c: not c.isspace(),
    _sre.CATEGORY_WORD: lambda c: c.isalnum() or c == "_",
    _sre.CATEGORY_NOT_WORD: lambda c: not (c.isalnum() or c == "_"),
}
# The printable characters in each of \d \D \s \S \w \W, computed once.
_CATEGORY_CHARS = {category: [c for c in _PRINTABLE if test(c)] for category, test in _CATEGORY_TESTS.items()}


def _category_has(category: Any, char: str) -> bool:
    """Membership test for ``\\d \\D \\s \\S \\w \\W``."""
    test = _CATEGORY_TESTS.get(category)
    return bool(test and test(char))
