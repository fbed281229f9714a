"""Go's ``sort.Slice`` (pattern-defeating quicksort, Go ≥ 1.19), step for step.

istioctl sorts with it, and it is not stable; some of istioctl's comparators leave ties
(listener matches with one destination) or are not even orders (route configs: only numeric
names compare). Its output then depends on the order of the input, so :func:`go_sort_slice`
replays Go's algorithm with the same comparisons and swaps on the input istioctl would have
seen: dynamic resources first, then static ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def go_sort_slice(data: list[T], less: Callable[[T, T], bool]) -> None:
    """Go's ``sort.Slice`` (pdqsort, Go ≥ 1.19), in place, with the same comparisons and swaps.

    Needed because istioctl's sorts are unstable and some of its comparators are not orders.
    """
    n = len(data)
    if n > 1:
        _pdqsort(data, less, 0, n, n.bit_length())


def _insertion_sort(d: list[Any], less: Callable[[Any, Any], bool], a: int, b: int) -> None:
    for i in range(a + 1, b):
        j = i
        while j > a and less(d[j], d[j - 1]):
            d[j], d[j - 1] = d[j - 1], d[j]
            j -= 1


def _sift_down(d: list[Any], less: Callable[[Any, Any], bool], lo: int, hi: int, first: int) -> None:
    root = lo
    while True:
        child = 2 * root + 1
        if child >= hi:
            return
        if child + 1 < hi and less(d[first + child], d[first + child + 1]):
            child += 1
        if not less(d[first + root], d[first + child]):
            return
        d[first + root], d[first + child] = d[first + child], d[first + root]
        root = child


def _heap_sort(d: list[Any], less: Callable[[Any, Any], bool], a: int, b: int) -> None:
    first, lo, hi = a, 0, b - a
    for i in range((hi - 1) // 2, -1, -1):
        _sift_down(d, less, i, hi, first)
    for i in range(hi - 1, -1, -1):
        d[first], d[first + i] = d[first + i], d[first]
        _sift_down(d, less, lo, i, first)


_UNKNOWN_HINT, _INCREASING_HINT, _DECREASING_HINT = 0, 1, 2
_MASK64 = (1 << 64) - 1


def _pdqsort(d: list[Any], less: Callable[[Any, Any], bool], a: int, b: int, limit: int) -> None:
    max_insertion = 12
    was_balanced = was_partitioned = True
    while True:
        length = b - a
        if length <= max_insertion:
            _insertion_sort(d, less, a, b)
            return
        if limit == 0:
            _heap_sort(d, less, a, b)
            return
        if not was_balanced:
            _break_patterns(d, a, b)
            limit -= 1
        pivot, hint = _choose_pivot(d, less, a, b)
        if hint == _DECREASING_HINT:
            _reverse_range(d, a, b)
            pivot = (b - 1) - (pivot - a)
            hint = _INCREASING_HINT
        if was_balanced and was_partitioned and hint == _INCREASING_HINT:
            if _partial_insertion_sort(d, less, a, b):
                return
        if a > 0 and not less(d[a - 1], d[pivot]):
            a = _partition_equal(d, less, a, b, pivot)
            continue
        mid, already = _partition(d, less, a, b, pivot)
        was_partitioned = already
        left, right = mid - a, b - mid
        threshold = length // 8
        if left < right:
            was_balanced = left >= threshold
            _pdqsort(d, less, a, mid, limit)
            a = mid + 1
        else:
            was_balanced = right >= threshold
            _pdqsort(d, less, mid + 1, b, limit)
            b = mid


def _partition(d: list[Any], less: Callable[[Any, Any], bool], a: int, b: int, pivot: int) -> tuple[int, bool]:
    d[a], d[pivot] = d[pivot], d[a]
    i, j = a + 1, b - 1
    while i <= j and less(d[i], d[a]):
        i += 1
    while i <= j and not less(d[j], d[a]):
        j -= 1
    if i > j:
        d[j], d[a] = d[a], d[j]
        return j, True
    d[i], d[j] = d[j], d[i]
    i += 1
    j -= 1
    while True:
        while i <= j and less(d[i], d[a]):
            i += 1
        while i <= j and not less(d[j], d[a]):
            j -= 1
        if i > j:
            break
        d[i], d[j] = d[j], d[i]
        i += 1
        j -= 1
    d[j], d[a] = d[a], d[j]
    return j, False


def _partition_equal(d: list[Any], less: Callable[[Any, Any], bool], a: int, b: int, pivot: int) -> int:
    d[a], d[pivot] = d[pivot], d[a]
    i, j = a + 1, b - 1
    while True:
        while i <= j and not less(d[a], d[i]):
            i += 1
        while i <= j and less(d[a], d[j]):
            j -= 1
        if i > j:
            break
        d[i], d[j] = d[j], d[i]
        i += 1
        j -= 1
    return i


def _partial_insertion_sort(d: list[Any], less: Callable[[Any, Any], bool], a: int, b: int) -> bool:
    max_steps, shortest_shifting = 5, 50
    i = a + 1
    for _ in range(max_steps):
        while i < b and not less(d[i], d[i - 1]):
            i += 1
        if i == b:
            return True
        if b - a < shortest_shifting:
            return False
        d[i], d[i - 1] = d[i - 1], d[i]
        if i - a >= 2:
            j = i - 1
            while j >= 1:
                if not less(d[j], d[j - 1]):
                    break
                d[j], d[j - 1] = d[j - 1], d[j]
                j -= 1
        if b - i >= 2:
            j = i + 1
            while j < b:
                if not less(d[j], d[j - 1]):
                    break
                d[j], d[j - 1] = d[j - 1], d[j]
                j += 1
    return False


def _break_patterns(d: list[Any], a: int, b: int) -> None:
    length = b - a
    if length >= 8:
        rnd = length
        modulus = 1 << length.bit_length()
        idx = a + (length // 4) * 2 - 1
        while idx <= a + (length // 4) * 2 + 1:
            rnd ^= (rnd << 13) & _MASK64
            rnd ^= rnd >> 7
            rnd ^= (rnd << 17) & _MASK64
            other = rnd & (modulus - 1)
            if other >= length:
                other -= length
            d[idx], d[a + other] = d[a + other], d[idx]
            idx += 1


def _choose_pivot(d: list[Any], less: Callable[[Any, Any], bool], a: int, b: int) -> tuple[int, int]:
    shortest_ninther, max_swaps = 50, 4 * 3
    n = b - a
    swaps = [0]
    i, j, k = a + n // 4 * 1, a + n // 4 * 2, a + n // 4 * 3
    if n >= 8:
        if n >= shortest_ninther:
            i = _median(d, less, i - 1, i, i + 1, swaps)
            j = _median(d, less, j - 1, j, j + 1, swaps)
            k = _median(d, less, k - 1, k, k + 1, swaps)
        j = _median(d, less, i, j, k, swaps)
    if swaps[0] == 0:
        return j, _INCREASING_HINT
    if swaps[0] == max_swaps:
        return j, _DECREASING_HINT
    return j, _UNKNOWN_HINT


def _median(d: list[Any], less: Callable[[Any, Any], bool], a: int, b: int, c: int, swaps: list[int]) -> int:
    def order2(x: int, y: int) -> tuple[int, int]:
        if less(d[y], d[x]):
            swaps[0] += 1
            return y, x
        return x, y

    a, b = order2(a, b)
    b, c = order2(b, c)
    a, b = order2(a, b)
    return b


def _reverse_range(d: list[Any], a: int, b: int) -> None:
    i, j = a, b - 1
    while i < j:
        d[i], d[j] = d[j], d[i]
        i += 1
        j -= 1
