"""Ids: 26 Crockford base32 characters of a 128-bit value, most significant first, time-ordered."""
import random

from loyalty import ids


def five_bits_at_a_time(value: int) -> str:
    """The encoding spelled out: the lowest 5 bits are the last character."""
    chars = []
    for _ in range(26):
        chars.append(ids.CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def test_the_encoding_is_crockford_base32_of_the_whole_value():
    rng = random.Random(21)
    for value in [0, 1, 31, 32, (1 << 128) - 1, 1 << 127] + [rng.getrandbits(128) for _ in range(2000)]:
        assert ids._crockford26(value) == five_bits_at_a_time(value)


def test_ids_made_one_after_another_only_grow():
    made = [ids.new_id("pur") for _ in range(5000)]
    assert made == sorted(made) and len(set(made)) == len(made)
    assert all(len(made_id) == 30 and made_id.startswith("pur_") for made_id in made)


def test_ids_made_many_at_once_are_what_new_id_makes_one_at_a_time():
    """new_ids (imports): the same encoding of a 48-bit time and 80 random bits, and ids keep
    growing across new_id and new_ids calls in any mix."""
    made = ids.new_ids("pur", 3) + [ids.new_id("pur")] + ids.new_ids("pur", 2000) + [ids.new_id("pur")]
    assert made == sorted(made) and len(set(made)) == len(made)
    assert all(len(made_id) == 30 and made_id.startswith("pur_") for made_id in made)
    assert ids.new_ids("pur", 0) == []
    for made_id in made[:50]:
        value = int("".join(format(ids.CROCKFORD.index(ch), "05b") for ch in made_id[4:]), 2)
        assert ids._crockford26(value) == made_id[4:]
