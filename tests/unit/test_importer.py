"""Import files as read (YAML, workbooks), checked on their own, and the texts that tell of them."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from bot.handlers.setup import plain
from bot.importer import (
    command,
    example,
    read_csv,
    read_file,
    read_workbook,
    read_yaml,
    write_template,
)
from models.config import Settings
from models.rules.permissions import COMMANDS, Role
from models.services.setup import (
    SECTIONS,
    Flaw,
    Outcome,
    Problem,
    Refusal,
    claim_hours_of,
    parse_county,
    parse_setpolicy,
    quiet_hours_of,
    raw_from_mapping,
    refusal_params,
    reminder_hours_of,
    stage_limits_of,
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
    assert read_file(tmp_path / "county.txt")[1][0].flaw is Flaw.UNREADABLE
    assert read_file(tmp_path / "missing.csv")[1][0].flaw is Flaw.UNREADABLE
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


def test_the_template_is_written_for_yaml_xlsx_and_csv_only(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="xlsx"):
        write_template(tmp_path / "t.txt")


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


# --- service policies' options ----------------------------------------------------------------


def test_setpolicy_takes_trailing_options_for_claim_reminders_quiet_hours_and_stages() -> None:
    args = parse_setpolicy(
        ["水电气", "1", "1", "urgent", "claim=4h", "remind=24，2", "quiet=22:00-07:30",
         "stages=分类：1,派单:1,到场:2,办结:4"]
    )  # fmt: skip
    assert args is not None and args.urgent
    assert dict(args.options) == {
        "claim_hours": "4h",
        "reminder_hours": "24,2",
        "quiet_hours": "22:00-07:30",
        "stage_limits": "分类:1,派单:1,到场:2,办结:4",
    }
    assert parse_setpolicy(["default", "5", "3"]) is not None
    assert parse_setpolicy(["default", "5", "3", "claim=eod"]) is not None
    # Unknown or repeated options, options before the days, empty values: the usage text.
    assert parse_setpolicy(["default", "5", "3", "colour=red"]) is None
    assert parse_setpolicy(["default", "5", "3", "claim=4", "claim=5"]) is None
    assert parse_setpolicy(["default", "claim=4", "5", "3"]) is None
    assert parse_setpolicy(["default", "5", "3", "claim="]) is None


def test_policy_options_read_as_stored_or_are_refused() -> None:
    assert claim_hours_of("4h") == 4.0 and claim_hours_of("1.5") == 1.5
    assert claim_hours_of("2小时") == 2.0 and claim_hours_of("EOD") is None
    assert reminder_hours_of("2,24,24") == [24.0, 2.0] and reminder_hours_of("off") == []
    assert quiet_hours_of("7:00-9:30") == "07:00-09:30" and quiet_hours_of("off") == ""
    assert stage_limits_of("分类:1,派单:1.5,on site:2") == [
        ["分类", 1],
        ["派单", 1.5],
        ["on site", 2],
    ]
    assert stage_limits_of("none") == []
    for reader, bad in [
        (claim_hours_of, "0"),
        (claim_hours_of, "-3"),
        (claim_hours_of, "nan"),
        (claim_hours_of, "999"),
        (claim_hours_of, "soon"),
        (reminder_hours_of, "24,x"),
        (reminder_hours_of, "1,2,3,4,5,6"),
        (reminder_hours_of, ""),
        (quiet_hours_of, "22:00"),
        (quiet_hours_of, "25:00-07:00"),
        (quiet_hours_of, "07:00-07:00"),
        (stage_limits_of, "分类"),
        (stage_limits_of, "分类:1,分类:2"),
        (stage_limits_of, ":1"),
        (stage_limits_of, "分类:0"),
        (stage_limits_of, "一二三四五六七八九十一二三四五六七八九十一:1"),
        (stage_limits_of, ",".join(f"s{i}:1" for i in range(11))),
    ]:
        with pytest.raises(ValueError):
            reader(bad)


def test_policy_rows_of_a_file_take_the_same_options() -> None:
    raw, _ = raw_from_mapping(
        {
            "policies": [
                {"category": "default", "close_working_days": 5, "confirm_days": 3,
                 "claim_hours": 4, "reminder_hours": [24, 2], "quiet_hours": False,
                 "stage_limits": [["分类", 1], ["派单", 1]]},
                {"category": "land", "close_working_days": 5, "confirm_days": 3,
                 "stage_limits": {"到场": 2}, "claim_hours": "eod"},
                {"category": "labour", "close_working_days": 5, "confirm_days": 3,
                 "claim_hours": "later", "reminder_hours": "0", "quiet_hours": "night",
                 "stage_limits": "办结"},
            ]
        }
    )  # fmt: skip
    parsed = parse_county(raw)
    assert [(p.where(), p.flaw, p.value) for p in parsed.problems] == [
        ("policies[2].claim_hours", Flaw.BAD_CLAIM_HOURS, "later"),
        ("policies[2].reminder_hours", Flaw.BAD_REMINDERS, "0"),
        ("policies[2].quiet_hours", Flaw.BAD_QUIET_HOURS, "night"),
        ("policies[2].stage_limits", Flaw.BAD_STAGES, "办结"),
    ]
    first, second = parsed.setup.policies
    assert dict(first.options) == {
        "claim_hours": 4.0,
        "reminder_hours": [24.0, 2.0],
        "quiet_hours": "",
        "stage_limits": [["分类", 1], ["派单", 1]],
    }
    assert dict(second.options) == {"claim_hours": None, "stage_limits": [["到场", 2]]}


@pytest.mark.parametrize("language", LANGUAGES)
def test_policies_show_their_options(language: str) -> None:
    policy = {
        "category": None,
        "priority": "normal",
        "close_days": 5,
        "confirm_days": 3,
        "claim_hours": 1.5,
        "reminder_hours": [24.0, 2.0],
        "quiet_hours": "22:00-07:30",
        "stage_limits": [["分类", 1], ["到场", 2]],
    }
    listed = _render("setup_policies", language, policies=[policy])
    assert "1.5" in listed and "24" in listed and "22:00-07:30" in listed
    assert "分类 1" in listed and "→ 到场 2" in listed
    plain_policy = {**policy, "claim_hours": None, "reminder_hours": [], "quiet_hours": ""}
    plain_policy["stage_limits"] = []
    set_text = _render("setup_policy_set", language, policy=plain_policy)
    assert "22:00" not in set_text and "分类" not in set_text
    assert ("当天下班前" if language == "zh_CN" else "end of the working day") in set_text


# --- projects and nodes in a file, and the CSV of nodes ---------------------------------------

NODES_CSV = (
    "project,project_category,project_department,leader,title,department,owner,deadline,"
    "weight,closing_standard\n"
    "产业园,工业项目,营商办,@li,完成征地,自然资源局,-,2026-06-30,3,取得批复，交付土地\n"
    ",,,,,,,,,\n"
    "产业园,,,,厂区通电,供电公司,@zhao,2026-07-31 12:00,,线路接入\n"
    "产业园,城建项目,,,道路,交通局,,2026-08-31,x,通车\n"
    "老旧小区,,,,线路改造,供电公司,,2026-13-01,2,\n"
)


def test_a_csv_of_nodes_names_each_project_once_from_its_first_row() -> None:
    raw, problems = read_csv(NODES_CSV.encode("utf-8-sig"))
    assert [(p.where(), p.flaw, p.value, p.other) for p in problems] == [
        ("projects!B5", Flaw.PROJECT_MISMATCH, "城建项目", 2),
    ]
    projects = raw["projects"]
    assert [(e.place.row, e.if_absent, dict(e.fields)) for e in projects] == [
        (2, True, {"name": "产业园", "category": "工业项目", "department": "营商办",
                   "leader": "@li"}),
        (6, True, {"name": "老旧小区", "category": None, "department": None, "leader": None}),
    ]  # fmt: skip
    assert projects[0].place.columns == {
        "name": "A",
        "category": "B",
        "department": "C",
        "leader": "D",
    }
    nodes = raw["nodes"]
    assert [e.place.row for e in nodes] == [2, 4, 5, 6]  # the blank row 3 is skipped
    assert nodes[0].place.columns["deadline"] == "H"
    assert nodes[0].fields["closing_standard"] == "取得批复，交付土地"
    parsed = parse_county(raw)
    assert [(p.where(), p.flaw) for p in parsed.problems] == [
        ("nodes!I5", Flaw.BAD_WEIGHT),
        ("nodes!J6", Flaw.REQUIRED),
        ("nodes!H6", Flaw.BAD_DATE),
    ]
    # A project named only by rows without particulars is told about once the bot's are known.
    assert [(p.name, p.category) for p in parsed.setup.projects] == [
        ("产业园", "工业项目"),
        ("老旧小区", None),
    ]
    node = parsed.setup.nodes[1]
    assert (node.owner, node.weight, node.deadline) == ("@zhao", 1, "2026-07-31 12:00")
    assert parsed.setup.nodes[0].owner is None  # "-": nobody named
    references = [(r.field, r.kind, r.value) for r in parsed.references]
    assert references[:3] == [
        ("department", Flaw.UNKNOWN_DEPARTMENT, "营商办"),
        ("leader", Flaw.UNKNOWN_PERSON, "@li"),
        ("project", Flaw.UNKNOWN_PROJECT, "产业园"),
    ]


def test_a_csv_saved_by_excel_on_chinese_windows_reads_too() -> None:
    raw, problems = read_csv(NODES_CSV.encode("gb18030"))
    assert raw["nodes"][0].fields["title"] == "完成征地"
    assert len(problems) == 1


def test_a_csv_with_an_unknown_column_or_nothing_in_it_is_refused_plainly() -> None:
    _, problems = read_csv(b"project,titel\n")
    assert [(p.where(), p.flaw, p.value) for p in problems] == [
        ("nodes!B1", Flaw.UNKNOWN_FIELD, "titel")
    ]
    assert read_csv(b"")[1][0].flaw is Flaw.EMPTY_FILE
    assert read_csv(b"\xff\xfe\x00\xd8")[1][0].flaw is Flaw.UNREADABLE


def test_project_and_node_entries_are_checked_on_their_own() -> None:
    raw, _ = raw_from_mapping(
        {
            "projects": [
                {"name": "产业园", "category": "工业项目", "department": "营商办"},
                {"name": "产业园", "category": "工业项目", "department": "营商办"},
                {"name": "新区", "department": "营商办", "leader": "-"},
            ],
            "nodes": [
                {"project": "产业园", "title": "征地", "department": "营商办",
                 "deadline": datetime(2026, 6, 30), "weight": 101, "closing_standard": "批复"},
                {"project": "产业园", "title": "征地", "department": "营商办",
                 "deadline": date(2026, 6, 30), "closing_standard": "批复"},
                {"project": "产业园", "title": "通电", "department": "营商办",
                 "deadline": "next week", "closing_standard": "通电", "weight": 2.0},
            ],
        }
    )  # fmt: skip
    parsed = parse_county(raw)
    assert [(p.where(), p.flaw) for p in parsed.problems] == [
        ("projects[1].name", Flaw.DUPLICATE),
        ("projects[2].category", Flaw.REQUIRED),
        ("nodes[0].weight", Flaw.BAD_WEIGHT),
        ("nodes[1].title", Flaw.DUPLICATE),
        ("nodes[2].deadline", Flaw.BAD_DATE),
    ]
    assert parsed.problems[3].other == 0


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_csv_template_has_nodes_of_the_example_county(tmp_path: Path, language: str) -> None:
    path = tmp_path / "nodes.csv"
    write_template(path, language)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel opens it as UTF-8
    raw, problems = read_file(path)
    assert problems == []
    assert len(raw["nodes"]) == 3 and len(raw["projects"]) == 2
    assert parse_county(raw).problems == []


def test_the_csv_template_in_docs_is_what_the_command_writes(tmp_path: Path) -> None:
    docs = Path(__file__).resolve().parents[2] / "docs"
    write_template(tmp_path / "nodes.csv", "zh_CN")
    assert (docs / "nodes-template.csv").read_bytes() == (tmp_path / "nodes.csv").read_bytes()
