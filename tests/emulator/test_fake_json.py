"""Tests for the JSON-Schema instance generator behind emulated tool calls and json_schema replies."""

from __future__ import annotations

import json
import random
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.emulator._fake_json import UnsatisfiableSchemaError, fake_instance

_FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER


def assert_valid(schema: dict[str, Any] | bool, value: object) -> None:
    """Validate with the schema's own draft (2020-12 by default) and format checking on."""
    validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    validator(schema, format_checker=_FORMATS).validate(value)
    json.dumps(value)


# Tool and structured-output schemas as they appear in OpenAI and Groq documentation examples.
TOOL_SCHEMAS: dict[str, dict[str, Any]] = {
    "get_current_weather": {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["location"],
    },
    "strict_weather": {
        "type": "object",
        "properties": {
            "location": {"type": "string"},
            "units": {"type": ["string", "null"], "enum": ["celsius", "fahrenheit", None]},
        },
        "required": ["location", "units"],
        "additionalProperties": False,
    },
    "calculate": {
        "type": "object",
        "properties": {"expression": {"type": "string", "description": "The mathematical expression to evaluate"}},
        "required": ["expression"],
    },
    "calendar_event": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 80},
            "date": {"type": "string", "format": "date"},
            "start": {"type": "string", "format": "date-time"},
            "participants": {
                "type": "array",
                "minItems": 1,
                "maxItems": 5,
                "items": {
                    "type": "object",
                    "properties": {"email": {"type": "string", "format": "email"}, "optional": {"type": "boolean"}},
                    "required": ["email"],
                    "additionalProperties": False,
                },
            },
            "priority": {"type": "integer", "minimum": 1, "maximum": 5},
        },
        "required": ["name", "date", "participants"],
        "additionalProperties": False,
    },
    "math_reasoning": {
        "type": "object",
        "properties": {
            "steps": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"explanation": {"type": "string"}, "output": {"type": "string"}},
                    "required": ["explanation", "output"],
                    "additionalProperties": False,
                },
            },
            "final_answer": {"type": "string"},
        },
        "required": ["steps", "final_answer"],
        "additionalProperties": False,
    },
    "recursive_ui": {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": ["div", "button", "header", "section", "field", "form"]},
            "label": {"type": "string"},
            "children": {"type": "array", "items": {"$ref": "#"}},
            "attributes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "value": {"type": "string"}},
                    "required": ["name", "value"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["type", "label", "children", "attributes"],
        "additionalProperties": False,
    },
    "defs_any_of": {
        "type": "object",
        "properties": {"item": {"anyOf": [{"$ref": "#/$defs/user"}, {"$ref": "#/$defs/address"}]}},
        "required": ["item"],
        "additionalProperties": False,
        "$defs": {
            "user": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "age": {"type": "number", "minimum": 0, "maximum": 130}},
                "required": ["name", "age"],
                "additionalProperties": False,
            },
            "address": {
                "type": "object",
                "properties": {"number": {"type": "string"}, "street": {"type": "string"}, "city": {"type": "string"}},
                "required": ["number", "street", "city"],
                "additionalProperties": False,
            },
        },
    },
    "draft7_linked_list": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": {
            "node": {
                "type": "object",
                "properties": {"value": {"type": "number"}, "next": {"anyOf": [{"$ref": "#/definitions/node"}, {"type": "null"}]}},
                "required": ["value", "next"],
                "additionalProperties": False,
            }
        },
        "type": "object",
        "properties": {"head": {"$ref": "#/definitions/node"}},
        "required": ["head"],
    },
    "search_with_patterns": {
        "type": "object",
        "properties": {
            "query": {"type": "string", "minLength": 3},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "sku": {"type": "string", "pattern": r"^SKU-\d{4,6}(-[a-z]+)?$"},
            "limit": {"type": "integer", "exclusiveMinimum": 0, "maximum": 50, "default": 10},
            "price": {"type": "number", "multipleOf": 0.01, "minimum": 0.5, "maximum": 999.99},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 12}, "uniqueItems": True, "maxItems": 4},
            "uuid": {"type": "string", "format": "uuid"},
            "site": {"type": "string", "format": "uri"},
            "ip": {"type": "string", "format": "ipv4"},
        },
        "required": ["query", "currency", "sku", "limit", "price", "tags", "uuid", "site", "ip"],
    },
    "one_of_overlap": {
        "type": "object",
        "properties": {"amount": {"oneOf": [{"type": "integer"}, {"type": "number"}]}},
        "required": ["amount"],
    },
    "all_of_composition": {
        "allOf": [
            {"type": "object", "properties": {"id": {"type": "integer", "minimum": 1}}, "required": ["id"]},
            {"properties": {"name": {"type": "string", "minLength": 2}}, "required": ["name"]},
            {"properties": {"id": {"maximum": 10}}},
        ]
    },
    "draft4_exclusive": {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "properties": {"ratio": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 1, "exclusiveMaximum": True}},
        "required": ["ratio"],
    },
    "tuple_and_contains": {
        "type": "object",
        "properties": {
            "point": {"type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}], "items": False, "minItems": 2},
            "scores": {"type": "array", "items": {"type": "integer"}, "contains": {"type": "integer", "minimum": 90}},
        },
        "required": ["point", "scores"],
    },
    "open_map": {
        "type": "object",
        "additionalProperties": {"type": "integer", "minimum": 0},
        "minProperties": 2,
        "maxProperties": 4,
    },
    "pattern_properties": {
        "type": "object",
        "patternProperties": {"^x-": {"type": "string"}},
        "additionalProperties": False,
        "required": ["x-trace"],
    },
    "dependent_required": {
        "type": "object",
        "properties": {"card": {"type": "string"}, "billing_address": {"type": "string"}},
        "dependentRequired": {"card": ["billing_address"]},
        "required": ["card"],
    },
    "const_and_booleans": {
        "type": "object",
        "properties": {"version": {"const": 2}, "enabled": {"type": "boolean"}, "nothing": {"type": "null"}},
        "required": ["version", "enabled", "nothing"],
    },
}


class TestToolSchemas:
    @pytest.mark.parametrize("name", sorted(TOOL_SCHEMAS))
    def test_instances_validate_for_many_seeds(self, name: str) -> None:
        """Every documented-style tool schema yields valid arguments for 60 different seeds."""
        schema = TOOL_SCHEMAS[name]
        for seed in range(60):
            assert_valid(schema, fake_instance(schema, random.Random(seed)))

    @pytest.mark.parametrize("name", sorted(TOOL_SCHEMAS))
    def test_same_seed_gives_same_instance(self, name: str) -> None:
        """Two runs from equally seeded rngs produce identical JSON."""
        schema = TOOL_SCHEMAS[name]
        assert fake_instance(schema, random.Random(7)) == fake_instance(schema, random.Random(7))

    def test_different_seeds_vary_the_output(self) -> None:
        """Seeds matter: 20 seeds give more than one distinct weather call."""
        schema = TOOL_SCHEMAS["get_current_weather"]
        outputs = {json.dumps(fake_instance(schema, random.Random(seed))) for seed in range(20)}
        assert len(outputs) > 5

    def test_optional_properties_appear_sometimes(self) -> None:
        """Optional properties are neither always omitted nor always present."""
        schema = TOOL_SCHEMAS["get_current_weather"]
        seen = [("unit" in fake_instance(schema, random.Random(seed))) for seed in range(40)]  # type: ignore[operator]
        assert any(seen) and not all(seen)

    def test_recursive_schema_terminates_with_bounded_depth(self) -> None:
        """A self-referencing UI schema stops nesting once the soft depth is reached."""

        def depth(node: Any) -> int:
            return 1 + max((depth(child) for child in node["children"]), default=0)

        for seed in range(30):
            assert depth(fake_instance(TOOL_SCHEMAS["recursive_ui"], random.Random(seed))) <= 4

    def test_one_of_overlap_never_matches_both_branches(self) -> None:
        """For oneOf integer|number the value is a non-integral number or the integer branch is re-drawn."""
        for seed in range(60):
            value = fake_instance(TOOL_SCHEMAS["one_of_overlap"], random.Random(seed))
            assert_valid(TOOL_SCHEMAS["one_of_overlap"], value)
            assert not float(value["amount"]).is_integer()  # type: ignore[index]


class TestKeywords:
    def test_empty_schema_and_true_give_json(self) -> None:
        """The unconstrained schemas ``{}`` and ``true`` produce JSON-serialisable values."""
        assert isinstance(fake_instance({}, random.Random(0)), str)
        assert isinstance(fake_instance(True, random.Random(0)), str)

    def test_exact_string_length(self) -> None:
        """minLength == maxLength is honoured exactly."""
        assert len(fake_instance({"type": "string", "minLength": 9, "maxLength": 9}, random.Random(3))) == 9  # type: ignore[arg-type]

    def test_every_exact_length(self) -> None:
        """Strings of every exact length from 0 to 40 have that length and never end in a space."""
        for length in range(41):
            for seed in range(5):
                text = fake_instance({"type": "string", "minLength": length, "maxLength": length}, random.Random(seed))
                assert isinstance(text, str) and len(text) == length and not text.endswith(" ")

    def test_zero_length_string(self) -> None:
        """maxLength 0 yields the empty string."""
        assert fake_instance({"type": "string", "maxLength": 0}, random.Random(3)) == ""

    def test_integer_multiple_of_fraction(self) -> None:
        """An integer that must be a multiple of 2.5 is a multiple of 5."""
        schema = {"type": "integer", "multipleOf": 2.5, "minimum": 1, "maximum": 40}
        for seed in range(30):
            value = fake_instance(schema, random.Random(seed))
            assert isinstance(value, int) and value % 5 == 0
            assert_valid(schema, value)

    def test_float_multiple_of_passes_jsonschema_float_check(self) -> None:
        """multipleOf 0.1 results survive jsonschema's ``instance / 0.1`` integrality check."""
        schema = {"type": "number", "multipleOf": 0.1, "minimum": -3, "maximum": 3}
        for seed in range(60):
            assert_valid(schema, fake_instance(schema, random.Random(seed)))

    def test_type_inferred_from_keywords(self) -> None:
        """Without ``type``, ``properties`` means object, ``items`` array, ``minimum`` number."""
        assert isinstance(fake_instance({"properties": {"a": {}}, "required": ["a"]}, random.Random(0)), dict)
        assert isinstance(fake_instance({"items": {"type": "integer"}}, random.Random(0)), list)
        assert isinstance(fake_instance({"minimum": 5}, random.Random(0)), (int, float))

    def test_enum_filtered_by_type(self) -> None:
        """An enum mixing types only yields members of the declared type."""
        schema = {"type": "integer", "enum": ["a", 1, 2, None]}
        assert {fake_instance(schema, random.Random(s)) for s in range(30)} <= {1, 2}

    def test_unique_items_of_two_valued_type_stop_early(self) -> None:
        """uniqueItems on booleans never repeats a value even when more items were planned."""
        schema = {"type": "array", "items": {"type": "boolean"}, "uniqueItems": True}
        for seed in range(30):
            value = fake_instance(schema, random.Random(seed))
            assert len(value) == len(set(value))  # type: ignore[arg-type]

    def test_all_of_with_closed_branch_drops_foreign_optional_properties(self) -> None:
        """A branch with additionalProperties false forbids optional properties the other branch adds."""
        schema = {
            "allOf": [
                {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False},
                {"properties": {"b": {"type": "string"}}},
            ]
        }
        for seed in range(30):
            assert_valid(schema, fake_instance(schema, random.Random(seed)))

    def test_nested_any_of_combinations(self) -> None:
        """Two anyOfs merged through allOf are both satisfied."""
        schema = {
            "allOf": [
                {"anyOf": [{"type": "integer", "minimum": 10}, {"type": "integer", "maximum": -10}]},
                {"anyOf": [{"multipleOf": 3}, {"multipleOf": 5}]},
            ]
        }
        for seed in range(40):
            assert_valid(schema, fake_instance(schema, random.Random(seed)))

    def test_pattern_with_backreference(self) -> None:
        """Patterns with groups and backreferences produce matching text."""
        schema = {"type": "string", "pattern": r"^(ab|cd)-\1$"}
        for seed in range(20):
            assert_valid(schema, fake_instance(schema, random.Random(seed)))

    def test_pattern_with_negated_class_and_min_length(self) -> None:
        """A negated class combined with minLength is satisfied by retrying repeat counts."""
        schema = {"type": "string", "pattern": "^[^0-9]+$", "minLength": 10, "maxLength": 14}
        for seed in range(20):
            assert_valid(schema, fake_instance(schema, random.Random(seed)))


    def test_all_of_intersects_enums_types_and_bounds(self) -> None:
        """allOf merging keeps only common enum values, the integer side of number/integer, the tighter bounds."""
        schema = {
            "allOf": [
                {"type": "number", "enum": [1, 2, 3, 4.5], "minimum": 0},
                {"type": ["integer", "string"], "enum": [2, 3, 4.5, "x"], "maximum": 10},
                {"minimum": 1},
            ]
        }
        for seed in range(20):
            value = fake_instance(schema, random.Random(seed))
            assert value in (2, 3)
            assert_valid(schema, value)

    def test_all_of_merges_item_schemas(self) -> None:
        """Two item schemas under allOf both constrain every element."""
        schema = {"allOf": [{"type": "array", "items": {"type": "integer", "minimum": 5}}, {"items": {"maximum": 6}, "minItems": 2}]}
        for seed in range(20):
            value = fake_instance(schema, random.Random(seed))
            assert set(value) <= {5, 6} and len(value) >= 2  # type: ignore[arg-type]

    def test_any_of_skips_an_unsatisfiable_branch(self) -> None:
        """When one anyOf branch contradicts its siblings the other branch is used."""
        schema = {"type": "string", "anyOf": [{"type": "integer"}, {"minLength": 4}]}
        for seed in range(20):
            assert_valid(schema, fake_instance(schema, random.Random(seed)))

    def test_draft7_tuple_items(self) -> None:
        """Draft-7 array-form ``items`` with ``additionalItems: false`` is a tuple."""
        schema = {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "array",
            "items": [{"type": "string"}, {"type": "integer"}],
            "additionalItems": False,
            "minItems": 2,
        }
        for seed in range(20):
            value = fake_instance(schema, random.Random(seed))
            assert_valid(schema, value)
            assert [type(v) for v in value] == [str, int]  # type: ignore[union-attr]

    def test_escaped_json_pointer_ref(self) -> None:
        """``$ref`` tokens with ``~1`` (slash) and ``%25`` escapes resolve."""
        schema = {"$defs": {"a/b": {"const": "slash"}, "c%d": {"const": "pct"}}, "type": "array",
                  "prefixItems": [{"$ref": "#/$defs/a~1b"}, {"$ref": "#/$defs/c%25d"}], "minItems": 2, "items": False}
        assert fake_instance(schema, random.Random(0)) == ["slash", "pct"]


class TestUnsatisfiable:
    @pytest.mark.parametrize(
        ("schema", "fragment"),
        [
            (False, "`false`"),
            ({"type": "integer", "minimum": 5, "maximum": 4}, "no integer between"),
            ({"type": "number", "exclusiveMinimum": 1, "exclusiveMaximum": 1}, "no number between"),
            ({"type": "string", "minLength": 5, "maxLength": 2}, "minLength 5 is greater than maxLength 2"),
            ({"type": "array", "minItems": 3, "maxItems": 1}, "minItems 3 is greater than maxItems 1"),
            ({"type": "string", "enum": [1, 2]}, "no enum value has type 'string'"),
            ({"$ref": "#/$defs/missing"}, "points at nothing"),
            ({"$ref": "https://example.com/schema.json"}, "only local $ref"),
            ({"allOf": [{"type": "string"}, {"type": "integer"}]}, "do not overlap"),
            ({"$defs": {"n": {"type": "object", "properties": {"n": {"$ref": "#/$defs/n"}}, "required": ["n"]}}, "$ref": "#/$defs/n"}, "deeper than"),
            ({"type": "object", "required": ["a"], "additionalProperties": False}, "additionalProperties is false"),
            ({"type": "object", "required": ["a", "b"], "maxProperties": 1}, "maxProperties is 1"),
            ({"type": "string", "pattern": "^(?=a)b$"}, "unsupported"),
            ({"type": "string", "pattern": "(unclosed"}, "not a valid regex"),
            ({"type": "integer", "multipleOf": -2}, "positive number"),
            ({"$ref": "#"}, "cycle"),
            ({"$defs": {"a": {"allOf": [{"$ref": "#/$defs/a"}]}}, "$ref": "#/$defs/a"}, "cycle"),
            ({"allOf": [{"const": 1}, {"const": 2}]}, "conflicts with const"),
            ({"allOf": [{"enum": [1]}, {"enum": [2]}]}, "no value in common"),
            ({"oneOf": [{"type": "integer"}, {"type": "integer"}]}, "matched another oneOf branch"),
            ({"anyOf": []}, "non-empty list"),
        ],
    )
    def test_contradictions_raise_with_a_path(self, schema: Any, fragment: str) -> None:
        """Contradictory schemas raise UnsatisfiableSchemaError whose message names the rule."""
        with pytest.raises(UnsatisfiableSchemaError) as caught:
            fake_instance(schema, random.Random(0))
        assert fragment in str(caught.value) and caught.value.path.startswith("#")

    @pytest.mark.parametrize(
        ("schema", "fragment"),
        [
            ({"type": "array", "minItems": 10**9}, "more than 20000 values"),
            ({"type": "array", "items": {"type": "array", "minItems": 200}, "minItems": 200}, "more than 20000 values"),
            ({"type": "object", "minProperties": 10**9}, "more than 20000 values"),
            ({"type": "string", "minLength": 10**9}, "10000-character limit"),
            ({"type": "string", "pattern": "^a{1000000000}$"}, "a repeat of more than 10000"),
            ({"type": "array", "contains": {"const": 1}, "minContains": 10**9}, "20000-value limit"),
        ],
    )
    def test_hostile_sizes_are_refused_quickly(self, schema: dict[str, Any], fragment: str) -> None:
        """Schemas demanding huge instances raise instead of exhausting memory or time."""
        with pytest.raises(UnsatisfiableSchemaError, match=fragment):
            fake_instance(schema, random.Random(0))

    def test_invalid_pattern_with_format_is_refused(self) -> None:
        """A broken pattern next to a format raises UnsatisfiableSchemaError, not re.error."""
        with pytest.raises(UnsatisfiableSchemaError, match="not a valid regex"):
            fake_instance({"type": "string", "format": "date", "pattern": "(["}, random.Random(0))

    def test_error_is_a_value_error(self) -> None:
        """Callers that catch ValueError also catch unsatisfiable schemas."""
        with pytest.raises(ValueError, match="fix the schema"):
            fake_instance({"enum": []}, random.Random(0))


# -- hypothesis: random satisfiable schemas --------------------------------------------------------------

_PATTERNS = ["^[a-z]{2,5}$", r"^\d{3}-\d{4}$", "^(red|green|blue)$", r"^[A-Z][a-z]+( [A-Z][a-z]+)?$", "x+y?"]


@st.composite
def _string_schemas(draw: st.DrawFn) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    choice = draw(st.sampled_from(["plain", "format", "pattern"]))
    if choice == "format":
        schema["format"] = draw(st.sampled_from(["date", "date-time", "email", "uri", "uuid", "ipv4", "ipv6", "hostname"]))
    elif choice == "pattern":
        schema["pattern"] = draw(st.sampled_from(_PATTERNS))
    else:
        low = draw(st.integers(0, 30))
        schema["minLength"] = low
        if draw(st.booleans()):
            schema["maxLength"] = low + draw(st.integers(0, 30))
    return schema


@st.composite
def _number_schemas(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["integer", "number"]))
    schema: dict[str, Any] = {"type": kind}
    low = draw(st.integers(-1000, 1000))
    width = draw(st.integers(12, 500))
    if draw(st.booleans()):
        schema["exclusiveMinimum" if draw(st.booleans()) else "minimum"] = low
    if draw(st.booleans()):
        schema["exclusiveMaximum" if draw(st.booleans()) else "maximum"] = low + width
    if draw(st.booleans()):
        schema["multipleOf"] = draw(st.sampled_from([1, 2, 3, 5] if kind == "integer" else [0.5, 0.25, 0.1, 2, 0.01]))
    return schema


_LEAVES = st.one_of(
    _string_schemas(),
    _number_schemas(),
    st.just({"type": "boolean"}),
    st.just({"type": "null"}),
    st.lists(st.one_of(st.integers(), st.text(max_size=5), st.booleans()), min_size=1, max_size=4).map(lambda e: {"enum": e}),
    st.one_of(st.integers(), st.text(max_size=5)).map(lambda c: {"const": c}),
)


def _extend(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    names = st.text("abcdefgh", min_size=1, max_size=4)

    @st.composite
    def objects(draw: st.DrawFn) -> dict[str, Any]:
        properties = draw(st.dictionaries(names, children, max_size=4))
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        schema["required"] = [n for n in properties if draw(st.booleans())]
        schema["additionalProperties"] = draw(st.sampled_from([True, False, {"type": "integer"}]))
        return schema

    @st.composite
    def arrays(draw: st.DrawFn) -> dict[str, Any]:
        low = draw(st.integers(0, 3))
        schema: dict[str, Any] = {"type": "array", "items": draw(children), "minItems": low}
        if draw(st.booleans()):
            schema["maxItems"] = low + draw(st.integers(0, 3))
        return schema

    disjoint_one_of = st.tuples(_string_schemas(), st.just({"type": "boolean"}), _number_schemas()).map(
        lambda branches: {"oneOf": list(branches)}
    )
    return st.one_of(objects(), arrays(), st.lists(children, min_size=1, max_size=3).map(lambda b: {"anyOf": b}), disjoint_one_of)


_SCHEMAS = st.recursive(_LEAVES, _extend, max_leaves=12)


@st.composite
def _with_defs(draw: st.DrawFn) -> dict[str, Any]:
    """A schema whose properties refer to shared definitions through ``$ref``."""
    defs = draw(st.dictionaries(st.sampled_from(["a", "b", "c"]), _SCHEMAS, min_size=1, max_size=3))
    names = sorted(defs)
    properties = {f"p{i}": {"$ref": f"#/$defs/{draw(st.sampled_from(names))}"} for i in range(draw(st.integers(1, 3)))}
    return {"type": "object", "$defs": defs, "properties": properties, "required": list(properties)}


class TestRandomSchemas:
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(schema=_SCHEMAS, seed=st.integers(0, 2**32 - 1))
    def test_generated_instances_validate(self, schema: dict[str, Any], seed: int) -> None:
        """Any satisfiable random schema yields an instance jsonschema accepts."""
        assert_valid(schema, fake_instance(schema, random.Random(seed)))

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(schema=_with_defs(), seed=st.integers(0, 2**32 - 1))
    def test_instances_through_refs_validate(self, schema: dict[str, Any], seed: int) -> None:
        """Schemas built from ``$defs`` references yield valid instances."""
        assert_valid(schema, fake_instance(schema, random.Random(seed)))

    @settings(max_examples=60, deadline=None)
    @given(schema=_SCHEMAS, seed=st.integers(0, 2**32 - 1))
    def test_generation_is_deterministic(self, schema: dict[str, Any], seed: int) -> None:
        """The output depends only on the schema and the rng's seed."""
        assert fake_instance(schema, random.Random(seed)) == fake_instance(schema, random.Random(seed))
