"""--region and --select: one pure selection for plan, apply and drift (issue 11)."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rdsssl_reconcile.errors import SpecError, UserError
from rdsssl_reconcile.spec.loader import load_specs
from rdsssl_reconcile.spec.selection import EVERY_INSTANCE, parse_selection, select, selection_from_json

NOW = datetime(2026, 12, 1, tzinfo=UTC)

FLEET = """
defaults:
  labels: {team: payments}
instances:
  - {id: pgm-orders-1, region: cn-hangzhou, labels: {team: orders, tier: gold}, ssl: {enabled: false}}
  - {id: pgm-orders-2, region: cn-shanghai, labels: {team: orders}, ssl: {enabled: false}}
  - {id: pgm-pay-1, region: cn-hangzhou, ssl: {enabled: false}}
  - {id: pgm-pay-2, region: ap-southeast-1, ssl: {enabled: false}}
"""


@pytest.fixture
def fleet(tmp_path: Path) -> tuple:  # type: ignore[type-arg]
    (tmp_path / "fleet.yaml").write_text(textwrap.dedent(FLEET), encoding="utf-8")
    return load_specs([tmp_path], now=NOW).instances


def ids(instances: tuple) -> list[str]:  # type: ignore[type-arg]
    return [i.id for i in instances]


@pytest.mark.parametrize(
    ("regions", "selects", "expected"),
    [
        ([], [], ["pgm-orders-1", "pgm-orders-2", "pgm-pay-1", "pgm-pay-2"]),
        (["cn-hangzhou"], [], ["pgm-orders-1", "pgm-pay-1"]),
        (["cn-hangzhou", "ap-southeast-1"], [], ["pgm-orders-1", "pgm-pay-1", "pgm-pay-2"]),
        ([], ["id=pgm-orders-*"], ["pgm-orders-1", "pgm-orders-2"]),
        ([], ["id=pgm-orders-*", "id=pgm-pay-2"], ["pgm-orders-1", "pgm-orders-2", "pgm-pay-2"]),
        ([], ["region=cn-*"], ["pgm-orders-1", "pgm-orders-2", "pgm-pay-1"]),
        ([], ["labels.team=orders", "region=cn-shanghai"], ["pgm-orders-2"]),
        ([], ["labels.team=pay*"], ["pgm-pay-1", "pgm-pay-2"]),  # the label comes from defaults
        ([], ["labels.tier=*"], ["pgm-orders-1"]),  # no such label: never matches
        (["cn-hangzhou"], ["labels.team=orders"], ["pgm-orders-1"]),
    ],
)
def test_selection(fleet: tuple, regions: list[str], selects: list[str], expected: list[str]) -> None:  # type: ignore[type-arg]
    assert ids(select(fleet, parse_selection(regions, selects))) == expected


def test_globs_are_case_sensitive_and_whole(fleet: tuple) -> None:  # type: ignore[type-arg]
    with pytest.raises(UserError, match="selects none of the 4 declared"):
        select(fleet, parse_selection([], ["id=PGM-*"]))
    with pytest.raises(UserError, match="selects none"):
        select(fleet, parse_selection([], ["id=orders"]))


def test_a_selection_of_nothing_names_it_and_the_regions(fleet: tuple) -> None:  # type: ignore[type-arg]
    with pytest.raises(UserError) as info:
        select(fleet, parse_selection(["eu-central-1"], []))
    assert str(info.value).startswith("--region eu-central-1: selects none of the 4 declared instance(s)")
    assert "ap-southeast-1, cn-hangzhou, cn-shanghai" in str(info.value)


@pytest.mark.parametrize(
    ("regions", "selects", "message"),
    [
        (["Hangzhou"], [], "--region 'Hangzhou': expected a region id such as 'cn-hangzhou'"),
        ([], ["team=orders"], "--select 'team=orders': unknown key 'team'; expected one of id, region, labels.NAME"),
        ([], ["id"], "--select 'id': expected KEY=GLOB"),
        ([], ["id="], "--select 'id=': expected KEY=GLOB"),
        ([], ["labels.=x"], "unknown key 'labels.'"),
    ],
)
def test_bad_selectors_are_refused_by_option(regions: list[str], selects: list[str], message: str) -> None:
    with pytest.raises(UserError) as info:
        parse_selection(regions, selects)
    assert message in str(info.value)


def test_json_round_trip_and_description() -> None:
    selection = parse_selection(["cn-hangzhou"], ["labels.team=orders", "id=pgm-*"])
    assert selection_from_json(selection.to_json()) == selection
    assert selection.describe() == "--region cn-hangzhou --select labels.team=orders --select id=pgm-*"
    assert selection_from_json(None) == EVERY_INSTANCE
    assert EVERY_INSTANCE.empty


def test_labels_are_checked_by_the_schema(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "instances:\n  - {id: pgm-a, region: cn-hangzhou, labels: {team: 7, 'bad name': x}, ssl: {enabled: false}}\n",
        encoding="utf-8",
    )
    with pytest.raises(SpecError) as info:
        load_specs([tmp_path], now=NOW)
    text = "\n".join(info.value.problems)
    assert "a.yaml:2: instances[0].labels.team: expected a string, got a number (7)" in text
    assert "instances[0].labels: expected a label name such as 'team'" in text


def test_labels_do_not_change_the_digest(tmp_path: Path) -> None:
    spec = "instances:\n  - {id: pgm-a, region: cn-hangzhou, %s ssl: {enabled: false}}\n"
    (tmp_path / "a.yaml").write_text(spec % "", encoding="utf-8")
    plain = load_specs([tmp_path], now=NOW).instances[0]
    (tmp_path / "a.yaml").write_text(spec % "labels: {team: x},", encoding="utf-8")
    labelled = load_specs([tmp_path], now=NOW).instances[0]
    assert labelled.labels == (("team", "x"),)
    assert labelled.digest() == plain.digest()
