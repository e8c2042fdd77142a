from models.rules.permissions import Action, Role, can, commands_for, parse_role


def test_everyone_may_use_the_basic_commands() -> None:
    names = [command.name for command in commands_for(())]
    assert names[:4] == ["start", "help", "whoami", "lang"]
    assert "report" in names and "claim" not in names


def test_only_admins_see_and_may_manage_roles() -> None:
    assert not can({Role.COORDINATOR, Role.LEADER}, Action.MANAGE_ROLES)
    assert can({Role.ADMIN}, Action.MANAGE_ROLES)
    assert "grant" in [command.name for command in commands_for({Role.ADMIN})]
    assert "grant" not in [command.name for command in commands_for({Role.OFFICIAL})]


def test_roles_parse_from_their_names_only() -> None:
    assert parse_role(" Official ") is Role.OFFICIAL
    assert parse_role("boss") is None
