"""Who may do what: the roles × actions table, checked on the server for every command and button.

This table says what a role may do at all; whether a person may act on one particular issue
(the reporter's firm, the lead department) is checked by the service that does it.
"""

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
    REPORT_ISSUE = "report_issue"
    JOIN_FIRM = "join_firm"
    SEARCH_FAQ = "search_faq"
    SUBSCRIBE = "subscribe"
    VIEW_HISTORY = "view_history"
    FILE_ON_BEHALF = "file_on_behalf"
    CLAIM_ISSUE = "claim_issue"
    TRANSFER_ISSUE = "transfer_issue"
    ANSWER_ISSUE = "answer_issue"
    VIEW_QUEUE = "view_queue"
    TRIAGE = "triage"
    RECORD_CALLBACK = "record_callback"
    PUBLISH_POLICY = "publish_policy"
    CONFIRM_MEMBER = "confirm_member"
    MANAGE_COUNTY = "manage_county"
    BIND_CHAT = "bind_chat"
    MANAGE_ROLES = "manage_roles"
    VIEW_NODES = "view_nodes"
    MANAGE_PROJECTS = "manage_projects"
    UPDATE_NODE = "update_node"
    ACCEPT_NODE = "accept_node"
    RECOMMIT = "recommit"
    APPROVE_RECOMMIT = "approve_recommit"
    VIEW_RANKING = "view_ranking"
    VIEW_DIGEST = "view_digest"
    PUBLISH_LISTS = "publish_lists"
    EXPORT_LEDGER = "export_ledger"


# What anyone who writes to the bot may do; an unknown firm member can still report.
EVERYONE: frozenset[Action] = frozenset(
    {
        Action.USE_BOT,
        Action.REPORT_ISSUE,
        Action.JOIN_FIRM,
        Action.SEARCH_FAQ,
        Action.SUBSCRIBE,
        Action.VIEW_HISTORY,
    }
)
ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.FIRM: frozenset(),
    Role.OFFICIAL: frozenset(
        {
            Action.FILE_ON_BEHALF,
            Action.CLAIM_ISSUE,
            Action.TRANSFER_ISSUE,
            Action.ANSWER_ISSUE,
            Action.VIEW_QUEUE,
            Action.VIEW_NODES,
            Action.UPDATE_NODE,
            Action.RECOMMIT,
            Action.VIEW_RANKING,
        }
    ),
    Role.HEAD: frozenset(
        {
            Action.VIEW_QUEUE,
            Action.VIEW_NODES,
            Action.UPDATE_NODE,
            Action.RECOMMIT,
            Action.VIEW_RANKING,
        }
    ),
    Role.COORDINATOR: frozenset(
        {
            Action.FILE_ON_BEHALF,
            Action.TRANSFER_ISSUE,
            Action.VIEW_QUEUE,
            Action.TRIAGE,
            Action.RECORD_CALLBACK,
            Action.PUBLISH_POLICY,
            Action.CONFIRM_MEMBER,
            Action.MANAGE_COUNTY,
            Action.BIND_CHAT,
            Action.VIEW_NODES,
            Action.MANAGE_PROJECTS,
            Action.ACCEPT_NODE,
            Action.VIEW_RANKING,
            Action.VIEW_DIGEST,
            Action.PUBLISH_LISTS,
            Action.EXPORT_LEDGER,
        }
    ),
    Role.LEADER: frozenset(
        {
            Action.VIEW_QUEUE,
            Action.RECORD_CALLBACK,
            Action.VIEW_NODES,
            Action.MANAGE_PROJECTS,
            Action.ACCEPT_NODE,
            Action.APPROVE_RECOMMIT,
            Action.VIEW_RANKING,
            Action.VIEW_DIGEST,
            Action.PUBLISH_LISTS,
            Action.EXPORT_LEDGER,
        }
    ),
    Role.LIAISON: frozenset({Action.FILE_ON_BEHALF, Action.CONFIRM_MEMBER}),
    Role.ADMIN: frozenset(
        {
            Action.MANAGE_ROLES,
            Action.MANAGE_COUNTY,
            Action.BIND_CHAT,
            Action.CONFIRM_MEMBER,
            Action.VIEW_NODES,
            Action.MANAGE_PROJECTS,
            Action.VIEW_RANKING,
            Action.EXPORT_LEDGER,
        }
    ),
}


@dataclass(frozen=True)
class Command:
    name: str
    action: Action


# The commands the bot answers, in the order /help lists them. A command is listed here only
# once it works: /help must never offer what the bot cannot do.
COMMANDS: tuple[Command, ...] = (
    Command("start", Action.USE_BOT),
    Command("help", Action.USE_BOT),
    Command("whoami", Action.USE_BOT),
    Command("lang", Action.USE_BOT),
    Command("report", Action.REPORT_ISSUE),
    Command("history", Action.VIEW_HISTORY),
    Command("reopen", Action.REPORT_ISSUE),
    Command("queue", Action.VIEW_QUEUE),
    Command("claim", Action.CLAIM_ISSUE),
    Command("answer", Action.ANSWER_ISSUE),
    Command("transfer", Action.TRANSFER_ISSUE),
    Command("stage", Action.ANSWER_ISSUE),
    Command("file", Action.FILE_ON_BEHALF),
    Command("callback", Action.RECORD_CALLBACK),
    Command("faq", Action.SEARCH_FAQ),
    Command("subscribe", Action.SUBSCRIBE),
    Command("unsubscribe", Action.SUBSCRIBE),
    Command("subscriptions", Action.SUBSCRIBE),
    Command("policy", Action.PUBLISH_POLICY),
    Command("policies", Action.PUBLISH_POLICY),
    Command("grant", Action.MANAGE_ROLES),
    Command("revoke", Action.MANAGE_ROLES),
    Command("join", Action.JOIN_FIRM),
    Command("adddept", Action.MANAGE_COUNTY),
    Command("setdept", Action.MANAGE_COUNTY),
    Command("addfirm", Action.MANAGE_COUNTY),
    Command("addrule", Action.MANAGE_COUNTY),
    Command("rules", Action.MANAGE_COUNTY),
    Command("delrule", Action.MANAGE_COUNTY),
    Command("setpolicy", Action.MANAGE_COUNTY),
    Command("servicepolicies", Action.MANAGE_COUNTY),
    Command("bindgroup", Action.BIND_CHAT),
    Command("binddept", Action.BIND_CHAT),
    Command("unbind", Action.BIND_CHAT),
    # The node method: projects and nodes, cards, points, working time.
    Command("projects", Action.VIEW_NODES),
    Command("timeline", Action.VIEW_NODES),
    Command("supervision", Action.VIEW_NODES),
    Command("progress", Action.UPDATE_NODE),
    Command("done", Action.UPDATE_NODE),
    Command("recommit", Action.RECOMMIT),
    Command("accept", Action.ACCEPT_NODE),
    Command("sendback", Action.ACCEPT_NODE),
    Command("approve", Action.APPROVE_RECOMMIT),
    Command("reject", Action.APPROVE_RECOMMIT),
    Command("ranking", Action.VIEW_RANKING),
    Command("addproject", Action.MANAGE_PROJECTS),
    Command("addnode", Action.MANAGE_PROJECTS),
    Command("bindproject", Action.BIND_CHAT),
    Command("holiday", Action.MANAGE_COUNTY),
    Command("workday", Action.MANAGE_COUNTY),
    Command("calendar", Action.MANAGE_COUNTY),
    Command("setpoints", Action.MANAGE_COUNTY),
    Command("setweight", Action.MANAGE_COUNTY),
    Command("deptkind", Action.MANAGE_COUNTY),
    # For leaders: the digest, red/black lists, the ledger.
    Command("digest", Action.VIEW_DIGEST),
    Command("lists", Action.VIEW_DIGEST),
    Command("export", Action.EXPORT_LEDGER),
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
