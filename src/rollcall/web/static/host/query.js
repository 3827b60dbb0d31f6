// What part of the roster the dashboard shows, and in what order: a search by name, filters by
// group, only who is behind on the event state, a sort. `select` answers with the rows and the
// counts, which always match each other.

import { CATEGORIES, searchKey, shownScore } from "./roster.js";

export const SORTS = ["name", "presence", "score", "joined", "team"];
/** The team filter's value for people in no team. */
export const NO_TEAM = "";

const RANK = Object.fromEntries(CATEGORIES.map((category, index) => [category, index]));

export class RosterQuery {
  text = ""; // the search as typed
  #key = ""; // the search as compared
  filters = new Set(); // categories to show; empty: all
  behindOnly = false; // only who has not shown the current event state
  #behind = new Set(); // their ids, as rollcall last listed them
  team = null; // a team id to show only its members, NO_TEAM for those in none; null: all
  teamOrder = new Map(); // team id -> its place in the event's teams, for the sort by team
  sort = "name";
  descending = false;

  constructor(locale) {
    this.setLocale(locale);
  }

  /** Names sort as people of this language expect. */
  setLocale(locale) {
    this.collator = new Intl.Collator(locale, { sensitivity: "base", numeric: true });
    this.#byName = null;
  }

  #byName = null; // everyone in order of name, each with its place as `nameRank`
  #namesVersion = -1;

  /** Everyone in order of name. Sorting with the collator is the costly part of a draw, so it
   * happens only when someone new arrives or a name changes; every sort uses the ranks. */
  #ordered(roster) {
    if (this.#byName && this.#namesVersion === roster.namesVersion) return this.#byName;
    const everyone = [...roster.values()].sort((a, b) =>
      this.collator.compare(a.display_name, b.display_name),
    );
    everyone.forEach((entry, index) => {
      entry.nameRank = index;
    });
    this.#byName = everyone;
    this.#namesVersion = roster.namesVersion;
    return everyone;
  }

  setText(text) {
    this.text = text;
    this.#key = searchKey(text);
  }

  /** Who has not shown the current event state (the receipts' `behind`). */
  setBehind(ids) {
    this.#behind = new Set(ids);
  }

  toggleFilter(category) {
    if (this.filters.has(category)) this.filters.delete(category);
    else this.filters.add(category);
  }

  /** Each sort's natural direction (highest score and newest join first), then by name;
   * `descending` turns the first key. Null for the order by name, which the rows are already in. */
  #compare() {
    const sign = this.descending ? -1 : 1;
    const byName = (a, b) => a.nameRank - b.nameRank;
    switch (this.sort) {
      case "presence":
        return (a, b) => sign * (RANK[a.category] - RANK[b.category]) || byName(a, b);
      case "score":
        return (a, b) => sign * (shownScore(b) - shownScore(a)) || byName(a, b);
      case "joined":
        return (a, b) => sign * (b.joinedMs - a.joinedMs) || byName(a, b);
      case "team": {
        // The event's order of teams, people in none last.
        const place = (entry) => this.teamOrder.get(entry.team) ?? this.teamOrder.size;
        return (a, b) => sign * (place(a) - place(b)) || byName(a, b);
      }
      default:
        return null;
    }
  }

  /** Whether a search or a filter hides anyone. */
  get narrowed() {
    return this.#key !== "" || this.filters.size > 0 || this.team !== null || this.behindOnly;
  }

  clear() {
    this.setText("");
    this.filters.clear();
    this.behindOnly = false;
    this.team = null;
  }

  /** The event's teams changed: the sort follows their order; a filter on a gone team ends. */
  setTeams(teams) {
    this.teamOrder = new Map(teams.map((team, index) => [team.id, index]));
    if (this.team && !this.teamOrder.has(this.team)) this.team = null;
  }

  #inTeam(entry) {
    if (this.team === null) return true;
    if (this.team === NO_TEAM) return !entry.team;
    return entry.team === this.team;
  }

  /**
   * `rows`: the entries that match the search and the filters, sorted; `counts`: per category,
   * how many match the search; `totals`: per category, everyone; `total`: everyone.
   */
  select(roster) {
    const zero = () => Object.fromEntries(CATEGORIES.map((category) => [category, 0]));
    const counts = zero();
    const totals = zero();
    const rows = [];
    let total = 0;
    for (const entry of this.#ordered(roster)) {
      total += 1;
      totals[entry.category] += 1;
      if (this.#key && !entry.key.includes(this.#key)) continue;
      if (!this.#inTeam(entry)) continue;
      counts[entry.category] += 1;
      if (this.behindOnly && !this.#behind.has(entry.id)) continue;
      if (this.filters.size === 0 || this.filters.has(entry.category)) rows.push(entry);
    }
    const compare = this.#compare();
    if (compare) rows.sort(compare);
    else if (this.descending) rows.reverse();
    return { rows, counts, totals, total };
  }
}
