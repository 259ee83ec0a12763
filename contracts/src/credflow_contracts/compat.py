"""Compatibility check between two JSON Schemas of one event type and major version.

Within a major version only optional fields may be added. A change is breaking when it
removes or renames a field, changes a field's type, format or allowed values, or makes an
optional field required (or adds a new required field). Nested objects are checked the same
way, following `$ref`s into `$defs`.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def breaking_changes(published: Schema, current: Schema) -> list[str]:
    """Every way `current` breaks readers or writers of `published`; empty when compatible."""
    problems: list[str] = []
    _compare(published, published, current, current, "$", problems)
    return problems


def _resolve(node: Schema, root: Schema) -> Schema:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = root.get("$defs", {})[name]
    return node


def _variants(node: Schema, root: Schema) -> list[Schema]:
    """The alternatives of a union (`anyOf`), or the node itself."""
    node = _resolve(node, root)
    if "anyOf" in node:
        return [_resolve(option, root) for option in node["anyOf"]]
    return [node]


def _signature(node: Schema) -> tuple[Any, ...]:
    enum = node.get("enum")
    if "const" in node:
        enum = [node["const"]]
    return (
        node.get("type"),
        node.get("format"),
        tuple(sorted(map(str, enum))) if enum is not None else None,
    )


def _compare(
    old: Schema, old_root: Schema, new: Schema, new_root: Schema, path: str, problems: list[str]
) -> None:
    old_variants = _variants(old, old_root)
    new_variants = _variants(new, new_root)
    old_sigs = sorted(map(str, map(_signature, old_variants)))
    new_sigs = sorted(map(str, map(_signature, new_variants)))
    if old_sigs != new_sigs:
        problems.append(f"{path}: type changed from {old_sigs} to {new_sigs}")
        return
    for old_variant in old_variants:
        matching = [v for v in new_variants if _signature(v) == _signature(old_variant)]
        if not matching:
            continue
        new_variant = matching[0]
        if old_variant.get("type") == "object" and "properties" in old_variant:
            _compare_object(old_variant, old_root, new_variant, new_root, path, problems)
        elif old_variant.get("type") == "array" and "items" in old_variant:
            _compare(
                old_variant["items"], old_root, new_variant.get("items", {}), new_root,
                f"{path}[]", problems,
            )  # fmt: skip
        elif old_variant.get("type") == "object" and "additionalProperties" in old_variant:
            old_values = old_variant["additionalProperties"]
            new_values = new_variant.get("additionalProperties", {})
            if isinstance(old_values, dict) and isinstance(new_values, dict):
                _compare(old_values, old_root, new_values, new_root, f"{path}{{}}", problems)


def _compare_object(
    old: Schema, old_root: Schema, new: Schema, new_root: Schema, path: str, problems: list[str]
) -> None:
    old_props: dict[str, Schema] = old.get("properties", {})
    new_props: dict[str, Schema] = new.get("properties", {})
    old_required = set(old.get("required", []))
    new_required = set(new.get("required", []))
    for name in old_props.keys() - new_props.keys():
        problems.append(f"{path}.{name}: field removed or renamed")
    for name in new_required - old_required:
        if name in old_props:
            problems.append(f"{path}.{name}: optional field made required")
        else:
            problems.append(f"{path}.{name}: new field is required (new fields must be optional)")
    for name in old_props.keys() & new_props.keys():
        _compare(old_props[name], old_root, new_props[name], new_root, f"{path}.{name}", problems)
