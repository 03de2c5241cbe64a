"""Full-text search over conversation titles and messages.

SQLite: FTS5 tables kept in step by triggers (migration 0004). PostgreSQL: GIN indexes on
to_tsvector('simple', ...), queried with websearch_to_tsquery('simple', ...); the
expressions below must stay identical to the indexed ones or the indexes go unused.

One query language on both, that of websearch_to_tsquery: words are ANDed, "quoted words"
are phrases, -word excludes, ``or`` between words is OR. User text never reaches FTS5 raw:
every term is re-quoted, so stray quotes or operators are just words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import TextClause, bindparam, text
from sqlmodel import Session, col, select

from app.db.crud.scope import Scope
from app.db.models import Conversation

HIGHLIGHT_START = "\x02"  # around each matched word in ConversationMatch.snippet
HIGHLIGHT_END = "\x03"
SNIPPET_WORDS = 16
MAX_QUERY_CHARS = 500
MAX_QUERY_TERMS = 16
# Messages ranked per query at most: the newest matching ones. A word found in nearly every
# message would otherwise rank them all (seconds on 100k messages); a rarer word's matches
# all fit, however old. Titles are few and always all ranked.
MAX_RANKED_MESSAGES = 2000

_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')  # -"a phrase" (closing quote optional) or a word
_HAS_WORD = re.compile(r"[^\W_]")  # a letter or digit: something a tokenizer would keep


@dataclass(frozen=True, slots=True)
class SearchTerm:
    text: str  # a word or a phrase
    negated: bool = False


@dataclass(frozen=True, slots=True)
class ConversationMatch:
    conversation: Conversation
    snippet: str  # plain text; matched words between HIGHLIGHT_START and HIGHLIGHT_END
    message_id: int | None  # the best matching message; None when only the title matched
    title_match: bool


def parse_search_query(query: str) -> list[list[SearchTerm]]:
    """The query as alternatives (ORed) of terms (ANDed). Empty when nothing is searchable.

    An alternative needs a term that is not negated: pure exclusions match nearly every
    row and no index can serve them, so they are dropped.
    """
    # Control characters (NUL would break PostgreSQL) become spaces.
    query = "".join(c if c.isprintable() else " " for c in query[:MAX_QUERY_CHARS])
    tokens: list[tuple[str, bool, bool]] = []  # (text, negated, quoted)
    for match in _TOKEN.finditer(query):
        if match.group(3) is not None:
            word = match.group(3)
            negated = word.startswith("-") and len(word) > 1
            tokens.append((word[1:] if negated else word, negated, False))
        else:
            tokens.append((match.group(2), bool(match.group(1)), True))
    groups: list[list[SearchTerm]] = [[]]
    for index, (word, negated, quoted) in enumerate(tokens):
        is_or = not quoted and not negated and word.lower() == "or"
        if is_or and groups[-1] and index + 1 < len(tokens):
            groups.append([])
        elif _HAS_WORD.search(word):
            groups[-1].append(SearchTerm(" ".join(word.replace('"', " ").split()), negated))
    kept: list[list[SearchTerm]] = []
    budget = MAX_QUERY_TERMS
    for group in groups:
        group = group[:budget]
        if any(not term.negated for term in group):
            kept.append(group)
            budget -= len(group)
        if budget <= 0:
            break
    return kept


def _fts5_query(groups: list[list[SearchTerm]]) -> str:
    def quoted(term: SearchTerm) -> str:
        return '"' + term.text.replace('"', '""') + '"'

    alternatives = []
    for group in groups:
        expression = "(" + " AND ".join(quoted(t) for t in group if not t.negated) + ")"
        for term in group:
            if term.negated:
                expression += " NOT " + quoted(term)
        alternatives.append("(" + expression + ")")
    return " OR ".join(alternatives)


def _websearch_query(groups: list[list[SearchTerm]]) -> str:
    def quoted(term: SearchTerm) -> str:
        return ("-" if term.negated else "") + '"' + term.text + '"'

    return " or ".join(" ".join(quoted(t) for t in group) for group in groups)


_SQLITE_SEARCH = """
    WITH newest AS MATERIALIZED (
        SELECT rowid AS mid, bm25(message_fts) AS score FROM message_fts
        WHERE message_fts MATCH :query ORDER BY rowid DESC LIMIT :scan
    ),
    hits AS MATERIALIZED (
        SELECT m.conversation_id AS cid, newest.mid, newest.score
        FROM newest CROSS JOIN message AS m ON m.id = newest.mid
    ),
    best AS (SELECT cid, mid, MIN(score) AS score FROM hits GROUP BY cid),
    titles AS MATERIALIZED (
        SELECT conversation_id AS cid, bm25(conversation_fts, 1.0, 0.0) AS score,
               highlight(conversation_fts, 0, :start, :end) AS snippet
        FROM conversation_fts
        WHERE conversation_fts MATCH :title_query
    ),
    found AS (SELECT cid FROM best UNION SELECT cid FROM titles)
    SELECT c.id, best.mid, titles.cid IS NOT NULL AS title_match,
           CASE WHEN best.mid IS NULL THEN titles.snippet ELSE (
               SELECT snippet(message_fts, 0, :start, :end, '…', :words) FROM message_fts
               WHERE message_fts MATCH :query AND message_fts.rowid = best.mid
           ) END AS snippet
    FROM found
    JOIN conversation AS c ON c.id = found.cid
    LEFT JOIN best ON best.cid = c.id
    LEFT JOIN titles ON titles.cid = c.id
    WHERE c.deleted_at IS NULL {scope}
    ORDER BY title_match DESC, titles.score, best.score IS NULL, best.score, c.updated_at DESC
    LIMIT :limit
    """

_POSTGRES_SEARCH = """
    WITH newest AS (
        SELECT m.id, m.conversation_id, m.content FROM message AS m
        WHERE to_tsvector('simple', m.content) @@ websearch_to_tsquery('simple', :query)
        ORDER BY m.id DESC LIMIT :scan
    ),
    best AS (
        SELECT DISTINCT ON (m.conversation_id) m.conversation_id AS cid, m.id AS mid,
               ts_rank(to_tsvector('simple', m.content),
                       websearch_to_tsquery('simple', :query), 1) AS score
        FROM newest AS m
        ORDER BY m.conversation_id, score DESC, m.id DESC
    ),
    titles AS (
        SELECT c.id AS cid,
               ts_rank(to_tsvector('simple', c.title),
                       websearch_to_tsquery('simple', :query), 1) AS score
        FROM conversation AS c
        WHERE to_tsvector('simple', c.title) @@ websearch_to_tsquery('simple', :query)
    ),
    found AS (SELECT cid FROM best UNION SELECT cid FROM titles),
    ranked AS (
        SELECT c.id, c.title, best.mid, titles.cid IS NOT NULL AS title_match,
               row_number() OVER (ORDER BY titles.cid IS NOT NULL DESC,
                                  titles.score DESC NULLS LAST,
                                  best.score DESC NULLS LAST,
                                  c.updated_at DESC) AS position
        FROM found
        JOIN conversation AS c ON c.id = found.cid
        LEFT JOIN best ON best.cid = c.id
        LEFT JOIN titles ON titles.cid = c.id
        WHERE c.deleted_at IS NULL {scope}
        ORDER BY position
        LIMIT :limit
    )
    SELECT r.id, r.mid, r.title_match,
           CASE WHEN r.mid IS NULL
                THEN ts_headline('simple', r.title, websearch_to_tsquery('simple', :query),
                                 :title_options)
                ELSE ts_headline('simple', m.content, websearch_to_tsquery('simple', :query),
                                 :options)
           END AS snippet
    FROM ranked AS r
    LEFT JOIN message AS m ON m.id = r.mid
    ORDER BY r.position
    """


# A reader sees hits from their projects only (and rows without one, for an admin).
_SCOPE = "AND (c.project_id IN :projects OR (:unowned AND c.project_id IS NULL))"


def _statement(sql: str, scope: Scope | None) -> TextClause:
    if scope is None:
        return text(sql.format(scope=""))
    return text(sql.format(scope=_SCOPE)).bindparams(bindparam("projects", expanding=True))


def search_conversations(
    *, session: Session, query: str, limit: int, scope: Scope | None = None
) -> list[ConversationMatch]:
    """Conversations not deleted whose title or messages match ``query``, best first;
    ``scope`` limits them to a reader's projects (None: all, for maintenance).

    Title matches rank first, then by how well the best message matches, then newest.
    Matching is by whole words, case-insensitive. A query with nothing searchable in it
    (empty, punctuation, only exclusions) matches nothing; no query raises.
    """
    groups = parse_search_query(query)
    if not groups or limit <= 0:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        fts = _fts5_query(groups)
        params: dict[str, object] = {
            "query": fts,
            "title_query": "{title} : (" + fts + ")",
            "start": HIGHLIGHT_START,
            "end": HIGHLIGHT_END,
            "words": SNIPPET_WORDS,
            "scan": MAX_RANKED_MESSAGES,
            "limit": limit,
        }
        sql = _SQLITE_SEARCH
    elif dialect == "postgresql":
        marks = f"StartSel={HIGHLIGHT_START}, StopSel={HIGHLIGHT_END}, ShortWord=0"
        params = {
            "query": _websearch_query(groups),
            "options": f"{marks}, MaxWords={SNIPPET_WORDS}, MinWords={SNIPPET_WORDS // 2}, "
            'MaxFragments=2, FragmentDelimiter=" … "',
            "title_options": f"{marks}, HighlightAll=true",
            "scan": MAX_RANKED_MESSAGES,
            "limit": limit,
        }
        sql = _POSTGRES_SEARCH
    else:
        raise NotImplementedError(f"full-text search is not implemented for {dialect}")
    if scope is not None:
        params |= {"projects": list(scope.project_ids), "unowned": scope.unowned}
    rows = session.execute(_statement(sql, scope), params).all()
    ids = [row[0] for row in rows]
    found = session.exec(select(Conversation).where(col(Conversation.id).in_(ids))).all()
    by_id = {conversation.id: conversation for conversation in found}
    return [
        ConversationMatch(by_id[id_], snippet or "", mid, bool(title_match))
        for id_, mid, title_match, snippet in rows
        if id_ in by_id
    ]
