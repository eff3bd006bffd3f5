"""YAML for the files people edit by hand (code tables, scenarios, fleets, rosters).

PyYAML silently keeps the last of two equal keys in a mapping, so ``seed: 7`` followed by
``seed: 8`` would quietly change a run; :func:`load_yaml` refuses such a file and names the key.
"""

from __future__ import annotations

from typing import Any

import yaml

from planner.errors import InputError


def load_yaml(text: str, *, source: str, field: str | None = None) -> Any:
    """Parse ``text`` safely; malformed YAML or a duplicate key is an :class:`InputError`.

    A syntax error carries ``field``; a duplicate key carries its dotted path (``a.b[2].c``).
    ``source`` (a file name) appears in the message.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is not None:
            _refuse_duplicate_keys(node, path="", source=source)
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        message = " ".join(f"not valid YAML: {exc} ({source})".split())
        raise InputError(message, field=field) from None


def _refuse_duplicate_keys(node: yaml.Node, *, path: str, source: str) -> None:
    """Walk the composed document; a mapping with the same key twice is an error at its path."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            child = f"{path}.{key}" if path else key
            if key in seen:
                raise InputError(
                    f"duplicate key {key!r} on line {line}, first on line {seen[key]} ({source})",
                    field=child,
                )
            seen[key] = line
            _refuse_duplicate_keys(value_node, path=child, source=source)
    elif isinstance(node, yaml.SequenceNode):
        for n, item in enumerate(node.value, start=1):
            _refuse_duplicate_keys(item, path=f"{path}[{n}]", source=source)
