"""Who may do what: the roles × actions table, checked on the server for every command."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    FIRM = "firm"
    OFFICIAL = "official"
    HEAD = "head"
    COORDINATOR = "coordinator"
    LEADER = "leader"
    LIAISON = "liaison"
    ADMIN = "admin"


class Action(StrEnum):
    USE_BOT = "use_bot"
    MANAGE_ROLES = "manage_roles"


# Everyone who writes to the bot may use it; the rest is granted by role.
EVERYONE: frozenset[Action] = frozenset({Action.USE_BOT})
ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.FIRM: frozenset(),
    Role.OFFICIAL: frozenset(),
    Role.HEAD: frozenset(),
    Role.COORDINATOR: frozenset(),
    Role.LEADER: frozenset(),
    Role.LIAISON: frozenset(),
    Role.ADMIN: frozenset({Action.MANAGE_ROLES}),
}


@dataclass(frozen=True)
class Command:
    name: str
    action: Action


# The commands the bot answers, in the order /help lists them.
COMMANDS: tuple[Command, ...] = (
    Command("start", Action.USE_BOT),
    Command("help", Action.USE_BOT),
    Command("whoami", Action.USE_BOT),
    Command("lang", Action.USE_BOT),
    Command("grant", Action.MANAGE_ROLES),
    Command("revoke", Action.MANAGE_ROLES),
)


def actions_of(roles: Iterable[Role]) -> frozenset[Action]:
    allowed = set(EVERYONE)
    for role in roles:
        allowed |= ROLE_ACTIONS[role]
    return frozenset(allowed)


def can(roles: Iterable[Role], action: Action) -> bool:
    return action in actions_of(roles)


def commands_for(roles: Iterable[Role]) -> list[Command]:
    allowed = actions_of(roles)
    return [command for command in COMMANDS if command.action in allowed]


def parse_role(text: str) -> Role | None:
    try:
        return Role(text.strip().lower())
    except ValueError:
        return None
