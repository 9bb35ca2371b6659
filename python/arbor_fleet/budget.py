"""scx_arbor's walk budget for a boosted ensemble, before training: with
k classes a booster grows one tree per class and round (one per round for
two classes), and a decision walks depth + 1 nodes of every tree. The
loader's own check of the exported file (`model inspect`) is the last word;
this one says what to change before any time is spent."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    rounds: int
    max_depth: int
    n_classes: int

    @property
    def trees_per_round(self):
        return self.n_classes if self.n_classes > 2 else 1

    @property
    def trees(self):
        return self.rounds * self.trees_per_round

    @property
    def walk(self):
        return self.trees * (self.max_depth + 1)

    @property
    def nodes(self):
        return self.trees * (2 ** (self.max_depth + 1) - 1)

    @property
    def leaves(self):
        return self.trees * 2 ** self.max_depth


def problems(shape, schema):
    """Every limit a full-grown ensemble of this shape would exceed (empty if it fits)."""
    s, out = shape, []
    if s.max_depth > schema.max_depth:
        out.append(f"depth {s.max_depth} > {schema.max_depth}")
    if s.trees > schema.max_trees:
        out.append(f"{s.trees} trees > {schema.max_trees}")
    if s.walk > schema.max_walk:
        out.append(f"a decision walks up to {s.walk} nodes > {schema.max_walk}")
    if s.nodes > schema.max_nodes:
        out.append(f"up to {s.nodes} nodes > {schema.max_nodes}")
    if s.leaves > schema.max_leaves:
        out.append(f"up to {s.leaves} leaves > {schema.max_leaves}")
    return out


def most_rounds(max_depth, n_classes, schema):
    """The most rounds of this depth that fit (0 if none)."""
    r = 0
    while not problems(Shape(r + 1, max_depth, n_classes), schema):
        r += 1
        if r > 100_000:
            break
    return r
