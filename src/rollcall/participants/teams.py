"""Teams: spreading the active participants over the event's teams, sizes at most one apart.

The event row lock decides: a balance reads the teams and their members under it, so two hosts
balancing at once run one after the other, and the second sees the first's result (with
nobody left without a team, it has nothing to do). Sizes count active participants only.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from rollcall import event_log
from rollcall.db.pool import DB
from rollcall.errors import EventClosed
from rollcall.events.service import EventRow
from rollcall.participants.service import set_teams


@dataclass(frozen=True)
class Balance:
    assigned: int
    sizes: dict[str, int]


def plan(
    team_ids: list[str], members: list[tuple[UUID, str | None]], *, everyone: bool
) -> dict[UUID, str]:
    """Who moves to which team: `members` are the active participants in join order.

    Without `everyone`, each participant without a team joins the smallest team (the first
    such in the event's order): sizes end at most one apart when they start so. With it,
    sizes are made to differ by at most one, moving as few participants as can be: teams that
    are largest keep the extra places, and a team over its size gives up its latest joiners.
    """
    if not team_ids:
        return {}
    known = set(team_ids)
    in_team: dict[str, list[UUID]] = {team: [] for team in team_ids}
    free: list[UUID] = []
    for pid, team in members:
        if team in known:
            in_team[team].append(pid)
        else:
            free.append(pid)
    moves: dict[UUID, str] = {}
    if not everyone:
        for pid in free:
            team = min(team_ids, key=lambda t: (len(in_team[t]), team_ids.index(t)))
            in_team[team].append(pid)
            moves[pid] = team
        return moves
    base, extra = divmod(len(members), len(team_ids))
    by_size = sorted(team_ids, key=lambda t: (-len(in_team[t]), team_ids.index(t)))
    target = {team: base + (1 if rank < extra else 0) for rank, team in enumerate(by_size)}
    order = {pid: n for n, (pid, _) in enumerate(members)}
    for team in team_ids:
        while len(in_team[team]) > target[team]:
            free.append(in_team[team].pop())  # the latest joiner of the team
    free.sort(key=order.__getitem__)
    for pid in free:
        team = max(team_ids, key=lambda t: (target[t] - len(in_team[t]), -team_ids.index(t)))
        in_team[team].append(pid)
        moves[pid] = team
    return {pid: team for pid, team in moves.items() if dict(members).get(pid) != team}


async def balance(conn: DB, *, event: EventRow, everyone: bool) -> Balance:
    """Spread the event's active participants over its teams (see plan), under the event lock."""
    async with conn.transaction():
        if await event_log.lock_event(conn, event_id=event.id) == "closed":
            raise EventClosed("a closed event cannot be changed")
        teams = await conn.fetchval("SELECT teams FROM events WHERE id = $1", event.id)
        team_ids = [team["id"] for team in teams]
        rows = await conn.fetch(
            """
            SELECT id, team FROM event_participants
            WHERE event_id = $1 AND status = 'active'
            ORDER BY join_timestamp, id
            """,
            event.id,
        )
        members = [(row["id"], row["team"]) for row in rows]
        moves = plan(team_ids, members, everyone=everyone)
        await set_teams(conn, event_id=event.id, teams=dict(moves))
    sizes = dict.fromkeys(team_ids, 0)
    for pid, team in members:
        final = moves.get(pid, team)
        if final in sizes:
            sizes[final] += 1
    return Balance(assigned=len(moves), sizes=sizes)
