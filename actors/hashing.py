"""Which shard hosts a room or a user: jump consistent hashing (Lamping & Veach, 2014).

Adding a shard moves only about 1/n of the keys, and every gateway computes the same answer
without asking anyone.
"""


def jump_hash(key: int, buckets: int) -> int:
    if buckets <= 0:
        raise ValueError("buckets must be positive")
    key &= 0xFFFFFFFFFFFFFFFF
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * 2862933555777941757 + 1) & 0xFFFFFFFFFFFFFFFF
        j = int((b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b
