"""Variant (off by default): a learning-rate schedule for reinforcement and decay.

D𝜋's rules move a weight by the same `reinforce_positive` / `reinforce_negative` and decay it
by the same `decay_amount` for the whole run, so on the plateau every step is as large as on
the first day and the network keeps jittering around its optimum (neighbouring evaluations
differ by 0.04-0.1 points). The schedule shrinks both as the run matures:

    amount(P) = trunc(amount * anneal_steps / (anneal_steps + max(0, P - anneal_start))),

at least 1 in size, where P is `positive_learns` when the step starts (the run's age in
positive learning steps, the clock D𝜋's decay already uses). `anneal_start` delays the
shrinking: D𝜋's SONN learns by turnover (pruning weak connections, growing new ones), and
smaller steps slow the pruning, so a schedule that starts at once freezes a young network.
`anneal_steps = 0` (the default) is D𝜋's rule: the amount is used unchanged, bit for bit.
Growth, the learning window and pruning are unchanged.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def annealed(amount: int, positive_learns: int, anneal_steps: int, anneal_start: int) -> int:
    """The scheduled amount (same sign as `amount`); `anneal_steps` <= 0: `amount` itself.

    Exact integer arithmetic: Config keeps |amount| * anneal_steps below 2**62."""
    if anneal_steps <= 0 or amount == 0:
        return amount
    age = positive_learns - anneal_start
    if age <= 0:
        return amount
    size = abs(amount) * anneal_steps // (anneal_steps + age)
    if size < 1:
        size = 1
    return size if amount > 0 else -size
