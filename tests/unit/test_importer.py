"""Import files as read (YAML, workbooks), checked on their own, and the texts that tell of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from bot.handlers.setup import plain
from bot.importer import command, example, read_file, read_workbook, read_yaml, write_template
from models.config import Settings
from models.rules.permissions import COMMANDS, Role
from models.services.setup import (
    SECTIONS,
    Flaw,
    Outcome,
    Problem,
    Refusal,
    parse_county,
    raw_from_mapping,
    refusal_params,
)
from models.texts import LANGUAGES, environment, render, template_keys
from tests.unit.samples import CODE, SAMPLE
from tests.unit.test_texts import assert_balanced

SETUP_KEYS = [key for key in template_keys("en") if key.startswith(("setup_", "buttons/setup_"))]


def _render(key: str, language: str, **params: Any) -> str:
    text = render(key, language, {**SAMPLE, **params})
    assert text.strip(), key
    assert "<script>" not in text
    assert_balanced(text)
    return text


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("key", SETUP_KEYS)
def test_every_setup_template_renders_in_both_languages(key: str, language: str) -> None:
    _render(key, language)
    _render(key, language, change="unchanged", ok=True, dry_run=True, accepted=False)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("reason", list(Refusal))
def test_every_refusal_has_its_own_words(reason: Refusal, language: str) -> None:
    params = refusal_params(Outcome(refused=reason, detail={"value": "x", "limit": 9}))
    text = render("setup_refused", language, params)
    fallback = render("setup_refused", language, {**params, "reason": "?"})
    assert text.strip()
    assert (text == fallback) == (reason is Refusal.NOT_ALLOWED)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_wrong_credit_code_is_explained_with_the_expected_check_character(
    language: str,
) -> None:
    outcome = Outcome(
        refused=Refusal.BAD_CREDIT_CODE,
        detail={"problem": "bad_check_digit", "expected": "U", "value": CODE[:17] + "X"},
    )
    text = render("setup_refused", language, refusal_params(outcome))
    assert CODE[:17] + "X" in text and " U" in text


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("flaw", list(Flaw))
def test_every_import_problem_has_its_own_words(flaw: Flaw, language: str) -> None:
    problem = Problem(flaw, section="firms", index=2, field="credit_code", value="v", limit=3)
    text = _render("setup_import_report", language, problems=[problem.params()])
    assert "firms[2].credit_code" in text
    unknown = {**problem.params(), "flaw": "no_such_flaw"}
    fallback = _render("setup_import_report", language, problems=[unknown])
    assert text != fallback.replace("no_such_flaw", flaw.value)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", ["adddept", "setdept", "bindgroup", "binddept", "addfirm",
                                  "join", "addrule", "delrule", "setpolicy"])  # fmt: skip
def test_every_command_with_arguments_has_a_usage_text(name: str, language: str) -> None:
    usage = _render("setup_usage", language, command=name)
    assert f"/{name}" in usage


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_setup_command_is_in_the_help(language: str) -> None:
    macros = environment().get_template(f"{language}/_macros.j2").module
    for command_ in COMMANDS:
        assert str(macros.command_help(command_.name)).strip(), command_.name  # type: ignore[attr-defined]


def test_plain_answers_drop_tags_and_entities() -> None:
    assert plain("<b>A &amp; B</b>") == "A & B"


# --- reading files ----------------------------------------------------------------------------


def test_yaml_entries_keep_their_path() -> None:
    raw, problems = read_yaml(
        "departments:\n  - {name: 县营商办}\n  - just text\nfirms:\n".encode()
    )
    assert [p.where() for p in problems] == ["departments[1]"]
    assert problems[0].flaw is Flaw.NOT_AN_ENTRY
    assert [e.place.index for e in raw["departments"]] == [0]
    assert "firms" not in raw


def test_a_yaml_syntax_error_names_its_line() -> None:
    _, problems = read_yaml(b"departments:\n  - {name: x\npeople: []\n")
    assert problems[0].flaw is Flaw.UNREADABLE and problems[0].line == 3


def test_files_that_are_not_a_county_are_refused_plainly(tmp_path: Path) -> None:
    assert raw_from_mapping(None)[1][0].flaw is Flaw.EMPTY_FILE
    assert raw_from_mapping([1, 2])[1][0].flaw is Flaw.NOT_A_MAPPING
    assert raw_from_mapping({"firms": "x"})[1][0].flaw is Flaw.NOT_A_LIST
    assert read_file(tmp_path / "county.csv")[1][0].flaw is Flaw.UNREADABLE
    assert read_file(tmp_path / "missing.yaml")[1][0].flaw is Flaw.UNREADABLE
    (tmp_path / "junk.xlsx").write_bytes(b"not a zip")
    assert read_file(tmp_path / "junk.xlsx")[1][0].flaw is Flaw.UNREADABLE


def test_workbook_rows_keep_their_sheet_row_and_columns(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "People"
    sheet.append(["ID", " Name ", None, "roles"])
    sheet.append([7001, "王营商", "ignored", "official、head"])
    sheet.append([None, "  ", None, None])
    sheet.append([7002, "赵电力", None, None])
    workbook.create_sheet("_notes").append(["free text"])
    path = tmp_path / "people.xlsx"
    workbook.save(path)
    raw, problems = read_workbook(path)
    assert problems == []
    entries = raw["people"]
    assert [(e.place.row, e.place.index) for e in entries] == [(2, 0), (4, 1)]
    assert entries[0].fields == {"id": 7001, "name": "王营商", "roles": "official、head"}
    assert entries[0].place.columns == {"id": "A", "name": "B", "roles": "D"}
    parsed = parse_county(raw)
    assert parsed.problems == []
    assert parsed.setup.people[0].roles == (Role.OFFICIAL, Role.HEAD)


def test_a_county_is_checked_against_itself_without_a_database() -> None:
    raw, _ = raw_from_mapping(
        {
            "departments": [
                {"name": "甲局", "coordinator": "yes"},
                {"name": "乙局", "coordinator": 0},
            ],
            "people": [{"id": "12", "name": "张三", "roles": "Official，HEAD", "username": "@zs"}],
            "groups": [{"id": -100123, "industry": "茶叶", "tags": ["茶叶", "花卉"]}],
            "department_chats": [{"id": -100123, "department": "甲局"}],
            "rules": [
                {"keywords": "停电,用电", "category": "水电气", "lead": "甲局"},
                {"keywords": ["用电", "停电"], "category": "utilities", "lead": "乙局"},
            ],
            "policies": [{"category": "融资", "close_working_days": "3", "confirm_days": 2}],
        }
    )
    parsed = parse_county(raw)
    assert [(p.where(), p.flaw, p.other) for p in parsed.problems] == [
        ("department_chats[0].id", Flaw.DUPLICATE, 0),
        ("rules[1].keywords", Flaw.DUPLICATE, 0),
    ]
    setup = parsed.setup
    assert [(d.name, d.coordinator) for d in setup.departments] == [("甲局", True), ("乙局", False)]
    person = setup.people[0]
    assert (person.telegram_id, person.username, person.roles) == (
        12,
        "zs",
        (Role.OFFICIAL, Role.HEAD),
    )
    assert setup.chats[0].tags == ("花卉",)
    assert setup.rules[0].category == "utilities"
    assert (setup.policies[0].category, setup.policies[0].close_days) == ("financing", 3)
    assert [(r.field, r.value) for r in parsed.references] == [
        ("department", "甲局"),
        ("lead", "甲局"),
        ("lead", "乙局"),
    ]


@pytest.mark.parametrize("name", ["t.yaml", "t.yml", "t.xlsx"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_template_has_every_section_and_no_problem(
    tmp_path: Path, name: str, language: str
) -> None:
    path = tmp_path / name
    write_template(path, language)
    raw, problems = read_file(path)
    assert problems == []
    assert set(raw) == set(SECTIONS)
    assert parse_county(raw).problems == []


def test_the_template_is_written_for_yaml_and_xlsx_only(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="xlsx"):
        write_template(tmp_path / "t.csv")


def test_the_import_command_wants_a_file_or_a_template_not_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings()
    assert command(settings, None) == 2
    assert command(settings, "a.yaml", template="b.yaml") == 2
    assert "--template" in capsys.readouterr().err
    assert command(settings, None, template=str(tmp_path / "out.xlsx")) == 0
    assert (tmp_path / "out.xlsx").is_file()
    assert command(settings, None, template=str(tmp_path / "out.txt")) == 2


def test_the_templates_in_docs_are_what_the_command_writes() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs"
    assert (docs / "import-template.yaml").read_text(encoding="utf-8") == example("zh_CN")
    from_workbook, problems = read_file(docs / "import-template.xlsx")
    from_yaml, _ = read_file(docs / "import-template.yaml")
    assert problems == []
    cells = {
        s: [{k: v for k, v in e.fields.items() if v is not None} for e in entries]
        for s, entries in from_workbook.items()
    }
    assert cells == {s: [_as_cells(e.fields) for e in entries] for s, entries in from_yaml.items()}


def _as_cells(fields: Any) -> dict[str, Any]:
    """A YAML entry as the workbook holds it: lists joined by commas."""
    return {k: ", ".join(map(str, v)) if isinstance(v, list) else v for k, v in fields.items()}
