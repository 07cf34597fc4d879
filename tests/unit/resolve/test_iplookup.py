"""Reverse IP (SPEC 4.4): each address gets the row of its longest matching CIDR, -1 when none."""

from __future__ import annotations

import pandas as pd

from include.scoring.resolve.iplookup import match_ip_ranges


def _match(ips: list, cidrs: list[str]) -> list[int]:
    return match_ip_ranges(pd.Series(ips, dtype="object"), pd.DataFrame({"cidr": cidrs})).tolist()


def test_ipv4_longest_prefix_wins_whatever_the_row_order():
    # 20.0.5.9 is in both 20.0.0.0/12 and 20.0.5.0/24: the /24 is longer
    assert _match(["20.0.5.9", "20.15.0.1", "20.16.0.1"], ["20.0.0.0/12", "20.0.5.0/24"]) == [1, 0, -1]
    assert _match(["20.0.5.9", "20.15.0.1", "20.16.0.1"], ["20.0.5.0/24", "20.0.0.0/12"]) == [0, 1, -1]


def test_prefix_boundaries():
    # 10.0.0.0/30 holds 10.0.0.0 .. 10.0.0.3 only
    assert _match(["10.0.0.0", "10.0.0.3", "10.0.0.4", "9.255.255.255"], ["10.0.0.0/30"]) == [0, 0, -1, -1]
    # a CIDR without a prefix is a single host (/32)
    assert _match(["10.1.2.3", "10.1.2.4"], ["10.1.2.3"]) == [0, -1]


def test_default_route_catches_every_ipv4_address_but_nothing_more_specific():
    assert _match(["1.2.3.4", "20.0.5.1", "2001:db8::1"], ["0.0.0.0/0", "20.0.5.0/24"]) == [0, 1, -1]


def test_ipv6_longest_prefix():
    cidrs = ["2001:db8::/32", "2001:db8:5::/48"]
    assert _match(["2001:db8:5::1", "2001:db8:6::1", "2001:db9::1"], cidrs) == [1, 0, -1]


def test_ipv6_prefixes_longer_than_64_bits_and_host_routes():
    # two /80 ranges share the same upper 64 bits: the lower bits decide
    cidrs = ["2001:db8:5::/48", "2001:db8:5:0:1::/80", "2001:db8:5:0:2::/80", "2001:db8:5:0:2::7/128"]
    ips = ["2001:DB8:5:0:1::9", "2001:db8:5:0:2::9", "2001:db8:5:0:2::7", "2001:db8:5:0:3::1"]
    assert _match(ips, cidrs) == [1, 2, 3, 0]


def test_what_is_not_an_address_matches_nothing():
    cidrs = ["0.0.0.0/0", "::/0"]
    assert _match([None, "x", "256.1.1.1", "1.2.3", ""], cidrs) == [-1, -1, -1, -1, -1]


def test_addresses_and_cidrs_are_trimmed():
    assert _match([" 45.0.1.1 "], [" 45.0.0.0/16 "]) == [0]


def test_invalid_cidr_rows_are_skipped_and_row_numbers_stay_positional():
    # row 0 is not a network, row 1 has an octet over 255: neither matches, row 2 still is row 2
    assert _match(["45.0.1.1", "1.1.1.1"], ["bogus", "300.1.1.1/8", "45.0.0.0/16"]) == [2, -1]


def test_repeated_cidr_gives_its_first_row():
    assert _match(["20.0.5.1"], ["20.0.5.0/24", "20.0.0.0/8", "20.0.5.0/24"]) == [0]


def test_no_ranges_and_the_index_is_kept():
    ips = pd.Series(["1.2.3.4", None], index=[7, 9], dtype="object")
    out = match_ip_ranges(ips, pd.DataFrame({"cidr": pd.Series([], dtype="object")}))
    assert out.tolist() == [-1, -1] and list(out.index) == [7, 9]
