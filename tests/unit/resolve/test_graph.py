"""The person graph (SPEC 4.2), pure parts: nodes, person keys, connected components, shared devices."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from include.scoring.core.config import load_config
from include.scoring.resolve.graph import (
    CONTACT,
    COOKIE,
    EMAIL,
    build_graph,
    dedupe_edges,
    node,
    or_own_key,
    person_key,
    persons_of,
)

D = date(2026, 7, 1)
LIMIT = load_config().identity.max_emails_per_cookie  # 3 by default (SPEC 4.2)


def _edges(pairs: list[tuple[str, str]], first_seen: date | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "a": pd.Series([a for a, _ in pairs], dtype="string"),
            "b": pd.Series([b for _, b in pairs], dtype="string"),
        }
    )
    if first_seen is not None:
        frame["first_seen"] = first_seen
    return frame


NO_EDGES = _edges([], D).astype({"first_seen": "object"})


def _key(value: str) -> str:
    return person_key(pd.Series([value], dtype="string")).iat[0]


def test_node_prefixes_the_rank_and_keeps_nulls():
    out = node(EMAIL, pd.Series(["a@x.com", None], dtype="object"))
    assert out.iat[0] == "2:a@x.com" and pd.isna(out.iat[1])
    assert node(CONTACT, pd.Series(["C1"])).iat[0] == "1:C1"
    assert node(COOKIE, pd.Series(["k1"])).iat[0] == "3:k1"


def test_person_key_is_a_fixed_hash_of_the_node():
    keys = person_key(pd.Series(["2:a@x.com", None, "2:a@x.com", "3:c1"], dtype="object"))
    assert keys.iat[0] == keys.iat[2]  # same identifier, same key
    assert keys.iat[0] != keys.iat[3]
    assert pd.isna(keys.iat[1])
    # built from pandas' hash with its fixed default key (not Python's per-process salted hash()):
    # the same identifier gets the same key in every run
    expected = "p" + str(pd.util.hash_array(np.array(["2:a@x.com"], dtype=object))[0])
    assert keys.iat[0] == expected


def test_components_are_persons_keyed_by_their_smallest_node():
    # C1 - a@ - k1 is one person; b@ - k2 another. Ranks sort contact < email < cookie, so the
    # first person's key is that of its contact id, the second's that of its email.
    g = build_graph(NO_EDGES, _edges([("2:a@x.com", "3:k1"), ("1:C1", "2:a@x.com"), ("3:k2", "2:b@x.com")]), D, LIMIT)
    p = g.person_of
    assert p["1:C1"] == p["2:a@x.com"] == p["3:k1"] == _key("1:C1")
    assert p["2:b@x.com"] == p["3:k2"] == _key("2:b@x.com")
    assert p["3:k1"] != p["3:k2"]


def test_person_keys_do_not_depend_on_edge_order_or_direction():
    pairs = [("2:a@x.com", "3:k1"), ("3:k1", "2:c@x.com"), ("2:c@x.com", "3:k9")]
    forward = build_graph(NO_EDGES, _edges(pairs), D, LIMIT).person_of
    backward = build_graph(NO_EDGES, _edges([(b, a) for a, b in reversed(pairs)]), D, LIMIT).person_of
    assert forward.sort_index().to_dict() == backward.sort_index().to_dict()
    assert set(forward) == {_key("2:a@x.com")}  # "2:a@x.com" is the smallest of the four nodes


def test_edges_are_stored_once_smaller_node_first_with_the_earliest_first_seen():
    previous = _edges([("3:k1", "2:a@x.com")], D - timedelta(days=5))
    today = _edges([("2:a@x.com", "3:k1"), ("2:z@x.com", "2:z@x.com")])  # a repeat (other way round), a self-loop
    g = build_graph(previous, today, D, LIMIT)
    assert g.edges[["a", "b"]].values.tolist() == [["2:a@x.com", "3:k1"]]
    assert g.edges["first_seen"].tolist() == [D - timedelta(days=5)]


def test_a_cookie_with_up_to_the_limit_of_emails_still_links():
    pairs = [(f"2:e{i}@x.com", "3:k") for i in range(LIMIT)]
    g = build_graph(NO_EDGES, _edges(pairs), D, LIMIT)
    assert g.shared_cookies.empty
    assert g.person_of[[a for a, _ in pairs]].nunique() == 1


def test_a_cookie_over_the_limit_is_a_shared_device_and_links_nothing():
    pairs = [(f"2:e{i}@x.com", "3:k") for i in range(LIMIT + 1)] + [("2:e0@x.com", "3:other")]
    g = build_graph(NO_EDGES, _edges(pairs), D, LIMIT)
    assert g.shared_cookies.values.tolist() == [["3:k", LIMIT + 1]]
    assert g.newly_shared.values.tolist() == [["3:k", LIMIT + 1]]
    # the shared cookie is in no person; the emails do not merge through it
    assert "3:k" not in g.person_of.index
    assert set(g.person_of.index) == {"2:e0@x.com", "3:other"}  # only the edge not through the device remains
    assert g.person_of["2:e0@x.com"] == g.person_of["3:other"]


def test_newly_shared_only_on_the_day_the_cookie_crosses_the_limit():
    before = _edges([(f"2:e{i}@x.com", "3:k") for i in range(LIMIT)], D - timedelta(days=1))
    crossing = build_graph(before, _edges([("2:new@x.com", "3:k")]), D, LIMIT)
    assert crossing.newly_shared["node"].tolist() == ["3:k"]
    next_day = build_graph(crossing.edges, _edges([]), D + timedelta(days=1), LIMIT)
    assert next_day.shared_cookies["node"].tolist() == ["3:k"]
    assert next_day.newly_shared.empty


def test_the_graph_persists_a_cookie_identified_earlier_resolves_later():
    monday = build_graph(NO_EDGES, _edges([("2:a@x.com", "3:k1")]), D, LIMIT)
    friday = build_graph(monday.edges, _edges([]), D + timedelta(days=4), LIMIT)  # only anonymous visits on Friday
    keys = persons_of(pd.Series(["3:k1", "2:a@x.com", "3:stranger"], dtype="string"), friday)
    assert keys.iat[0] == keys.iat[1] == _key("2:a@x.com")
    assert keys.iat[2] == _key("3:stranger")  # linked to nothing: its own key


def test_or_own_key_keeps_known_keys_and_hashes_only_the_rest():
    nodes = pd.Series(["2:a@x.com", "3:ck1", None, "2:b@y.com"], dtype="string", index=[4, 5, 6, 7])
    mapped = pd.Series(["pKNOWN", None, None, None], dtype="string", index=[4, 5, 6, 7])
    out = or_own_key(mapped, nodes)
    own = person_key(nodes)
    assert out[4] == "pKNOWN"
    assert out[5] == own[5] and out[7] == own[7]
    assert pd.isna(out[6])
    assert list(out.index) == [4, 5, 6, 7]


def test_dedupe_edges_keeps_one_link_per_pair_with_its_earliest_day_in_sorted_order():
    rng = np.random.default_rng(7)
    ids = [f"2:e{i}@x.com" for i in range(6)] + [f"3:k{i}" for i in range(6)] + [None]
    edges = pd.DataFrame(
        {
            "a": pd.Series(rng.choice(ids, 400), dtype="string"),
            "b": pd.Series(rng.choice(ids, 400), dtype="string"),
            "first_seen": [D - timedelta(days=int(x)) for x in rng.integers(0, 9, 400)],
        }
    )
    out = dedupe_edges(edges)
    ok = edges.dropna(subset=["a", "b"])
    ok = ok[ok["a"] != ok["b"]]
    pairs = {tuple(sorted(p)) for p in zip(ok["a"], ok["b"], strict=True)}
    assert list(zip(out["a"], out["b"], strict=True)) == sorted(pairs)
    for a, b, seen in out.itertuples(index=False):
        both = ((ok["a"] == a) & (ok["b"] == b)) | ((ok["a"] == b) & (ok["b"] == a))
        assert seen == min(ok.loc[both, "first_seen"])
