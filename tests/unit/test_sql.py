"""SQL text is built only from quoted identifiers and rendered parsed values."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from lakehouse import sql
from lakehouse.files import split_common_parent


def test_identifiers_are_quoted_so_any_character_stays_a_name() -> None:
    assert sql.ident("a`b") == "`a``b`"
    assert sql.column("x", "t") == "t.`x`"
    assert sql.delta_table("/w/gold/t`x") == "delta.`/w/gold/t``x`"


def test_values_render_by_their_type() -> None:
    assert sql.literal(True) == "TRUE"
    assert sql.literal(7) == "7"
    assert sql.literal(date(2025, 3, 1)) == "DATE'2025-03-01'"
    assert sql.literal("it's") == "'it\\'s'"
    with pytest.raises(TypeError):
        sql.literal(datetime(2025, 3, 1, 12))
    with pytest.raises(TypeError):
        sql.literal(1.5)  # type: ignore[arg-type]


def test_conditions_compose_quoted_parts() -> None:
    assert sql.null_safe_equal(["a", "b"], "s", "t") == "(s.`a` <=> t.`a`) AND (s.`b` <=> t.`b`)"
    assert sql.all_of([]) == "TRUE"
    assert sql.in_list("d", [date(2025, 3, 2), date(2025, 3, 1), date(2025, 3, 2)]) == (
        "`d` IN (DATE'2025-03-01', DATE'2025-03-02')"
    )
    assert sql.in_list("d", []) == "FALSE"


def test_a_glob_over_several_tables_starts_below_their_common_folder() -> None:
    assert split_common_parent(["/w/silver/a", "/w/gold/b/"]) == ("/w", ["silver/a", "gold/b"])
    assert split_common_parent(["s3a://b/w/x"]) == ("s3a://b/w", ["x"])
