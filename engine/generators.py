"""The two random generators of the SONN, as plain state arrays that numba kernels advance.

- `pcg64`: numpy's PCG64 bit generator and the exact draw algorithms numpy's `Generator`
  uses for `integers`, `choice(replace=False)` and its internal shuffles, so a compiled
  training batch consumes the stream exactly as the step-by-step trainer (numpy calls) does.
  State: uint64[6] = state hi, state lo, inc hi, inc lo, has_uint32, uinteger — the same
  fields as `PCG64().state`, exported and imported losslessly.
- `glibc`: glibc's `rand()` after `srand(seed)` (the `random_r` TYPE_3 additive-feedback
  generator), implemented here rather than called, as D𝜋's program used it.
  State: uint64[35] = the 34-word ring r[i-34..i-1] (at index i % 34) and i at [34].

Kernels draw through `below(state, kind, n)` (a uniform integer in [0, n)) and
`choose_distinct`; `kind` is GEN_PCG64 or GEN_GLIBC. Both are tested draw for draw against
numpy and against the C library's own `rand()`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

GEN_PCG64 = 0
GEN_GLIBC = 1
GENERATORS = ("pcg64", "glibc")

_MULT_HI = np.uint64(0x2360ED051FC65DA4)
_MULT_LO = np.uint64(0x4385DF649FCCF645)
_M32 = np.uint64(0xFFFFFFFF)


# ------------------------------------------------------------------------------ PCG64
@njit(cache=True, inline="always")
def _mul64(a, b):
    """Full 64 x 64 -> 128-bit product as (hi, lo)."""
    a_lo = a & _M32
    a_hi = a >> uint64(32)
    b_lo = b & _M32
    b_hi = b >> uint64(32)
    ll = a_lo * b_lo
    lh = a_lo * b_hi
    hl = a_hi * b_lo
    hh = a_hi * b_hi
    mid = (ll >> uint64(32)) + (lh & _M32) + (hl & _M32)
    lo = (ll & _M32) | ((mid & _M32) << uint64(32))
    hi = hh + (lh >> uint64(32)) + (hl >> uint64(32)) + (mid >> uint64(32))
    return hi, lo


@njit(cache=True)
def pcg64_next64(st):
    """One PCG64 (XSL-RR 128/64) output: step the LCG, then output from the new state."""
    hi, lo = _mul64(st[1], _MULT_LO)
    hi = hi + st[0] * _MULT_LO + st[1] * _MULT_HI
    new_lo = lo + st[3]
    carry = uint64(1) if new_lo < lo else uint64(0)
    st[0] = hi + st[2] + carry
    st[1] = new_lo
    x = st[0] ^ st[1]
    rot = st[0] >> uint64(58)
    return (x >> rot) | (x << ((uint64(64) - rot) & uint64(63)))


@njit(cache=True)
def pcg64_next32(st):
    """numpy's buffered 32-bit draw: the low half of a 64-bit output, the high half next."""
    if st[4] != 0:
        st[4] = uint64(0)
        return st[5]
    v = pcg64_next64(st)
    st[4] = uint64(1)
    st[5] = v >> uint64(32)
    return v & _M32


@njit(cache=True)
def pcg64_bounded(st, rng):
    """numpy's `random_bounded_uint64(0, rng)` (inclusive) for rng < 2**32: Lemire's method."""
    if rng == 0:
        return uint64(0)
    if rng == _M32:
        return pcg64_next32(st)
    rng_excl = rng + uint64(1)
    m = pcg64_next32(st) * rng_excl
    leftover = m & _M32
    if leftover < rng_excl:
        threshold = (_M32 - rng) % rng_excl
        while leftover < threshold:
            m = pcg64_next32(st) * rng_excl
            leftover = m & _M32
    return m >> uint64(32)


def pcg64_state_array(rng: np.random.Generator) -> np.ndarray:
    """Export a numpy PCG64 Generator's full state (buffered half included)."""
    s = rng.bit_generator.state
    if s["bit_generator"] != "PCG64":
        raise ValueError(f"expected a PCG64 generator, got {s['bit_generator']}")
    state, inc = int(s["state"]["state"]), int(s["state"]["inc"])
    return np.array([state >> 64, state & (2**64 - 1), inc >> 64, inc & (2**64 - 1),
                     int(s["has_uint32"]), int(s["uinteger"])], dtype=np.uint64)


def pcg64_load_state(rng: np.random.Generator, st: np.ndarray) -> None:
    """Write a state array back into a numpy PCG64 Generator."""
    st = [int(v) for v in st]
    rng.bit_generator.state = {
        "bit_generator": "PCG64",
        "state": {"state": (st[0] << 64) | st[1], "inc": (st[2] << 64) | st[3]},
        "has_uint32": st[4], "uinteger": st[5]}


# ------------------------------------------------------------------------------ glibc
def glibc_state(seed: int) -> np.ndarray:
    """`srand(seed)`: the 16807 generator fills 31 words, then 310 outputs are discarded."""
    seed = int(seed) & 0xFFFFFFFF
    if seed == 0:
        seed = 1
    r = [0] * 34
    word = seed - 2**32 if seed >= 2**31 else seed      # int32_t word = seed
    r[0] = word
    for i in range(1, 31):
        hi = int(word / 127773)                           # C division truncates toward 0
        lo = word - hi * 127773
        word = 16807 * lo - 2836 * hi
        if word < 0:
            word += 2147483647
        r[i] = word
    for i in range(31, 34):
        r[i] = r[i - 31]
    st = np.zeros(35, dtype=np.uint64)
    st[:34] = [v & 0xFFFFFFFF for v in r]
    st[34] = 34
    for _ in range(310):
        glibc_rand(st)
    return st


@njit(cache=True)
def glibc_rand(st):
    """One `rand()`: r[i] = (r[i-31] + r[i-3]) mod 2**32, output r[i] >> 1."""
    i = st[34]
    v = (st[(i - uint64(31)) % uint64(34)] + st[(i - uint64(3)) % uint64(34)]) & _M32
    st[i % uint64(34)] = v
    st[34] = uint64(34) + (i + uint64(1)) % uint64(34)   # only i mod 34 matters
    return np.int64(v >> uint64(1))


# ------------------------------------------------------------------------ one interface
@njit(cache=True)
def below(st, kind, n):
    """A uniform integer in [0, n): numpy's `integers(0, n)` or D𝜋's `rnd(n) = rand() % n`."""
    if kind == GEN_GLIBC:
        return glibc_rand(st) % np.int64(n)
    return np.int64(pcg64_bounded(st, uint64(n - 1)))


@njit(cache=True)
def choose_distinct(st, kind, pop, size, out):
    """`size` distinct values of [0, pop) into out[:size], as `Generator.choice(pop, size,
    replace=False)` draws them: Floyd's algorithm then a shuffle, or a tail shuffle for large
    populations, all with Lemire's bounded draws. With glibc they run on `rand() % n`."""
    if size == 0:
        return
    if pop > 10000 and size > pop // 50:
        idx = np.arange(pop)
        for i in range(pop - 1, max(pop - size, 1) - 1, -1):
            j = _bounded(st, kind, i)
            t = idx[j]
            idx[j] = idx[i]
            idx[i] = t
        out[:size] = idx[pop - size:]
        return
    set_size = np.int64(1.2 * size)
    mask = set_size
    for s in (1, 2, 4, 8, 16, 32):
        mask |= mask >> s
    table = np.full(mask + 1, -1, dtype=np.int64)
    for j in range(pop - size, pop):
        val = _bounded(st, kind, j)
        loc = val & mask
        while table[loc] != -1 and table[loc] != val:
            loc = (loc + 1) & mask
        if table[loc] == -1:
            table[loc] = val
            out[j - pop + size] = val
        else:
            loc = j & mask
            while table[loc] != -1:
                loc = (loc + 1) & mask
            table[loc] = j
            out[j - pop + size] = j
    for i in range(size - 1, 0, -1):
        j = _bounded(st, kind, i)
        t = out[j]
        out[j] = out[i]
        out[i] = t


@njit(cache=True, inline="always")
def _bounded(st, kind, mx):
    if kind == GEN_GLIBC:
        return glibc_rand(st) % (mx + 1)
    return np.int64(pcg64_bounded(st, uint64(mx)))


@njit(cache=True)
def glibc_fill(st, out):
    """out[i] = successive `rand()` values (for checks against the C library)."""
    for i in range(out.shape[0]):
        out[i] = glibc_rand(st)
