"""Leave-hosts-out: which hosts are held out of training. A model is judged
on machines it never saw, not on other rows of machines it trained on (rows
of one host are far from independent: same tasks, same minutes)."""

import hashlib
import math


def choose_holdout(hosts, named=None, share=0.25, seed=0):
    """Held-out hosts: the `named` ones, or ceil(share x hosts) chosen by a
    seeded hash of their names (stable when hosts are added). At least one
    host is held out and at least one is trained on."""
    hosts = sorted(set(hosts))
    if len(hosts) < 2:
        raise ValueError(f"leave-hosts-out needs at least 2 hosts, the samples name {hosts}")
    if named:
        unknown = sorted(set(named) - set(hosts))
        if unknown:
            raise ValueError(f"--holdout-hosts names {unknown}, not among the hosts {hosts}")
        held = sorted(set(named))
    else:
        if not 0 < share < 1:
            raise ValueError("--holdout-share must be in (0, 1)")
        k = min(len(hosts) - 1, max(1, math.ceil(share * len(hosts))))
        ranked = sorted(hosts, key=lambda h: hashlib.sha256(f"{seed}:{h}".encode()).hexdigest())
        held = sorted(ranked[:k])
    if len(held) == len(hosts):
        raise ValueError("every host is held out: nothing is left to train on")
    return held
