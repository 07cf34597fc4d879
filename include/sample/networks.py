"""The reference IP ranges: which networks belong to which accounts, and which are ISPs, mobile
carriers, VPNs or hosting, so that IP-based identity resolution has something to get right and
something to get wrong."""

from __future__ import annotations

import ipaddress

import numpy as np
import pandas as pd


def ip_ranges(accounts: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Corporate /24s (some IPv6 /48s) per account, plus ISP, mobile, VPN and hosting ranges, and
    per account the integer base address of its /24 (-1 for an account with no range).

    An ISP range deliberately overlaps some corporate ranges: longest prefix must win.
    """
    n = len(accounts)
    corp_net = np.full(n, -1, dtype=np.int64)
    rows = []
    base = int(ipaddress.IPv4Address("20.0.0.0"))
    k = 0
    for i in np.flatnonzero(accounts["has_range"].to_numpy()):
        net = base + k * 256
        corp_net[i] = net
        k += 1
        rows.append(
            (f"{ipaddress.IPv4Address(net)}/24", accounts.true_domain.iat[i], accounts.name.iat[i].strip(), "corporate")
        )
        if accounts.has_v6.iat[i]:
            rows.append((f"2001:db8:{k:x}::/48", accounts.true_domain.iat[i], None, "corporate"))
    rows += [
        ("20.0.0.0/12", None, "Overlap Telecom", "isp"),  # contains most corporate /24s
        ("70.0.0.0/8", None, "Big Cable ISP", "isp"),
        ("80.0.0.0/12", None, "Euro Broadband", "isp"),
        ("100.64.0.0/10", None, "Mobile Carrier", "mobile"),
        ("185.10.0.0/16", None, "Private VPN Co", "vpn"),
        ("17.0.0.0/8", None, "Mail Privacy Proxy", "hosting"),
        ("2001:db8::/32", None, "IPv6 Transit", "isp"),
        ("2a02:c7f::/32", None, "IPv6 Mobile", "mobile"),
        ("45.0.0.0/16", "outsider0.example.net", "Outsider Holdings 0 Ltd", "corporate"),
    ]
    df = pd.DataFrame(rows, columns=["cidr", "company_domain", "company_name", "kind"])
    return df, corp_net
