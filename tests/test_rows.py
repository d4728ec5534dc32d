"""The streaming CSV / JSON Lines readers behind `ecomcharge import`."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ecomcharge_async as ec
from ecomcharge_async.bulk._row import csv_customer
from ecomcharge_async.bulk._rows import (
    FIELDS,
    MAX_LINE_BYTES,
    InputError,
    Row,
    RowError,
    RowReader,
    detect_format,
)
from ecomcharge_async.bulk._scan import scan_input

HEADER = "first_name,last_name,email,ip,country,state,zip\n"


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def read_all(path: Path) -> list[Row | RowError]:
    with RowReader(path) as reader:
        return list(reader)


# -- CSV ----------------------------------------------------------------------------


def test_csv_rows_carry_their_file_line_and_unset_empty_cells(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "in.csv",
        HEADER + "John,Doe,john@example.com,10.0.0.1,US,CO,80202\n,,jane@example.com,10.0.0.2,,,\n",
    )
    assert read_all(path) == [
        Row(
            2,
            ec.NewCustomer(
                first_name="John",
                last_name="Doe",
                email="john@example.com",
                ip="10.0.0.1",
                country="US",
                state="CO",
                zip="80202",
            ),
        ),
        Row(3, ec.NewCustomer(email="jane@example.com", ip="10.0.0.2")),
    ]


def test_a_missing_required_value_is_sent_blank_so_the_api_rejects_it(tmp_path: Path) -> None:
    path = write(tmp_path, "in.csv", "email,ip\n,10.0.0.1\n")
    assert read_all(path) == [Row(2, ec.NewCustomer(email="", ip="10.0.0.1"))]


def test_a_quoted_field_spanning_lines_keeps_later_line_numbers_right(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "in.csv",
        'email,ip,address\na@example.com,10.0.0.1,"1 Main St\nApt 2"\nb@example.com,10.0.0.2,\n',
    )
    rows = read_all(path)
    assert [row.line for row in rows] == [2, 4]
    assert isinstance(rows[0], Row)
    assert rows[0].customer.address == "1 Main St\nApt 2"


def test_a_malformed_line_becomes_a_row_error_and_reading_goes_on(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "in.csv",
        'email,ip\na@example.com,10.0.0.1\nb@example.com,"10.0"x\nc@example.com,10.0.0.3\n',
    )
    rows = read_all(path)
    assert rows[1] == RowError(3, "malformed CSV: ',' expected after '\"'")
    assert [type(row).__name__ for row in rows] == ["Row", "RowError", "Row"]
    assert rows[2].line == 4


def test_a_line_with_the_wrong_number_of_fields_is_a_row_error(tmp_path: Path) -> None:
    path = write(tmp_path, "in.csv", "email,ip\na@example.com,10.0.0.1,extra\nb@example.com\n")
    assert read_all(path) == [
        RowError(2, "has 3 fields but the header has 2"),
        RowError(3, "has 1 fields but the header has 2"),
    ]


def test_blank_lines_are_skipped_and_a_bom_and_header_case_are_tolerated(tmp_path: Path) -> None:
    path = write(tmp_path, "in.csv", "\ufeff Email , IP\n\na@example.com,10.0.0.1\n\n")
    assert read_all(path) == [Row(3, ec.NewCustomer(email="a@example.com", ip="10.0.0.1"))]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("email,ip,mail\n", "line 1: unknown column 'mail'; the columns are email, ip, first_name"),
        # No header row: the first customer's values are not quoted back.
        ("jane.doe@example.com,10.0.0.1\n", "line 1: column 1 of the header is not a column name"),
        ("email,first_name\n", "line 1: the header has no ip column"),
        ("first_name\n", "line 1: the header has no email and no ip column"),
        ("email,ip,email\n", "line 1: column 'email' appears twice"),
        ("email,,ip\n", "line 1: column 2 of the header has no name"),
        ("\n\n", "has no header row"),
        ('"email,ip\n', "line 1: unexpected end of data"),
    ],
)
def test_header_problems_stop_before_any_row(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, "in.csv", text)
    with pytest.raises(InputError) as excinfo:
        RowReader(path)
    assert str(excinfo.value).startswith(str(path))
    assert problem in str(excinfo.value)


def test_a_header_only_file_has_no_rows(tmp_path: Path) -> None:
    assert read_all(write(tmp_path, "in.csv", "email,ip\n")) == []


cells = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))


@given(
    st.lists(st.sampled_from(FIELDS[2:]), unique=True).flatmap(
        lambda names: st.permutations(["email", "ip", *names])
    ),
    st.data(),
)
# deadline=None: each example writes and reads a file, and a busy machine may stall one.
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_a_csv_rows_customer_is_the_one_its_non_empty_cells_give(
    tmp_path: Path, columns: list[str], data: st.DataObject
) -> None:
    # Any header order and subset, any text, empty cells: what `NewCustomer(...)` makes.
    values = [data.draw(cells) for _ in columns]
    buffer = io.StringIO()
    csv.writer(buffer).writerows([columns, values])
    path = write(tmp_path, "in.csv", buffer.getvalue())
    given_ = {name: value for name, value in zip(columns, values, strict=True) if value}
    expected = ec.NewCustomer(**{"email": "", "ip": "", **given_})
    [row] = read_all(path)
    assert isinstance(row, Row)
    assert type(row.customer) is ec.NewCustomer
    assert attrs.asdict(row.customer) == attrs.asdict(expected)
    assert (row.customer, repr(row.customer), hash(row.customer)) == (
        expected,
        repr(expected),
        hash(expected),
    )


def test_the_csv_customer_builder_knows_every_field_converter_and_validator() -> None:
    # `csv_customer` stores the ten fields itself, in this order, and runs no converter,
    # validator nor hook: a field or check added to NewCustomer must be added there too.
    assert FIELDS == ("email", "ip", "first_name", "last_name", "address", "city", "country",
                      "zip", "state", "phone")  # fmt: skip
    assert not [f for f in attrs.fields(ec.NewCustomer) if f.converter or f.validator]
    assert not hasattr(ec.NewCustomer, "__attrs_post_init__")
    assert not hasattr(ec.NewCustomer, "__attrs_pre_init__")
    customer = csv_customer(FIELDS)  # each field's own name as its value
    assert customer == ec.NewCustomer(**dict(zip(FIELDS, FIELDS, strict=True)))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        customer.email = "changed"  # type: ignore[misc]


# -- JSON Lines -----------------------------------------------------------------------


def test_jsonl_rows_and_their_problems(tmp_path: Path) -> None:
    lines = [
        '{"email": "a@example.com", "ip": "10.0.0.1", "country": "DE", "state": null}',
        "",
        '{"email": "b@example.com", "ip": "10.0.0.2",',
        '["not", "an", "object"]',
        '{"email": "c@example.com", "ip": "10.0.0.3", "mail": "x"}',
        '{"email": "d@example.com", "ip": "10.0.0.4", "zip": 80202}',
        '{"ip": "10.0.0.5"}',
    ]
    path = write(tmp_path, "in.jsonl", "\n".join(lines) + "\n")
    assert read_all(path) == [
        Row(1, ec.NewCustomer(email="a@example.com", ip="10.0.0.1", country="DE")),
        RowError(3, "not valid JSON: Expecting property name enclosed in double quotes"),
        RowError(4, "expected a JSON object, got array"),
        RowError(5, "unknown field 'mail'; the fields are " + ", ".join(FIELDS)),
        RowError(6, "field 'zip' must be a string, got number"),
        Row(7, ec.NewCustomer(email="", ip="10.0.0.5")),
    ]


def test_an_overlong_jsonl_line_is_a_row_error_and_the_next_line_still_reads(
    tmp_path: Path,
) -> None:
    huge = '{"email": "' + "x" * (MAX_LINE_BYTES * 3) + '", "ip": "10.0.0.1"}'
    path = write(tmp_path, "in.jsonl", huge + '\n{"email": "a@example.com", "ip": "10.0.0.2"}\n')
    assert read_all(path) == [
        RowError(1, f"line longer than {MAX_LINE_BYTES} characters"),
        Row(2, ec.NewCustomer(email="a@example.com", ip="10.0.0.2")),
    ]


# -- format and scan --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("a.csv", '{"email": "x"}\n', "csv"),
        ("a.jsonl", "email,ip\n", "jsonl"),
        ("a.NDJSON", "email,ip\n", "jsonl"),
        ("export.txt", '\n  {"email": "x"}\n', "jsonl"),
        ("export", "email,ip\n", "csv"),
    ],
)
def test_format_from_the_extension_or_the_first_character(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    assert detect_format(write(tmp_path, name, text)) == expected


def test_scan_counts_lines_and_fingerprints_the_content(tmp_path: Path) -> None:
    first = scan_input(write(tmp_path, "a.csv", "email,ip\na@example.com,10.0.0.1\nb,c"))
    assert first.lines == 3
    assert first.size == 35
    assert first.fingerprint.startswith("sha256:")
    same = scan_input(write(tmp_path, "b.csv", "email,ip\na@example.com,10.0.0.1\nb,c"))
    other = scan_input(write(tmp_path, "c.csv", "email,ip\na@example.com,10.0.0.2\nb,c"))
    assert same.fingerprint == first.fingerprint != other.fingerprint


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "is empty: nothing to import"),
        (b"email,ip\nj\xf6rg@example.com,10.0.0.1\n", "line 2: not UTF-8 text"),
        (b"email,ip\nx\xc3", "ends in the middle of a UTF-8 character"),
    ],
)
def test_scan_refuses_unusable_files(tmp_path: Path, content: bytes, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        scan_input(write(tmp_path, "in.csv", content))


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"cannot read .*nope\.csv: No such file"):
        scan_input(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="cannot read"):
        RowReader(tmp_path / "nope.csv")
